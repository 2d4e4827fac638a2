"""Relay-style connections shared by every list (docs/api.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

import strawberry

from mailkeys.pages import Page

NodeT = TypeVar("NodeT")
ItemT = TypeVar("ItemT")

# The paging arguments every list takes, described once.
First = Annotated[
    int | None,
    strawberry.argument(description="How many items to return: 1 to 100 (20 if absent)."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Return the items after this cursor: a page's `endCursor`."),
]


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True if more items follow this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to fetch the next page.")


@strawberry.type(description="One item of a connection and its cursor.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="An opaque position of this item.")


@strawberry.type(description="A page of items, in the order its field documents.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many items match, over all pages.")


def connection_of(page: Page[ItemT], convert: Callable[[ItemT], NodeT]) -> Connection[NodeT]:
    """Wrap a resolver's page in the GraphQL connection shape: the only connection builder."""
    edges = [
        Edge(node=convert(item), cursor=cursor)
        for item, cursor in zip(page.items, page.cursors, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        total_count=page.total_count,
    )
