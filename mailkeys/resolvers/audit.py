"""Reading a team's audit trail (changes are recorded by `changes.py`)."""

from __future__ import annotations

from mailkeys.models import AuditEvent
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, team_for


async def list_events(actor: Actor, first: int | None, after: str | None) -> Page[AuditEvent]:
    """The team's audit trail, newest first; needs `logs.read`."""
    team_id = team_for(actor, "logs.read")
    return await keyset_page(AuditEvent.filter(team_id=team_id), first, after)
