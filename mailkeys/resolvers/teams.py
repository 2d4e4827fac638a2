"""Teams, their first key, and their limits."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.errors import InvalidInputError, LimitExceededError, PermissionDeniedError
from mailkeys.models import LimitedResource, MemberRole, Membership, Team, TeamLimit
from mailkeys.models.limits import count_used
from mailkeys.models.teams import MAX_LIMIT, team_limits
from mailkeys.policy import Actor, CredentialKind, load_for
from mailkeys.resolvers.changes import Action, change, record_event
from mailkeys.resolvers.key_config import (
    IssuedKey,
    NewKey,
    insert_key,
    prepare_key,
    validate_static,
)
from mailkeys.tokens import new_id
from mailkeys.validation import clean_name

FIRST_KEY_PRESET = "root:full"
# A person may start this many teams of their own (a bound on abuse, not a product limit).
MAX_OWNED_TEAMS = 20
# Its own team for a team's credential (`team.read`), any team for the operator.
READ = ("platform.team.read", "team.read")
CREATE = Action("team.create", "platform.team.create", "team")
LIMIT_UPDATE = Action("team.limit.update", "platform.team.limits.update", "team")


@dataclass(frozen=True)
class LimitUsage:
    """How much of one limited resource a team uses, and its limit."""

    resource: LimitedResource
    used: int
    limit: int


@dataclass(frozen=True)
class CreatedTeam:
    """A new team and either its first Full Access key (the token is shown once), when the
    operator created it, or its Owner's membership, when a person did."""

    team: Team
    key: IssuedKey | None = None
    membership: Membership | None = None

    @property
    def first_key(self) -> IssuedKey:
        """The first key of a team the operator created (a person's team has none)."""
        if self.key is None:
            raise LookupError("a team created by a person has no first key")
        return self.key


async def create_team(actor: Actor, name: str, hasher: BoundedHasher) -> CreatedTeam:
    """Create a team: the operator's gets a first `root:full` key, a person becomes Owner."""
    if actor.kind is CredentialKind.PERSON:
        return await _create_owned_team(actor, name)
    async with change(actor, CREATE) as attempt:
        name = clean_name("name", name, required=True)
        first_key = NewKey(type_="infrastructure", name="First key", preset=FIRST_KEY_PRESET)
        prepared = await prepare_key(validate_static(first_key), hasher)
        async with attempt.transaction():
            team = await Team.create(id=new_id("team"), name=name)
            attempt.team_id = team.id
            key = await insert_key(actor, team.id, prepared)
            await attempt.succeeded(team.id, {"name": name})
    return CreatedTeam(team=team, key=IssuedKey(key=key, secret=prepared.token.token))


async def get_team(actor: Actor, team_id: str) -> Team:
    """A team the actor may read: its own (with `team.read`), any for the operator."""
    return await load_for(actor, READ, Team, team_id)


async def list_limits(actor: Actor, team_id: str) -> list[LimitUsage]:
    """Every limited resource of the team with its use and limit; read as the team is."""
    team = await get_team(actor, team_id)
    now = clock.now()
    limits = await team_limits(team.id)
    return [
        LimitUsage(resource=resource, used=await count_used(team.id, resource, now), limit=limit)
        for resource, limit in limits.items()
    ]


async def update_team_limit(
    actor: Actor, team_id: str, resource: LimitedResource, limit: int
) -> Team:
    """Set one limit of a team; operator only. Lowering below current use blocks new ones."""
    async with change(actor, LIMIT_UPDATE, team_id) as attempt:
        if not 0 <= limit <= MAX_LIMIT:
            raise InvalidInputError("limit", f"limit must be between 0 and {MAX_LIMIT}.")
        team = await attempt.load(Team, team_id)
        async with attempt.locked():
            override = await TeamLimit.filter(team_id=team.id, resource=resource).first()
            previous = override.limit if override else None
            if override is None:
                await TeamLimit.create(team_id=team.id, resource=resource, limit=limit)
            else:
                override.limit = limit
                await override.save(update_fields=["limit"])
            await attempt.succeeded(
                team.id, {"resource": resource.value, "limit": limit, "previous": previous}
            )
    return team


async def _create_owned_team(actor: Actor, name: str) -> CreatedTeam:
    """A signed-in person starts a team of their own, as its Owner (up to a bound)."""
    name = clean_name("name", name, required=True)
    person_id = actor.credential_id
    if person_id is None:
        raise PermissionDeniedError("team.create")
    async with in_transaction():
        owned = await Membership.filter(person_id=person_id, role=MemberRole.OWNER).count()
        if owned >= MAX_OWNED_TEAMS:
            raise LimitExceededError("teams owned", MAX_OWNED_TEAMS)
        team = await Team.create(id=new_id("team"), name=name)
        membership = await Membership.create(
            id=new_id("mbr"), team_id=team.id, person_id=person_id, role=MemberRole.OWNER,
            created_at=clock.now(),
        )  # fmt: skip
        await record_event(actor, "team.create", "team", team.id, team.id, details={"name": name})
    await membership.fetch_related("person", "team")
    return CreatedTeam(team=team, membership=membership)
