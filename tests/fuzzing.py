"""GraphQL operations for property-based tests, drawn from `schema.graphql` by hypothesis-graphql.

Every root field of Query and Mutation, in documents that validate (`Mode.POSITIVE`) and
documents with one schema violation (`Mode.NEGATIVE`). A valid document's root arguments are
often moved into variables, and then the variables are often spoiled the ways clients spoil
them: a wrong type, a missing or null required value, an unknown field, a value out of range,
an over-long or pasted-token id, a lone surrogate. Ids and strings are seeded with real ids
and real secrets of a `World`, so that operations reach real rows and a pasted secret would
show in a log if anything wrote input values down.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"
SCHEMA = graphql.build_schema(SCHEMA_FILE.read_text())
_QUERY = SCHEMA.query_type
_MUTATION = SCHEMA.mutation_type
assert _QUERY is not None
assert _MUTATION is not None
ROOT_FIELDS: list[tuple[str, str]] = [("query", name) for name in _QUERY.fields] + [
    ("mutation", name) for name in _MUTATION.fields
]

# Custom scalars, as literals: a DateTime is an ISO 8601 string (in range or not), JSON is
# any JSON value.
_DATETIMES = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda when: when.isoformat()),
    st.datetimes().map(lambda when: when.isoformat()),  # no time zone
    st.sampled_from(
        ["tomorrow", "", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2030-02-30"]
    ),
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _literal(value: Any) -> graphql.ValueNode:
    node = graphql.ast_from_value(value, graphql.GraphQLString)
    if isinstance(value, dict):
        return graphql.ObjectValueNode(
            fields=tuple(
                graphql.ObjectFieldNode(name=graphql.NameNode(value=f"k{i}"), value=_literal(v))
                for i, v in enumerate(value.values())
            )
        )
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(_literal(v) for v in value))
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    assert node is not None or value is None
    return node if node is not None else graphql.NullValueNode()


SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "DateTime": _DATETIMES.map(nodes.String),
    "JSON": _JSON.map(_literal),
}


def _documents(kind: str, name: str) -> st.SearchStrategy[graphql.DocumentNode]:
    make = queries if kind == "query" else mutations
    root = _QUERY if kind == "query" else _MUTATION
    assert root is not None
    # a field without arguments has nothing to get wrong
    modes = (Mode.POSITIVE, Mode.NEGATIVE) if root.fields[name].args else (Mode.POSITIVE,)
    return st.one_of(
        [
            make(SCHEMA, fields=[name], custom_scalars=SCALARS, mode=mode, print_ast=_same)
            for mode in modes
        ]
    )


def _same(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


# One strategy per root field, so that a run can give every field its share of operations.
DOCUMENTS = {name: _documents(kind, name) for kind, name in ROOT_FIELDS}


@dataclass(frozen=True)
class Operation:
    """One request: the document, its variables, and the credential it is sent with."""

    query: str
    variables: dict[str, Any]
    token: str | None

    @property
    def root_field(self) -> str:
        """The root field the document selects (for coverage)."""
        operation = graphql.parse(self.query).definitions[0]
        assert isinstance(operation, graphql.OperationDefinitionNode)
        first = operation.selection_set.selections[0]
        assert isinstance(first, graphql.FieldNode)
        return first.name.value

    def body(self) -> bytes:
        """The JSON body, lone surrogates escaped as a JSON client would send them."""
        return json.dumps({"query": self.query, "variables": self.variables}).encode()


def hoist_arguments(
    document: graphql.DocumentNode,
) -> tuple[str, dict[str, Any], dict[str, graphql.GraphQLInputType]]:
    """The document with its root fields' arguments moved into variables `$v0`, `$v1`...

    Returns the new document text, the variables' values, and each variable's type.
    """
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    root = _QUERY if operation.operation is graphql.OperationType.QUERY else _MUTATION
    assert root is not None
    definitions: list[graphql.VariableDefinitionNode] = []
    values: dict[str, Any] = {}
    types: dict[str, graphql.GraphQLInputType] = {}
    selections: list[graphql.SelectionNode] = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, graphql.FieldNode) or selection.name.value not in root.fields:
            selections.append(selection)
            continue
        field = root.fields[selection.name.value]
        arguments: list[graphql.ArgumentNode] = []
        for argument in selection.arguments or ():
            if argument.name.value not in field.args:
                arguments.append(argument)  # a negative document's unknown argument stays
                continue
            name = f"v{len(definitions)}"
            argument_type = field.args[argument.name.value].type
            variable = graphql.VariableNode(name=graphql.NameNode(value=name))
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=variable, type=graphql.parse_type(str(argument_type))
                )
            )
            values[name] = graphql.value_from_ast_untyped(argument.value)
            types[name] = argument_type
            arguments.append(graphql.ArgumentNode(name=argument.name, value=variable))
        selections.append(
            graphql.FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=tuple(arguments),
                directives=selection.directives,
                selection_set=selection.selection_set,
            )
        )
    hoisted = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(definitions),
        directives=operation.directives,
        selection_set=graphql.SelectionSetNode(selections=tuple(selections)),
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(hoisted,))), values, types


Path_ = tuple[str | int, ...]


def leaves(
    value: Any, type_: graphql.GraphQLInputType, path: Path_ = ()
) -> list[tuple[Path_, str]]:
    """The (path, scalar type name) of every leaf of a variable's value."""
    named = graphql.get_nullable_type(type_)
    if isinstance(named, graphql.GraphQLList):
        if not isinstance(value, list):
            return []
        found: list[tuple[Path_, str]] = []
        for index, item in enumerate(value):
            found += leaves(item, named.of_type, (*path, index))
        return found
    if isinstance(named, graphql.GraphQLInputObjectType):
        if not isinstance(value, dict):
            return []
        found = []
        for key, item in value.items():
            if key in named.fields:
                found += leaves(item, named.fields[key].type, (*path, key))
        return found
    return [(path, getattr(named, "name", ""))]


def _replace(value: Any, path: Path_, new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict) and isinstance(head, str):
        return {**value, head: _replace(value[head], tuple(rest), new)}
    if isinstance(value, list) and isinstance(head, int):
        copy = list(value)
        copy[head] = _replace(copy[head], tuple(rest), new)
        return copy
    return value


def _containers(value: Any, path: Path_ = ()) -> list[tuple[Path_, dict[str, Any]]]:
    found: list[tuple[Path_, dict[str, Any]]] = []
    if isinstance(value, dict):
        found.append((path, value))
        for key, item in value.items():
            found += _containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _containers(item, (*path, index))
    return found


def hostile_values(secrets: Sequence[str]) -> st.SearchStrategy[Any]:
    """Values clients send by mistake (or on purpose) where something else belongs."""
    return st.one_of(
        st.sampled_from(
            [
                None,
                "",
                "x" * 33,
                "x" * 5_000,
                2**40,
                -(2**31) - 1,
                1.5,
                -1,
                0,
                True,
                {"a": 1},
                [1],
                [],
                "\ud800",
                "ok\udfffok",
                "tomorrow",
                12345,
                "9999-12-31T23:59:59-14:00",
                "0001-01-01T00:00:00+14:00",
                datetime(2099, 1, 1, tzinfo=UTC).isoformat(),
                "smx_root_" + "A" * 60,
                "a b",
                "\u202eevil",
            ]
        ),
        st.sampled_from(list(secrets)),
        st.text(max_size=40),
    )


@st.composite
def spoiled(
    draw: st.DrawFn,
    values: dict[str, Any],
    types: dict[str, graphql.GraphQLInputType],
    secrets: Sequence[str],
) -> dict[str, Any]:
    """The variables, spoiled once in one of the ways clients spoil them."""
    if not values:
        return values
    name = draw(st.sampled_from(sorted(values)))
    how = draw(st.sampled_from(["missing", "null", "leaf", "top", "unknown", "drop"]))
    spoilt = dict(values)
    if how == "missing":
        del spoilt[name]
    elif how == "null":
        spoilt[name] = None
    elif how == "top":
        spoilt[name] = draw(hostile_values(secrets))
    elif how == "leaf":
        found = leaves(values[name], types[name])
        if found:
            path, _ = draw(st.sampled_from(found))
            spoilt[name] = _replace(values[name], path, draw(hostile_values(secrets)))
    else:
        containers = _containers(values[name])
        if containers:
            path, container = draw(st.sampled_from(containers))
            changed = dict(container)
            if how == "unknown":
                changed[draw(st.sampled_from(["bogus", "__typename", "id ", "\ud800"]))] = 1
            elif changed:
                del changed[draw(st.sampled_from(sorted(changed)))]
            spoilt[name] = _replace(values[name], path, changed)
    return spoilt


@st.composite
def seeded(
    draw: st.DrawFn,
    values: dict[str, Any],
    types: dict[str, graphql.GraphQLInputType],
    ids: Sequence[str],
    secrets: Sequence[str],
) -> dict[str, Any]:
    """The variables with some ids replaced by real ones, and some strings by real secrets."""
    seeded_values = dict(values)
    for name in sorted(values):
        for path, scalar in leaves(values[name], types[name]):
            choice = draw(st.integers(0, 5))
            if scalar == "ID" and choice < 4:
                new: Any = draw(st.sampled_from(list(ids)))
            elif scalar == "String" and choice == 0:
                new = draw(st.sampled_from(list(secrets)))
            else:
                continue
            seeded_values[name] = _replace(seeded_values[name], path, new)
    return seeded_values


def operations(
    field: str, ids: Sequence[str], secrets: Sequence[str], credentials: Sequence[str | None]
) -> st.SearchStrategy[Operation]:
    """Operations on one root field: valid and invalid, inline and with variables."""

    @st.composite
    def draw_operation(draw: st.DrawFn) -> Operation:
        document = draw(DOCUMENTS[field])
        token = draw(st.sampled_from(list(credentials)))
        if draw(st.integers(0, 3)) == 0:
            return Operation(graphql.print_ast(document), {}, token)
        text, values, types = hoist_arguments(document)
        values = draw(seeded(values, types, ids, secrets))
        if draw(st.booleans()):
            values = draw(spoiled(values, types, secrets))
        return Operation(text, values, token)

    return draw_operation()
