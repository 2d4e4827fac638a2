"""Small input checks shared by the resolvers; each failure names its field."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from mailkeys import clock
from mailkeys.errors import InvalidInputError

MAX_NAME_LENGTH = 200
# Deliberately simple: one @, no spaces, a dotted domain. Mail servers decide the rest.
_ADDRESS_RE = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_DOMAIN_RE = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


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


def clean_text(field: str, value: str | None, max_length: int) -> str:
    """Free text up to `max_length` characters."""
    text = value or ""
    if len(text) > max_length:
        raise InvalidInputError(field, f"{field} must be at most {max_length} characters.")
    return text


def email_address(field: str, value: str | None) -> str:
    """A lower-cased email address."""
    address = (value or "").strip().lower()
    if not _ADDRESS_RE.fullmatch(address) or len(address) > 320:
        raise InvalidInputError(field, f"{field} is not an email address.")
    return address


def domain_name(field: str, value: str | None) -> str:
    """A lower-cased DNS name such as `mail.example.com`."""
    name = (value or "").strip().lower().rstrip(".")
    if not _DOMAIN_RE.fullmatch(name):
        raise InvalidInputError(field, f"{field} is not a domain name.")
    return name


def https_url(field: str, value: str | None) -> str:
    """An absolute https URL of at most 2,000 characters."""
    url = (value or "").strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or len(url) > 2000:
        raise InvalidInputError(field, f"{field} must be an https URL.")
    return url


def future_time(field: str, value: datetime | None) -> datetime | None:
    """A timezone-aware instant in the future, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInputError(field, f"{field} must include a time zone.")
    if value <= clock.now():
        raise InvalidInputError(field, f"{field} must be in the future.")
    return value


def unique_ids(field: str, values: list[str] | None) -> list[str] | None:
    """The ids without duplicates, in their order; at most 100.

    A value that cannot be one of our ids is refused like an id of nothing, before any query
    (an ORM refuses an over-long value with the value in its message).
    """
    if values is None:
        return None
    if len(values) > 100:
        raise InvalidInputError(field, f"{field} takes at most 100 ids.")
    if not all(is_resource_id(value) for value in values):
        raise InvalidInputError(field, f"Unknown id in {field}.")
    return list(dict.fromkeys(values))


# Our ids: a short prefix, an underscore and base62 (`mbx_4fZ...`), or a bare key id.
_RESOURCE_ID_RE = re.compile(r"[A-Za-z0-9_]{1,32}")


def is_resource_id(value: str) -> bool:
    """True if `value` could be an id we issued; anything else names nothing (no query)."""
    return _RESOURCE_ID_RE.fullmatch(value) is not None
