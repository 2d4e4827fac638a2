"""Small input checks shared by the resolvers; each failure names its field."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import urlsplit

from cachetools import LRUCache
from email_validator import EmailNotValidError, validate_email

from mailkeys import clock
from mailkeys.errors import InvalidInputError

MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 320
# Characters that make two different strings look the same, or text read in another order.
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
# Spellings already normalised: a sender and its usual recipients are checked once, not on
# every send (email-validator's rules cost more than the rest of a send's validation).
_NORMALISED_ADDRESSES: LRUCache[str, str] = LRUCache(maxsize=4096)


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


def _refuse_hidden_characters(field: str, value: str) -> None:
    """Control (NUL included), zero-width and bidi characters: refused whatever follows."""
    for char in value:
        if char in ZERO_WIDTH or char in BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            raise InvalidInputError(
                field, f"{field} must not contain control, zero-width or bidirectional characters."
            )


def _checked(field: str, address: str, message: str) -> tuple[str, str]:
    """The address's local part and ASCII (IDNA) domain, by email-validator's rules.

    No deliverability check (no network here); special-use domains (`.local`, `.test`,
    `localhost`, ...) are refused, as they can never receive mail from outside. `strict`
    adds RFC 5321's 64-octet limit on the local part.
    """
    try:
        checked = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_quoted_local=False,
            strict=True,
        )
    except EmailNotValidError as error:
        raise InvalidInputError(field, message) from error
    return checked.local_part, checked.ascii_domain


def email_address(field: str, value: str | None) -> str:
    """One spelling per address: the local part lower-cased (NFC), the domain in IDNA ASCII.

    `Ops@Bücher.example` and `ops@xn--bcher-kva.example` are the same address, stored and
    compared as the latter.
    """
    given = value or ""
    known = _NORMALISED_ADDRESSES.get(given)
    if known is not None:
        return known
    _refuse_hidden_characters(field, given)
    raw = given.strip(" ")
    if len(raw) > MAX_ADDRESS_LENGTH:
        raise InvalidInputError(field, f"{field} is not an email address.")
    local, domain = _checked(field, raw, f"{field} is not an email address.")
    normalised = f"{unicodedata.normalize('NFC', local.lower())}@{domain}"
    _NORMALISED_ADDRESSES[given] = normalised
    return normalised


def domain_name(field: str, value: str | None) -> str:
    """A DNS name such as `mail.example.com`: lower-case IDNA ASCII, no trailing dot."""
    raw = value or ""
    _refuse_hidden_characters(field, raw)
    name = raw.strip(" ").removesuffix(".")
    message = f"{field} is not a domain name."
    if not name or "@" in name or len(name) > 253:
        raise InvalidInputError(field, message)
    # The same rules (and normalisation) as the domain of an address, so the two compare.
    _, domain = _checked(field, f"postmaster@{name}", message)
    return domain


def domain_of(address: str) -> str:
    """The domain of an address `email_address` returned."""
    return address.rpartition("@")[2]


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


MAX_REDIRECT_URIS = 10
_PRIVATE_SCHEME_RE = re.compile(r"[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def redirect_uris(field: str, values: list[str] | None) -> list[str]:
    """An app's redirect URIs (OAuth 2.1, RFC 8252): 1 to 10 absolute URIs without fragment,
    https, http on a loopback host, or a native app's private-use scheme (`com.example.app:`).
    They are matched exactly, so they are kept as given (duplicates dropped)."""
    if not values or len(values) > MAX_REDIRECT_URIS:
        raise InvalidInputError(field, f"{field} takes 1 to {MAX_REDIRECT_URIS} URIs.")
    for value in values:
        if not isinstance(value, str) or len(value) > 2000:
            raise InvalidInputError(field, f"Every entry of {field} is a URI of <= 2000 chars.")
        _refuse_hidden_characters(field, value)
        try:
            parts = urlsplit(value)
            hostname = parts.hostname
        except ValueError:
            raise InvalidInputError(field, f"{field} holds an invalid URI.") from None
        if parts.fragment or "#" in value or any(char.isspace() for char in value):
            raise InvalidInputError(field, f"A URI of {field} has a fragment or spaces.")
        if parts.scheme == "https" and hostname:
            continue
        if parts.scheme == "http" and hostname in _LOOPBACK_HOSTS:
            continue
        if _PRIVATE_SCHEME_RE.fullmatch(parts.scheme) and parts.path:
            continue
        raise InvalidInputError(
            field, f"{field}: https, http on a loopback host, or a private-use scheme only."
        )
    return list(dict.fromkeys(values))
