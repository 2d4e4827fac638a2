"""Helpers every resource resolver shares: team-scoped lookup and the creation transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import NotFoundError
from mailkeys.models import LimitedResource
from mailkeys.models.limits import check_limit, lock_team
from mailkeys.policy import Actor

ModelT = TypeVar("ModelT", bound=Model)


async def team_row(model: type[ModelT], actor: Actor, row_id: str, kind: str) -> ModelT:
    """A row of the actor's team; another team's row is "not found", like a missing one."""
    row = await model.filter(id=row_id, team_id=actor.team_id).first()
    if row is None:
        raise NotFoundError(kind)
    return row


@asynccontextmanager
async def limited_creation(team_id: str, resource: LimitedResource) -> AsyncIterator[None]:
    """A transaction that holds the team's lock and has checked one more `resource` fits."""
    async with in_transaction():
        await lock_team(team_id)
        await check_limit(team_id, resource, clock.now())
        yield
