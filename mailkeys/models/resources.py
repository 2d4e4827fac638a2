"""The team resources the role presets govern: domains, webhooks, billing, queued messages."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from mailkeys.models.mailboxes import Mailbox
from mailkeys.models.routing import Provider
from mailkeys.models.teams import Team

# Where a team publishes its domain's verification value: beside the domain's own records,
# not among them (the apex TXT set often holds SPF, which one more value would not disturb,
# but an underscore name is plainly ours and never collides with a host).
VERIFICATION_RECORD_PREFIX = "_mailkeys"


class Domain(Model):
    """A sending domain of the team, verified once its DNS TXT record is seen.

    `verified_name` is the name while the domain is verified, and null otherwise: it is
    unique, so at most one team holds a verified name, even when two verify at once.
    `reverification_required` marks a domain that was marked verified before mailkeys
    checked DNS (see docs/domains.md): it keeps working until another team proves the
    domain by DNS, which takes the name over.
    """

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="domains", on_delete=fields.CASCADE
    )
    team_id: str
    name = fields.CharField(max_length=253)
    verification_record = fields.CharField(max_length=100)
    verified_at = fields.DatetimeField(null=True)
    verified_name = fields.CharField(max_length=253, null=True, unique=True)
    reverification_required = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "domain"
        unique_together = (("team", "name"),)

    @property
    def verification_record_name(self) -> str:
        """The DNS name at which the TXT record `verification_record` is published."""
        return f"{VERIFICATION_RECORD_PREFIX}.{self.name}"


class Webhook(Model):
    """An HTTPS endpoint that receives the team's events, signed with a shared secret.

    The signing secret must be readable by the platform to sign deliveries, so it is stored
    as is. the API shows it only when it is created or rotated.
    """

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="webhooks", on_delete=fields.CASCADE
    )
    team_id: str
    url = fields.CharField(max_length=2000)
    events: list[str] = fields.JSONField(default=list)
    active = fields.BooleanField(default=True)
    signing_secret = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook"


class BillingProfile(Model):
    """Who pays for the team, and where invoices go."""

    team: fields.OneToOneRelation[Team] = fields.OneToOneField(
        "models.Team", related_name="billing_profile", on_delete=fields.CASCADE, primary_key=True
    )
    team_id: str
    company = fields.CharField(max_length=200, default="")
    email = fields.CharField(max_length=320, default="")
    address = fields.TextField(default="")
    tax_id = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "billing_profile"


class Message(Model):
    """A message accepted by the Sending API and queued for its provider."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="messages", on_delete=fields.CASCADE
    )
    # A queued message outlives its provider or mailbox being deleted: it is a record.
    mailbox: fields.ForeignKeyNullableRelation[Mailbox] = fields.ForeignKeyField(
        "models.Mailbox", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    provider: fields.ForeignKeyNullableRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    provider_id: str | None
    mailbox_id: str | None
    credential_id = fields.CharField(max_length=64)
    sender = fields.CharField(max_length=320)
    recipients: list[str] = fields.JSONField()
    subject = fields.CharField(max_length=998)
    text = fields.TextField(default="")
    html = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="queued")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "message"
