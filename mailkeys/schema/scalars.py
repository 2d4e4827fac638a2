"""Scalars whose parsing decides what a client may send, at the edge of the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strawberry.types.scalar import ScalarDefinition

DATETIME_DESCRIPTION = (
    "An instant as an ISO 8601 string with a time zone, such as `2030-01-31T09:00:00Z`; "
    "it must fall within years 1 to 9999 in UTC."
)


def parse_datetime(value: Any) -> datetime:
    """An aware datetime in UTC, or ValueError (a client mistake, never a fault).

    Normalizing to UTC here means an instant that exists only in some time zone
    (`9999-12-31T23:59:59-14:00` is past year 9999 in UTC) is refused as input instead of
    overflowing later, wherever it is compared or stored.
    """
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 date and time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("a time zone is required")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("outside years 1 to 9999 in UTC") from None


DateTime = ScalarDefinition(
    name="DateTime",
    description=DATETIME_DESCRIPTION,
    specified_by_url=None,
    serialize=datetime.isoformat,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=datetime,
)
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {datetime: DateTime}
