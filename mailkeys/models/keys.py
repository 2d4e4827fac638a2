"""API keys: infrastructure, sending and mailbox keys (docs/credentials.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from mailkeys.models.mailboxes import Mailbox, MailboxStatus
from mailkeys.models.teams import Team


class KeyType(StrEnum):
    """Infrastructure keys hold a preset; sending and mailbox keys hold mailbox permissions."""

    INFRASTRUCTURE = "infrastructure"
    SENDING = "sending"
    MAILBOX = "mailbox"


class KeyStatus(StrEnum):
    """Derived from revocation, expiry and the bound mailbox; never stored."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class SendScopeMode(StrEnum):
    """Which providers a sending key may route through."""

    ALL = "all"
    PROVIDERS = "providers"
    DELIVERY_GROUPS = "delivery_groups"


class ApiKey(Model):
    """A key. Only an argon2id hash of its token and a display form are stored."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="api_keys", on_delete=fields.CASCADE
    )
    type = fields.CharEnumField(KeyType, max_length=16)
    name = fields.CharField(max_length=200, default="")
    preset = fields.CharField(max_length=100, null=True)
    permissions: list[str] = fields.JSONField(default=list)
    team_id: str
    mailbox_id: str | None
    mailbox: fields.ForeignKeyNullableRelation[Mailbox] = fields.ForeignKeyField(
        # A deleted mailbox's keys stay on record, revoked and unbound.
        "models.Mailbox",
        related_name="api_keys",
        null=True,
        on_delete=fields.SET_NULL,
    )
    # A sending key narrowed to some mailboxes; None means every mailbox of the team.
    mailbox_ids: list[str] | None = fields.JSONField(null=True)
    send_scope_mode = fields.CharEnumField(SendScopeMode, max_length=16, null=True)
    send_scope_ids: list[str] = fields.JSONField(default=list)
    secret_hash = fields.CharField(max_length=255)
    # A peppered HMAC of the token beside its hash (`<pepper id>:<tag>`, see auth/tags.py):
    # rules a wrong token out without argon2. Null for keys stored before tags existed.
    secret_tag = fields.CharField(max_length=64, null=True)
    # The addresses and networks the key may be used from; null means any.
    allowed_ips: list[str] | None = fields.JSONField(null=True)
    display_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(db_index=True)
    created_by = fields.CharField(max_length=64)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    # Revoked from this instant on; a future value is a rotation's grace period.
    revoked_at = fields.DatetimeField(null=True)
    rotated_from_id = fields.CharField(max_length=32, null=True)
    rotated_to_id = fields.CharField(max_length=32, null=True)
    # A key and its rotation successors share one slot of the team's credential limit.
    slot_id = fields.CharField(max_length=32, db_index=True)

    class Meta:
        table = "api_key"
        indexes = (("team_id", "created_at", "id"),)

    def status_at(self, now: datetime, mailbox_status: MailboxStatus | None) -> KeyStatus:
        """The key's status at `now`."""
        return derive_status(now, self.revoked_at, self.expires_at, mailbox_status)


def derive_status(
    now: datetime,
    revoked_at: datetime | None,
    expires_at: datetime | None,
    mailbox_status: MailboxStatus | None,
) -> KeyStatus:
    """A key's status: revocation wins over expiry, expiry over suspension."""
    if revoked_at is not None and revoked_at <= now:
        return KeyStatus.REVOKED
    if expires_at is not None and expires_at <= now:
        return KeyStatus.EXPIRED
    if mailbox_status is MailboxStatus.SUSPENDED:
        return KeyStatus.SUSPENDED
    return KeyStatus.ACTIVE


def live_key_filter(now: datetime) -> Q:
    """Keys neither revoked nor expired at `now` (they count toward the credential limit)."""
    return (Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def status_filter(status: KeyStatus, now: datetime) -> Q:
    """A query filter selecting keys whose derived status is `status` at `now`."""
    # Spelled out rather than negated: NOT over a NULL column is NULL, never true, in SQL.
    revoked = Q(revoked_at__lte=now)
    not_revoked = Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)
    expired = Q(expires_at__lte=now)
    suspended = Q(mailbox__status=MailboxStatus.SUSPENDED)
    not_suspended = Q(mailbox_id__isnull=True) | Q(mailbox__status=MailboxStatus.ACTIVE)
    if status is KeyStatus.REVOKED:
        return revoked
    if status is KeyStatus.EXPIRED:
        return not_revoked & expired
    live = live_key_filter(now)
    if status is KeyStatus.SUSPENDED:
        return live & suspended
    return live & not_suspended
