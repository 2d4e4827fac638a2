"""Tells the request log and metrics which operation a GraphQL request ran, and its outcome."""

from __future__ import annotations

from graphql import FieldNode, GraphQLError, GraphQLSchema, OperationDefinitionNode

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


def observe_operation(
    operation_name: str | None, label: str | None, errors: list[GraphQLError] | None
) -> None:
    """Tell the request log which operation ran (`label`: its root fields, None: no such
    operation) and its outcome code (after mapping)."""
    record = current_request.get()
    if record is None:
        return
    if operation_name:
        record.operation_name = operation_name[:_MAX_OPERATION_NAME]
    record.operation = label or INVALID
    codes = [(error.extensions or {}).get("code") for error in errors or ()]
    record.code = next((str(code) for code in codes if code), "ERROR" if errors else "OK")
