"""One page of a list, and the opaque cursors that name positions in it.

Every list of the API is a page of items with a cursor each (Relay connections). A cursor is
the position's sort values, JSON in URL-safe base64: opaque to clients, and a cursor that
was not issued by us (or names another list's position) is bad input, never a fault.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mailkeys.errors import InvalidInputError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 512

ItemT = TypeVar("ItemT")
OtherT = TypeVar("OtherT")


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of items, the cursor of each, and whether more follow."""

    items: list[ItemT]
    cursors: list[str]
    has_next_page: bool
    total_count: int

    def map(self, convert: Callable[[ItemT], OtherT]) -> Page[OtherT]:
        """The same page with every item converted."""
        return Page([convert(item) for item in self.items], self.cursors, self.has_next_page,
                    self.total_count)  # fmt: skip


def page_size(first: int | None) -> int:
    """Validated page size: 1..100, 20 by default."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInputError("first", f"first must be between 1 and {MAX_PAGE_SIZE}.")
    return first


def encode_cursor(kind: str, *values: Any) -> str:
    """An opaque cursor: which list (`kind`) and the position's sort values."""
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str, kinds: Sequence[str], arity: int) -> tuple[str, list[Any]]:
    """The kind and `arity` values of a cursor we issued for one of `kinds`; else bad input."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        kind, *values = decoded
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise InvalidInputError("after", "Invalid cursor.") from exc
    if kind not in kinds or len(values) != arity:
        raise InvalidInputError("after", "Invalid cursor.")
    return str(kind), values
