"""GraphQL enums over the models' and policy's enums, with a description for every value."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

EnumT = TypeVar("EnumT", bound=type[Enum])


def describe_enum(
    cls: EnumT, description: str, values: Mapping[str, str], name: str | None = None
) -> EnumT:
    """Register `cls` as a GraphQL enum, describing each value by its member name.

    The Python enums live below the schema layer (models, policy), which must not import
    Strawberry, so their values cannot carry `strawberry.enum_value`; they are described here.
    A member without a description, or a description of no member, is a programming error.
    """
    members = {member.name for member in cls}
    if set(values) != members:
        raise ValueError(f"{cls.__name__}: describe exactly {sorted(members)}")
    strawberry.enum(cls, name=name, description=description)
    definition: StrawberryEnumDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        value.description = values[value.name]
    return cls
