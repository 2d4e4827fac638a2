"""The on-call operator's paths into any team: read its keys and audit trail, revoke a key.

Team permissions (`key.read`, `key.revoke`, `logs.read`) belong to a team's own credentials;
the operator holds only `platform.*`. These functions are the operator's narrow doors, each
checked by the policy like every other decision (`platform.key.read`, `platform.key.revoke`,
`platform.audit.read`, granted to `role:operator` by the shipped `platform` wildcard), and
each revocation is audited with the operator as its actor. The `mailkeys` command uses them.
"""

from __future__ import annotations

from mailkeys.models import ApiKey, AuditEvent, KeyStatus, KeyType, Team
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, load_for
from mailkeys.resolvers.changes import Action, change
from mailkeys.resolvers.keys import WITH_MAILBOX, revoke_now, team_keys

REVOKE_ANY = Action("key.revoke", "platform.key.revoke", "api_key")


async def list_team_keys(
    actor: Actor,
    team_id: str,
    first: int | None,
    after: str | None,
    type_: KeyType | None = None,
    status: KeyStatus | None = None,
) -> Page[ApiKey]:
    """Any team's keys, newest first; needs `platform.key.read`."""
    team = await load_for(actor, "platform.key.read", Team, team_id)
    return await keyset_page(team_keys(team.id, type_, status), first, after)


async def list_team_events(
    actor: Actor, team_id: str, first: int | None, after: str | None
) -> Page[AuditEvent]:
    """Any team's audit trail, newest first; needs `platform.audit.read`."""
    team = await load_for(actor, "platform.audit.read", Team, team_id)
    return await keyset_page(AuditEvent.filter(team_id=team.id), first, after)


async def revoke_any_key(actor: Actor, key_id: str) -> ApiKey:
    """Revoke any team's key now (idempotent); needs `platform.key.revoke`."""
    async with change(actor, REVOKE_ANY, key_id) as attempt, attempt.transaction():
        key = await attempt.load(ApiKey, key_id, WITH_MAILBOX)
        await revoke_now(attempt, key)
    return key
