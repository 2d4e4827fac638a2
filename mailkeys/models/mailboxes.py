"""Mailboxes: enough for mailbox keys to bind to one and stop while it is suspended."""

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
    address = fields.CharField(max_length=320, unique=True)
    display_name = fields.CharField(max_length=200, default="")
    status = fields.CharEnumField(MailboxStatus, max_length=16, default=MailboxStatus.ACTIVE)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "mailbox"
