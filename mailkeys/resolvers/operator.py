"""The on-call operator's paths into any team: read its keys and audit trail, revoke a key.

Team permissions (`key.read`, `key.revoke`, `logs.read`) belong to a team's own credentials;
the operator holds only `platform.*`. These functions are the operator's narrow doors, each
checked by the policy like every other decision (`platform.key.read`, `platform.key.revoke`,
`platform.audit.read`, granted to `role:operator` by the shipped `platform` wildcard), and
each revocation is audited with the operator as its actor. The `mailkeys` command uses them.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from mailkeys.errors import NotFoundError
from mailkeys.models import ApiKey, AuditEvent, KeyStatus, KeyType, Team
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import Actor, authorize
from mailkeys.resolvers.audit import audited
from mailkeys.resolvers.keys import revoke_now, team_keys


async def _team(team_id: str) -> Team:
    team = await Team.filter(id=team_id).first()
    if team is None:
        raise NotFoundError("Team")
    return team


async def list_team_keys(
    actor: Actor,
    team_id: str,
    first: int | None,
    after: str | None,
    type_: KeyType | None = None,
    status: KeyStatus | None = None,
) -> Page[ApiKey]:
    """Any team's keys, newest first; needs `platform.key.read`."""
    authorize(actor, "platform.key.read")
    await _team(team_id)
    return await keyset_page(team_keys(team_id, type_, status), first, after)


async def list_team_events(
    actor: Actor, team_id: str, first: int | None, after: str | None
) -> Page[AuditEvent]:
    """Any team's audit trail, newest first; needs `platform.audit.read`."""
    authorize(actor, "platform.audit.read")
    await _team(team_id)
    return await keyset_page(AuditEvent.filter(team_id=team_id), first, after)


async def revoke_any_key(actor: Actor, key_id: str) -> ApiKey:
    """Revoke any team's key now (idempotent); needs `platform.key.revoke`."""
    authorize(actor, "platform.key.revoke")
    key = await ApiKey.filter(id=key_id).select_related("mailbox").first()
    if key is None:
        raise NotFoundError("ApiKey")
    async with audited(actor, "key.revoke", "api_key", key.id, key.team_id), in_transaction():
        await revoke_now(actor, key)
    return key
