"""Teams and their per-resource limits (docs/limits.md)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class LimitedResource(StrEnum):
    """Resources a team may hold only so many of."""

    CREDENTIALS = "credentials"
    MAILBOXES = "mailboxes"
    DOMAINS = "domains"
    PROVIDERS = "providers"
    WEBHOOKS = "webhooks"
    INVITATIONS = "invitations"


DEFAULT_LIMITS: dict[LimitedResource, int] = {
    LimitedResource.CREDENTIALS: 100,
    LimitedResource.MAILBOXES: 50,
    LimitedResource.DOMAINS: 25,
    LimitedResource.PROVIDERS: 200,
    LimitedResource.WEBHOOKS: 10,
    LimitedResource.INVITATIONS: 50,
}

MAX_LIMIT = 1_000_000


class Team(Model):
    """A customer team: the unit that owns credentials and resources."""

    id = fields.CharField(primary_key=True, max_length=32)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Set by the owner's deletion: the team's credentials and members (but the owner) are
    # paused until `purge_after`, when the team and everything it holds is removed.
    deletion_requested_at = fields.DatetimeField(null=True)
    purge_after = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "team"

    @property
    def deleting(self) -> bool:
        """True while the team waits for its purge."""
        return self.deletion_requested_at is not None


class TeamLimit(Model):
    """An operator's override of one default limit for one team."""

    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="limit_overrides", on_delete=fields.CASCADE
    )
    resource = fields.CharEnumField(LimitedResource, max_length=32)
    limit = fields.IntField()

    class Meta:
        table = "team_limit"
        unique_together = (("team", "resource"),)


async def team_limit(team_id: str, resource: LimitedResource) -> int:
    """The limit in force for `resource` in the team: its override, else the default."""
    override = await TeamLimit.filter(team_id=team_id, resource=resource).first()
    return override.limit if override else DEFAULT_LIMITS[resource]


async def team_limits(team_id: str) -> dict[LimitedResource, int]:
    """Every limit in force for the team."""
    limits = dict(DEFAULT_LIMITS)
    for override in await TeamLimit.filter(team_id=team_id):
        limits[LimitedResource(override.resource)] = override.limit
    return limits
