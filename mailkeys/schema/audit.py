"""GraphQL for the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from mailkeys.resolvers import audit as audit_resolvers
from mailkeys.resolvers import records
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info


@strawberry.type(description="One recorded change or refused attempt. Never holds a secret.")
class AuditEvent:
    id: strawberry.ID = strawberry.field(description="The event id.")
    created_at: datetime = strawberry.field(description="When it happened.")
    actor: str = strawberry.field(
        description="Who acted: a credential (`infrastructure:<key id>`), a person "
        "(`person:<id>`) or `operator`."
    )
    actor_email: str | None = strawberry.field(description="A person's verified email.")
    action: str = strawberry.field(description="What was attempted, e.g. `key.revoke`.")
    target_type: str = strawberry.field(description="The kind of target.")
    target_id: str | None = strawberry.field(description="The target's id.")
    outcome: str = strawberry.field(description="`success`, or why it was refused.")
    details: JSON = strawberry.field(description="Non-secret details of the change.")

    @classmethod
    def from_model(cls, event: records.AuditEvent) -> AuditEvent:
        """Convert a stored event."""
        return cls(
            id=strawberry.ID(event.id),
            created_at=event.created_at,
            actor=event.actor,
            actor_email=event.actor_email,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            outcome=event.outcome,
            details=cast(JSON, event.details),
        )


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The team's audit trail, newest first. Needs `logs.read`.")
    async def audit_events(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[AuditEvent]:
        page = await audit_resolvers.list_events(info.context.actor, first, after)
        return connection_of(page, AuditEvent.from_model)
