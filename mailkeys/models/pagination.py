"""Relay-style keyset pagination over (created_at, id), newest first.

Offsets shift when rows are added or revoked between pages; a keyset cursor does not.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar, cast

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from mailkeys.errors import InvalidInputError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Keyed(Protocol):
    """A row that can be paged: it has a creation time and a unique id."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


RowT = TypeVar("RowT", bound=Model)


@dataclass(frozen=True)
class Page(Generic[RowT]):
    """One page of rows, the cursor of each, and whether more follow."""

    rows: list[RowT]
    cursors: list[str]
    has_next_page: bool
    total_count: int


def encode_cursor(row: Keyed) -> str:
    """An opaque cursor naming the row's position."""
    raw = json.dumps([row.created_at.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; a cursor we did not issue is bad input."""
    try:
        created_at, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created_at), str(row_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInputError("after", "Invalid cursor.") from exc


def page_size(first: int | None) -> int:
    """Validated page size: 1..100, 20 by default."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInputError("first", f"first must be between 1 and {MAX_PAGE_SIZE}.")
    return first


async def keyset_page(query: QuerySet[RowT], first: int | None, after: str | None) -> Page[RowT]:
    """Fetch one page of `query`, newest first, after the given cursor."""
    size = page_size(first)
    total = await query.count()
    if after is not None:
        created_at, row_id = decode_cursor(after)
        query = query.filter(
            Q(created_at__lt=created_at) | (Q(created_at=created_at) & Q(id__lt=row_id))
        )
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        rows=rows,
        cursors=[encode_cursor(cast(Keyed, row)) for row in rows],
        has_next_page=has_next,
        total_count=total,
    )
