"""Audit events: who did what to which target, and how it ended. Never a secret."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    """One recorded create, rotate, revoke, suspend, resume, limit or policy change."""

    id = fields.CharField(primary_key=True, max_length=32)
    team_id = fields.CharField(max_length=32, null=True, db_index=True)
    created_at = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=64)
    # A person's verified email at the time (people are named by id and email).
    actor_email = fields.CharField(max_length=320, null=True)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32)
    target_id = fields.CharField(max_length=64, null=True)
    outcome = fields.CharField(max_length=32)
    details: dict[str, Any] = fields.JSONField(default=dict)

    class Meta:
        table = "audit_event"
