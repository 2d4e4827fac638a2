"""Keyset pagination of a query over (created_at, id), newest first.

Offsets shift when rows are added or revoked between pages; a keyset cursor does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar, cast

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from mailkeys.errors import InvalidInputError
from mailkeys.pages import Page, decode_cursor, encode_cursor, page_size

RowT = TypeVar("RowT", bound=Model)
_KIND = "row"


class Keyed(Protocol):
    """A row that can be paged: it has a creation time and a unique id."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


def _position(after: str) -> tuple[datetime, str]:
    _, (created_at, row_id) = decode_cursor(after, (_KIND,), 2)
    try:
        return datetime.fromisoformat(str(created_at)), str(row_id)
    except ValueError as exc:
        raise InvalidInputError("after", "Invalid cursor.") from exc


async def keyset_page(query: QuerySet[RowT], first: int | None, after: str | None) -> Page[RowT]:
    """Fetch one page of `query`, newest first, after the given cursor."""
    size = page_size(first)
    total = await query.count()
    if after is not None:
        created_at, row_id = _position(after)
        query = query.filter(
            Q(created_at__lt=created_at) | (Q(created_at=created_at) & Q(id__lt=row_id))
        )
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    page = rows[:size]
    keyed = [cast(Keyed, row) for row in page]
    cursors = [encode_cursor(_KIND, row.created_at.isoformat(), row.id) for row in keyed]
    return Page(items=page, cursors=cursors, has_next_page=len(rows) > size, total_count=total)
