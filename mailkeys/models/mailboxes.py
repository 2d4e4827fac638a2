"""Mailboxes and their per-integration passwords (docs/mailboxes-and-sending.md)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from mailkeys.models.teams import Team


class MailboxStatus(StrEnum):
    """A suspended mailbox's credentials fail authentication; nothing is deleted."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class Mailbox(Model):
    """An email address of the team, with its own credentials."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="mailboxes", on_delete=fields.CASCADE
    )
    team_id: str
    address = fields.CharField(max_length=320, unique=True)
    display_name = fields.CharField(max_length=200, default="")
    reply_to = fields.CharField(max_length=320, default="")
    signature = fields.TextField(default="")
    status = fields.CharEnumField(MailboxStatus, max_length=16, default=MailboxStatus.ACTIVE)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "mailbox"


class MailboxPassword(Model):
    """A password for one device or app on one mailbox. only its argon2id hash is kept."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="mailbox_passwords", on_delete=fields.CASCADE
    )
    team_id: str
    mailbox: fields.ForeignKeyRelation[Mailbox] = fields.ForeignKeyField(
        "models.Mailbox", related_name="passwords", on_delete=fields.CASCADE
    )
    mailbox_id: str
    app_name = fields.CharField(max_length=200)
    permissions: list[str] = fields.JSONField(default=list)
    secret_hash = fields.CharField(max_length=255)
    # As on keys: a peppered HMAC of the password, and where it may be used from (null: any).
    secret_tag = fields.CharField(max_length=64, null=True)
    allowed_ips: list[str] | None = fields.JSONField(null=True)
    display = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()
    created_by = fields.CharField(max_length=64)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mailbox_password"
