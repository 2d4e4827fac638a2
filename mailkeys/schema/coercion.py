"""What is wrong with a request's values, said without repeating them.

graphql-core refuses a variable whose value does not fit its type with one error per problem,
whose message quotes the value. A variable is where clients put data, secrets included (a
pasted token, a password), so the answer names the place and what was expected instead:
`extensions.field` is the variable and its path (`input.expiresAt`, `input.mailboxIds.1`),
the message says what the type wants. For an inline value, whose text the client's own
document holds, graphql-core's message stays and the field names the argument's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputType,
    GraphQLNamedType,
    GraphQLSchema,
    ListValueNode,
    Node,
    ObjectFieldNode,
    ObjectValueNode,
    Undefined,
    ValueNode,
    VariableDefinitionNode,
    coerce_input_value,
    get_named_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    print_ast,
    type_from_ast,
)

# Built-in and custom scalars, as a client should read them.
_EXPECTED = {
    "Int": "an Int (a 32-bit integer)",
    "Float": "a Float",
    "String": "a String",
    "Boolean": "a Boolean",
    "ID": "an ID (a string)",
    "DateTime": "a DateTime (ISO 8601 with a time zone, within years 1 to 9999 in UTC)",
    "JSON": "JSON",
}
_MAX_ENUM_VALUES = 12
# graphql-core's validation messages that name a missing argument or input field.
_MISSING_ARGUMENT = re.compile(r"rgument '(?:[^'(]*\()?(\w+)(?::\))?' of type '[^']*' is required")
_MISSING_FIELD = re.compile(r"Field '\w+\.(\w+)' of required type '[^']*' was not provided")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request's values: where, and what the client should say."""

    field: str | None
    message: str


def is_about_values(error: GraphQLError) -> bool:
    """True for an error graphql-core raised about a variable's or a literal's value.

    Such an error has no path (no field ran) and points at a variable definition or at a
    value in the document; an error raised while resolving a field always has a path.
    """
    return (
        error.path is None
        and bool(error.nodes)
        and all(isinstance(node, (VariableDefinitionNode, ValueNode)) for node in error.nodes or ())
    )


def expected(type_: GraphQLInputType | GraphQLNamedType) -> str:
    """What a value of `type_` looks like, in words."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLEnumType):
        names = list(named.values)
        listed = ", ".join(names[:_MAX_ENUM_VALUES]) + (
            ", ..." if len(names) > _MAX_ENUM_VALUES else ""
        )
        return f"one of {listed}"
    if is_input_object_type(named):
        return f"an object of type {named.name}"
    return _EXPECTED.get(named.name, f"a {named.name}")


def value_problems(value: Any, type_: GraphQLInputType, path: str) -> list[Problem]:
    """Every place where `value` does not fit `type_`, under the dotted `path`."""
    if is_non_null_type(type_):
        if value is None or value is Undefined:
            return [Problem(path, f"'{path}' needs a value: {expected(type_)}.")]
        type_ = type_.of_type
    if value is None or value is Undefined:
        return []
    if is_list_type(type_):
        item_type = type_.of_type
        if not isinstance(value, list):  # a single value stands for a list of one
            return value_problems(value, item_type, path)
        problems: list[Problem] = []
        for index, item in enumerate(value):
            problems += value_problems(item, item_type, f"{path}.{index}")
        return problems
    if is_input_object_type(type_):
        if not isinstance(value, dict):
            return [Problem(path, f"'{path}' should be {expected(type_)}.")]
        fields = type_.fields
        problems = [
            Problem(f"{path}.{key}", f"Not a field of {type_} (its fields: {', '.join(fields)}).")
            for key in value
            if key not in fields
        ]
        for name, field in fields.items():
            item = value.get(name, Undefined)
            if item is Undefined and field.default_value is not Undefined:
                continue
            problems += value_problems(item, field.type, f"{path}.{name}")
        return problems
    if coerce_input_value(value, type_) is Undefined:
        return [Problem(path, f"'{path}' should be {expected(type_)}.")]
    return []


def variable_problems(
    schema: GraphQLSchema, definition: VariableDefinitionNode, variables: dict[str, Any] | None
) -> list[Problem]:
    """What is wrong with the value sent for one variable (at least one problem)."""
    name = definition.variable.name.value
    type_ = type_from_ast(schema, definition.type)
    if type_ is None:
        return [Problem(name, f"Variable '${name}' has an unknown type.")]
    value = (variables or {}).get(name, Undefined)
    problems = value_problems(value, type_, name)  # type: ignore[arg-type]
    return problems or [Problem(name, f"'{name}' should be {expected(type_)}.")]  # type: ignore[arg-type]


def _place(node: Node) -> tuple[str, str]:
    return node.kind, print_ast(node)


def _path_to(node: Node, document: DocumentNode) -> str | None:
    """The dotted argument path (`input.expiresAt`) of a value or argument in `document`.

    Validation may report a copy of the document's node (without its location), so nodes
    are matched by kind and text; the first of equal literals stands for all.
    """
    wanted = _place(node)

    def inside(value: Node, path: str) -> str | None:
        if _place(value) == wanted:
            return path
        if isinstance(value, ObjectValueNode):
            for field in value.fields:
                if _place(field) == wanted:
                    return f"{path}.{field.name.value}"
                found = inside(field.value, f"{path}.{field.name.value}")
                if found is not None:
                    return found
        if isinstance(value, ListValueNode):
            for index, item in enumerate(value.values):
                found = inside(item, f"{path}.{index}")
                if found is not None:
                    return found
        return None

    stack: list[Node] = list(document.definitions)
    while stack:
        current = stack.pop()
        for argument in getattr(current, "arguments", None) or ():
            if isinstance(argument, ArgumentNode):
                found = inside(argument.value, argument.name.value)
                if _place(argument) == wanted:
                    found = argument.name.value
                if found is not None:
                    return found
        selection_set = getattr(current, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return None


def document_field(error: GraphQLError, document: DocumentNode | None) -> str | None:
    """The argument path an error about the document's own text points at, if any."""
    nodes = error.nodes or []
    if document is None or not nodes:
        return None
    node = nodes[0]
    if isinstance(node, FieldNode):
        missing = _MISSING_ARGUMENT.search(error.message)
        return missing.group(1) if missing else None
    if not isinstance(node, (ValueNode, ObjectFieldNode, ArgumentNode)):
        return None
    path = _path_to(node, document)
    missing = _MISSING_FIELD.search(error.message)
    if path is not None and missing is not None and isinstance(node, ObjectValueNode):
        return f"{path}.{missing.group(1)}"
    return path
