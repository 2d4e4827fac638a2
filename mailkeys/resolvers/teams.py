"""Teams, their first key, and their limits (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.errors import InvalidInputError, NotFoundError
from mailkeys.models import LimitedResource, Team, TeamLimit
from mailkeys.models.limits import count_used
from mailkeys.models.teams import MAX_LIMIT, team_limits
from mailkeys.policy import Actor, authorize
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.resolvers.keys import IssuedKey, NewKey, insert_key, prepare_key, validate_static
from mailkeys.tokens import new_id
from mailkeys.validation import clean_name

FIRST_KEY_PRESET = "root:full"


@dataclass(frozen=True)
class LimitUsage:
    """How much of one limited resource a team uses, and its limit."""

    resource: LimitedResource
    used: int
    limit: int


@dataclass(frozen=True)
class CreatedTeam:
    """A new team and its first Full Access key (the token is shown once)."""

    team: Team
    key: IssuedKey


async def create_team(actor: Actor, name: str, hasher: BoundedHasher) -> CreatedTeam:
    """Create a team and its first `root:full` infrastructure key; operator only."""
    authorize(actor, "platform.team.create")
    name = clean_name("name", name, required=True)
    team_id = new_id("team")
    first_key = NewKey(type_="infrastructure", name="First key", preset=FIRST_KEY_PRESET)
    prepared = await prepare_key(validate_static(first_key), hasher)
    async with in_transaction():
        team = await Team.create(id=team_id, name=name)
        key = await insert_key(actor, team.id, prepared)
        await record_event(actor, "team.create", "team", team.id, team.id, details={"name": name})
    return CreatedTeam(team=team, key=IssuedKey(key=key, secret=prepared.token.token))


async def get_team(actor: Actor, team_id: str) -> Team:
    """A team the actor may read: its own (with `team.read`), any for the operator."""
    if actor.team_id is not None:
        authorize(actor, "team.read")
        if team_id != actor.team_id:
            raise NotFoundError("Team")
    else:
        authorize(actor, "platform.team.limits.update")
    team = await Team.filter(id=team_id).first()
    if team is None:
        raise NotFoundError("Team")
    return team


async def list_limits(team_id: str) -> list[LimitUsage]:
    """Every limited resource of the team with its use and limit."""
    now = clock.now()
    limits = await team_limits(team_id)
    return [
        LimitUsage(resource=resource, used=await count_used(team_id, resource, now), limit=limit)
        for resource, limit in limits.items()
    ]


async def update_team_limit(
    actor: Actor, team_id: str, resource: LimitedResource, limit: int
) -> Team:
    """Set one limit of a team; operator only. Lowering below current use blocks new ones."""
    authorize(actor, "platform.team.limits.update")
    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidInputError("limit", f"limit must be between 0 and {MAX_LIMIT}.")
    async with audited(actor, "team.limit.update", "team", team_id, team_id), in_transaction():
        team = await Team.filter(id=team_id).select_for_update().first()
        if team is None:
            raise NotFoundError("Team")
        override = await TeamLimit.filter(team_id=team_id, resource=resource).first()
        previous = override.limit if override else None
        if override is None:
            await TeamLimit.create(team_id=team_id, resource=resource, limit=limit)
        else:
            override.limit = limit
            await override.save(update_fields=["limit"])
        await record_event(
            actor, "team.limit.update", "team", team_id, team_id,
            details={"resource": resource.value, "limit": limit, "previous": previous},
        )  # fmt: skip
    return team
