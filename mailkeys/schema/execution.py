"""Running one GraphQL operation: every step of the pipeline as a plain call, in one place.

Strawberry runs each schema extension as a context manager around each phase of every
request; with the eight steps this service needs (error mapping, the request log's
operation, the token limit, a parse and a validation cache, the depth and alias rules, the
anonymous budget, the introspection cache) that machinery cost more than the operation
itself under load (bench/profile.py). Here the same steps run in order, without it:

1. parse, limited to `max_tokens`, and validate with the schema's rules: both done once per
   query text (short texts only: a cache must not hold megabytes of someone's input);
2. the operation's type must be one the transport allows (no mutation over GET);
3. an anonymous caller's budget, then the introspection answer from memory, else execution;
4. errors mapped to their codes (`ErrorMapping`), and the outcome noted for the request log.

Strawberry still builds the schema, converts the types and wraps every resolver; only the
request loop around graphql-core's `execute` is ours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, TypeGuard, cast

from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql import ExecutionResult as CoreResult
from graphql import execute as execute  # re-exported: tests count executions through it
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import max_aliases, query_depth_limiter
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from mailkeys.schema.errors import ErrorMapping
from mailkeys.schema.introspection import (
    IntrospectionAnswers,
    anonymous_refusal,
    is_introspection,
    root_field_names,
)
from mailkeys.schema.observation import observe_operation, root_fields
from mailkeys.settings import Settings

# Query texts longer than this are parsed and validated every time rather than cached.
CACHED_TEXT_CHARS = 16_384
_CACHED_TEXTS = 512
_DEFAULT_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION})


@dataclass(frozen=True)
class Limits:
    """What a document may be: its size in tokens, its depth, its aliases; and whether
    introspection is answered at all."""

    max_tokens: int
    max_depth: int
    max_aliases: int
    introspection: bool
    anonymous_per_minute: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits the settings ask for."""
        return cls(
            settings.max_tokens,
            settings.max_query_depth,
            settings.max_aliases,
            settings.introspection,
            settings.anonymous_per_minute,
        )


@dataclass
class Prepared:
    """A query text parsed and validated, and what its operations are, worked out once."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    _operations: dict[str | None, _Operation] = field(default_factory=dict)

    def operation(self, schema: Any, document: DocumentNode, name: str | None) -> _Operation:
        """The operation `name` selects (None: the only one), with its names worked out."""
        found = self._operations.get(name)
        if found is None:
            node = get_operation_ast(document, name)
            roots = root_field_names(node)
            label = root_fields(schema, node) if node is not None else None
            found = self._operations[name] = _Operation(node, roots, label)
        return found


@dataclass(frozen=True)
class _Operation:
    node: OperationDefinitionNode | None
    roots: frozenset[str] | None
    label: str | None


class OperationRunner:
    """Runs operations against one schema with one set of limits (one per schema)."""

    def __init__(self, schema: Any, limits: Limits) -> None:
        self._schema = schema
        self._limits = limits
        rules: list[type[ASTValidationRule]] = [
            *specified_rules,
            # Built once: these factories make a new rule class per call.
            query_depth_limiter.create_validator(limits.max_depth, None, None),
            max_aliases.create_validator(limits.max_aliases),
        ]
        if not limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self._rules = tuple(rules)
        self._prepared: LRUCache[str, Prepared] = LRUCache(maxsize=_CACHED_TEXTS)
        self.answers = IntrospectionAnswers()

    def prepare(self, query: str) -> Prepared:
        """The text parsed and validated (from the cache for a short text seen before)."""
        prepared = self._prepared.get(query)
        if prepared is not None:
            return prepared
        try:
            document = parse(query, max_tokens=self._limits.max_tokens)
        except GraphQLError as error:
            prepared = Prepared(None, [error])
        else:
            errors = validate(self._schema._schema, document, self._rules)
            prepared = Prepared(document, errors)
        if len(query) <= CACHED_TEXT_CHARS:
            self._prepared[query] = prepared
        return prepared

    async def run(
        self,
        query: str | None,
        variables: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
        allowed: Iterable[OperationType] | None,
    ) -> ExecutionResult:
        """One operation, as Strawberry's `Schema.execute` answers it.

        Raises:
            MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError: the
                request is not a GraphQL operation the transport may run (the view answers
                400 or 405, before any execution).
        """
        if not query:
            raise MissingQueryError
        schema = self._schema
        prepared = self.prepare(query)
        context = ExecutionContext(
            query=query,
            schema=schema,
            allowed_operations=allowed or _DEFAULT_TYPES,
            context=context_value,
            root_value=root_value,
            variables=variables,
            provided_operation_name=operation_name,
            validation_rules=self._rules,
        )
        context.graphql_document = prepared.document
        operation = None
        if prepared.document is None:
            result = CoreResult(data=None, errors=prepared.errors)
        else:
            # Strawberry's order: a document of the wrong type is refused before its errors.
            _check_type(prepared.document, operation_name, context.allowed_operations)
            operation = prepared.operation(schema._schema, prepared.document, operation_name)
            if prepared.errors:
                result = CoreResult(data=None, errors=prepared.errors)
            else:
                result = await self._execute(context, prepared.document, operation)
        errors = ErrorMapping(context).map_all(result.errors) if result.errors else None
        observe_operation(
            context.operation_name,
            operation.label if operation is not None else None,
            errors,
        )
        return ExecutionResult(data=result.data, errors=errors)

    async def _execute(
        self, context: ExecutionContext, document: DocumentNode, operation: _Operation
    ) -> CoreResult:
        try:
            refusal = await anonymous_refusal(
                context.context, operation.roots, self._limits.anonymous_per_minute
            )
            if refusal is not None:
                return refusal
            key = None
            if is_introspection(operation.roots):
                query = context.query or ""
                key = self.answers.key(query, context.operation_name, context.variables)
                cached = self.answers.get(key)
                if cached is not None:
                    return cached
            outcome = execute(
                self._schema._schema,
                document,
                root_value=context.root_value,
                context_value=context.context,
                variable_values=context.variables,
                operation_name=context.operation_name,
                is_awaitable=cast(
                    "Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable
                ),
            )
            result = await outcome if isawaitable(outcome) else outcome
        except Exception as error:  # as Strawberry does: a fault is an error of the result
            wrapped = error if isinstance(error, GraphQLError) else None
            return CoreResult(
                data=None, errors=[wrapped or GraphQLError(str(error), original_error=error)]
            )
        if key is not None:
            self.answers.put(key, result)
        return result


def _check_type(
    document: DocumentNode, operation_name: str | None, allowed: Iterable[OperationType]
) -> None:
    try:
        operation_type = get_operation_type(document, operation_name)
    except RuntimeError as error:
        raise CannotGetOperationTypeError(operation_name) from error
    if operation_type not in allowed:
        raise InvalidOperationTypeError(operation_type)
