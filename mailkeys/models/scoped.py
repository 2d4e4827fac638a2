"""Reading one row of a team by its id: the query behind the authorization door."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from tortoise.models import Model

from mailkeys.models.teams import Team

RowT = TypeVar("RowT", bound=Model)


def owner_field(model: type[Model]) -> str:
    """The column naming the team a row belongs to (a team belongs to itself)."""
    return "id" if model is Team else "team_id"


async def team_row(
    model: type[RowT], row_id: str, team_id: str | None, related: Sequence[str] = ()
) -> RowT | None:
    """The row with this id, if it belongs to `team_id` (any team's when `team_id` is None)."""
    query = model.filter(id=row_id)
    if team_id is not None:
        query = query.filter(**{owner_field(model): team_id})
    if related:
        query = query.select_related(*related)
    return await query.first()
