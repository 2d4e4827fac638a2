"""Tells the request log and metrics which operation a GraphQL request ran, and its outcome."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import FieldNode, GraphQLSchema, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import SchemaExtension

from mailkeys.telemetry.logs import current_request

INVALID = "invalid"
_META_FIELDS = frozenset({"__typename", "__schema", "__type"})
_MAX_OPERATION_NAME = 100


def root_fields(schema: GraphQLSchema, operation: OperationDefinitionNode) -> str:
    """The operation's root fields in document order (names, not aliases), comma-joined.

    Only field names the schema has are reported, so the result stays a bounded vocabulary
    that metrics may use as a label; anything else reads `invalid`.
    """
    root = schema.get_root_type(operation.operation)
    names: list[str] = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return INVALID  # root fragments are legal but rare; not worth resolving here
        name = selection.name.value
        if root is None or (name not in root.fields and name not in _META_FIELDS):
            return INVALID
        if name not in names:
            names.append(name)
    return ",".join(names) or INVALID


class RequestObservation(SchemaExtension):
    """Records the operation and outcome code; list it before `ErrorMapping` to see codes."""

    def on_operation(self) -> Iterator[None]:
        yield
        record = current_request.get()
        if record is None:
            return
        context = self.execution_context
        if context.operation_name:
            record.operation_name = context.operation_name[:_MAX_OPERATION_NAME]
        document = context.graphql_document
        operation = (
            get_operation_ast(document, context.operation_name) if document is not None else None
        )
        record.operation = (
            root_fields(context.schema._schema, operation) if operation is not None else INVALID
        )
        errors = getattr(context.result, "errors", None) or []
        codes = [(error.extensions or {}).get("code") for error in errors]
        record.code = next((str(code) for code in codes if code), "ERROR" if errors else "OK")
