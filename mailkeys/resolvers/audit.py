"""Recording and reading audit events (SPEC §3: every change, its actor, target and outcome)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mailkeys import clock
from mailkeys.errors import MailkeysError
from mailkeys.models import AuditEvent
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import Actor, authorize
from mailkeys.telemetry.logs import audit_log
from mailkeys.tokens import new_id


async def record_event(
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | None,
    team_id: str | None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Store one audit event; call inside the change's transaction so both land or neither.

    The event is logged too (`mailkeys.audit`), when its row is written.
    """
    event = await AuditEvent.create(
        id=new_id("evt"),
        team_id=team_id,
        created_at=clock.now(),
        actor=actor.label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        details=details or {},
    )
    audit_log.info(
        "audit",
        extra={
            "event_id": event.id,
            "actor": event.actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "team_id": team_id,
            "outcome": outcome,
            "details": event.details,
        },
    )
    return event


def outcome_of(error: MailkeysError) -> str:
    """`LimitExceededError` -> `limit_exceeded`."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@asynccontextmanager
async def audited(
    actor: Actor, action: str, target_type: str, target_id: str | None, team_id: str | None
) -> AsyncIterator[None]:
    """Record a refused attempt after its transaction rolled back; success records itself."""
    try:
        yield
    except MailkeysError as error:
        await record_event(actor, action, target_type, target_id, team_id, outcome_of(error))
        raise


async def list_events(actor: Actor, first: int | None, after: str | None) -> Page[AuditEvent]:
    """The team's audit trail, newest first; needs `logs.read`."""
    authorize(actor, "logs.read")
    query = AuditEvent.filter(team_id=actor.team_id)
    return await keyset_page(query, first, after)
