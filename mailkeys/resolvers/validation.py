"""Small input checks shared by the resolvers; each failure names its field."""

from __future__ import annotations

from datetime import UTC, datetime

from mailkeys.errors import InvalidInputError

MAX_NAME_LENGTH = 200


def clean_name(field: str, value: str | None, *, required: bool = False) -> str:
    """Trimmed, printable, at most 200 characters; required names must not be empty."""
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InvalidInputError(field, f"{field} must not be empty.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInputError(field, f"{field} must be at most {MAX_NAME_LENGTH} characters.")
    if not cleaned.isprintable():
        raise InvalidInputError(field, f"{field} must not contain control characters.")
    return cleaned


def future_time(field: str, value: datetime | None) -> datetime | None:
    """A timezone-aware instant in the future, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInputError(field, f"{field} must include a time zone.")
    if value <= datetime.now(UTC):
        raise InvalidInputError(field, f"{field} must be in the future.")
    return value


def unique_ids(field: str, values: list[str] | None) -> list[str] | None:
    """The ids without duplicates, in their order; at most 100."""
    if values is None:
        return None
    if len(values) > 100:
        raise InvalidInputError(field, f"{field} takes at most 100 ids.")
    return list(dict.fromkeys(values))
