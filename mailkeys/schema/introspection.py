"""Introspection answered once per schema, and a per-address budget for anonymous callers.

The schema never changes while the process runs, so the answer to an introspection-only
document (the standard introspection query GraphiQL and code generators send, `__type`
lookups) is computed once and served from memory after that: about 150 KB that otherwise
cost some 60 ms of CPU to build, every time, for anyone.

Callers without a valid credential (no `Authorization`, or one that does not authenticate)
share a budget of GraphQL operations per minute per client address, counted by the same
rate limiter as the keys' own budgets (shared by every worker through Redis when configured).
A document that selects only `__typename` is free, so a load balancer's health probe is never
starved. A spent budget answers RATE_LIMITED (429, Retry-After). Authenticated requests are
not counted: their keys have budgets of their own.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from mailkeys.errors import RateLimitedError
from mailkeys.telemetry import metrics

_INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
_CACHED_DOCUMENTS = 32


def _root_field_names(document: DocumentNode | None, operation_name: str | None) -> set[str] | None:
    """The names of the operation's root fields, or None if any root selection is not a
    plain field (a fragment) or there is no such operation."""
    operation: OperationDefinitionNode | None = (
        get_operation_ast(document, operation_name) if document is not None else None
    )
    if operation is None:
        return None
    names: set[str] = set()
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None
        names.add(selection.name.value)
    return names


class IntrospectionAnswers:
    """The answers to the introspection-only documents seen so far (the few most recent)."""

    def __init__(self, size: int = _CACHED_DOCUMENTS) -> None:
        self._size = size
        self._answers: OrderedDict[tuple[str, str | None, str], ExecutionResult] = OrderedDict()

    def get(self, key: tuple[str, str | None, str]) -> ExecutionResult | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: tuple[str, str | None, str], answer: ExecutionResult) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


class AnonymousBudget(SchemaExtension):
    """Counts an operation of a caller without a valid credential against its address."""

    def __init__(self, *, per_minute: int) -> None:
        self.per_minute = per_minute

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        authentication = getattr(context, "authentication", None)
        names = _root_field_names(
            self.execution_context.graphql_document, self.execution_context.operation_name
        )
        if authentication is not None and authentication.actor is None and names != {"__typename"}:
            client = context.request.client
            address = client.host if client is not None else "unknown"
            decision = await context.services.limiter.hit(f"anonymous:{address}", self.per_minute)
            context.response.headers.update(decision.headers())
            if not decision.allowed:
                metrics.RATE_LIMIT_REJECTIONS.labels("anonymous").inc()
                refusal = RateLimitedError(decision.reset_after)
                error = GraphQLError(str(refusal), original_error=refusal)
                self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


class IntrospectionCache(SchemaExtension):
    """Serves an introspection-only document's answer from `answers` once computed."""

    def __init__(self, *, answers: IntrospectionAnswers) -> None:
        self.answers = answers

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        names = _root_field_names(context.graphql_document, context.operation_name)
        if context.result is not None or names is None or not names <= _INTROSPECTION_FIELDS:
            yield
            return
        variables = json.dumps(context.variables or {}, sort_keys=True, default=str)
        key = (context.query or "", context.operation_name, variables)
        cached = self.answers.get(key)
        if cached is not None:
            context.result = cached
            yield
            return
        yield
        result: Any = context.result
        if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
            self.answers.put(key, result)
