"""Every type, field, argument and enum value of the schema says what it is, for frontends."""

from __future__ import annotations

from enum import StrEnum

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    specified_scalar_types,
)

from mailkeys.schema import build_schema
from mailkeys.schema.enums import describe_enum
from mailkeys.settings import Settings


def undescribed() -> list[str]:
    """Every schema element without a description, as `Type.field(argument)` paths."""
    schema = build_schema(Settings())._schema
    missing: list[str] = []
    for name, graphql_type in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue  # introspection types and GraphQL's own scalars are described by the spec
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing.extend(
                    f"{name}.{field_name}({argument_name})"
                    for argument_name, argument in field.args.items()
                    if not argument.description
                )
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing.extend(
                f"{name}.{field_name}"
                for field_name, field in graphql_type.fields.items()
                if not field.description
            )
        elif isinstance(graphql_type, GraphQLEnumType):
            missing.extend(
                f"{name}.{value_name}"
                for value_name, value in graphql_type.values.items()
                if not value.description
            )
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    assert undescribed() == []


def test_the_walk_sees_arguments_and_enum_values() -> None:
    # guard against a walk that passes because it looks at nothing
    schema = build_schema(Settings())._schema
    api_keys = schema.query_type.fields["apiKeys"] if schema.query_type else None
    assert api_keys is not None
    assert set(api_keys.args) == {"first", "after", "type", "status"}
    status = schema.type_map["ApiKeyStatus"]
    assert isinstance(status, GraphQLEnumType)
    assert set(status.values) == {"ACTIVE", "EXPIRED", "REVOKED", "SUSPENDED"}


class _Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


def test_describe_enum_refuses_a_member_without_a_description() -> None:
    with pytest.raises(ValueError, match="BLUE"):
        describe_enum(_Colour, "A colour.", {"RED": "Red."})
