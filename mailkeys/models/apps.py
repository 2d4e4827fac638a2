"""Connected apps: OAuth clients, their connections to teams, codes and tokens.

An app (an OAuth client) is registered by the operator, by a team or by dynamic client
registration. A person connects it to a team on the consent page: that makes (or updates)
the one `AppConnection` of the (team, app) pair, which holds what the person chose. Codes
and tokens are found by their peppered tag (auth/tags.py), never by a stored secret.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from mailkeys.models.teams import Team


class AppRegistrar(StrEnum):
    """Who registered an app."""

    OPERATOR = "operator"
    TEAM = "team"
    DCR = "dcr"  # dynamic client registration (RFC 7591), as MCP clients do


class ProductLine(StrEnum):
    """What a connection may reach: team administration, mailboxes, sending."""

    MANAGEMENT = "management"
    MAILBOX = "mailbox"
    SENDING = "sending"


class AppTokenKind(StrEnum):
    """An access token (`smx_app_`) or a refresh token (`smx_apr_`)."""

    ACCESS = "access"
    REFRESH = "refresh"


class OAuthApp(Model):
    """An OAuth client: its id, redirect URIs and, if confidential, the tag of its secret."""

    id = fields.CharField(primary_key=True, max_length=32)  # the client_id
    name = fields.CharField(max_length=200)
    redirect_uris: list[str] = fields.JSONField()
    # The peppered tag of the client secret; null for a public client (PKCE only).
    secret_tag = fields.CharField(max_length=64, null=True)
    registered_by = fields.CharEnumField(AppRegistrar, max_length=16)
    # The team that registered it (its own integration); null for operator and DCR apps.
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="registered_apps", on_delete=fields.CASCADE, null=True
    )
    team_id: str | None
    client_uri = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "oauth_app"

    @property
    def is_public(self) -> bool:
        """True for a client without a secret (it authenticates with PKCE alone)."""
        return self.secret_tag is None

    def __repr__(self) -> str:
        return f"OAuthApp(id={self.id!r})"


class AppConnection(Model):
    """One app connected to one team: what a person chose, within their role."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="app_connections", on_delete=fields.CASCADE
    )
    team_id: str
    app: fields.ForeignKeyRelation[OAuthApp] = fields.ForeignKeyField(
        "models.OAuthApp", related_name="connections", on_delete=fields.CASCADE
    )
    app_id: str
    lines: list[str] = fields.JSONField()
    # Management groups as chosen: {"keys": "read", "domains": "custom", ...}.
    groups: dict[str, str] = fields.JSONField()
    # What the connection may do: its choices within the authorizing person's role.
    permissions: list[str] = fields.JSONField()
    # Mailboxes the Mailbox and Sending lines reach; null: every mailbox of the team.
    mailbox_ids: list[str] | None = fields.JSONField(null=True)
    authorized_by = fields.CharField(max_length=32)  # the person's id
    authorized_by_email = fields.CharField(max_length=320, null=True)
    created_at = fields.DatetimeField(db_index=True)
    updated_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)
    request_count = fields.BigIntField(default=0)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "app_connection"
        unique_together = (("team", "app"),)

    @property
    def active(self) -> bool:
        """False once disconnected (until a person connects the app again)."""
        return self.revoked_at is None


class AuthorizationCode(Model):
    """An authorization code, found by its tag, usable once, for a minute."""

    tag = fields.CharField(primary_key=True, max_length=64)
    app: fields.ForeignKeyRelation[OAuthApp] = fields.ForeignKeyField(
        "models.OAuthApp", related_name="codes", on_delete=fields.CASCADE
    )
    app_id: str
    connection: fields.ForeignKeyRelation[AppConnection] = fields.ForeignKeyField(
        "models.AppConnection", related_name="codes", on_delete=fields.CASCADE
    )
    connection_id: str
    redirect_uri = fields.CharField(max_length=2000)
    code_challenge = fields.CharField(max_length=128)
    code_challenge_method = fields.CharField(max_length=8)
    person_id = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    # The token family its exchange started, revoked if the code is presented again.
    family = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "oauth_code"

    def __repr__(self) -> str:
        return f"AuthorizationCode(app_id={self.app_id!r})"


class AppToken(Model):
    """An access or refresh token of a connection, by public id, its secret only as a tag."""

    id = fields.CharField(primary_key=True, max_length=32)
    kind = fields.CharEnumField(AppTokenKind, max_length=8)
    connection: fields.ForeignKeyRelation[AppConnection] = fields.ForeignKeyField(
        "models.AppConnection", related_name="tokens", on_delete=fields.CASCADE
    )
    connection_id: str
    # Every token descending from one authorization code: a reused refresh token revokes it.
    family = fields.CharField(max_length=32, db_index=True)
    secret_tag = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    # A refresh token is used once: rotated_at marks the use.
    rotated_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_token"

    def __repr__(self) -> str:
        return f"AppToken(id={self.id!r}, kind={self.kind!r})"

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked, rotated nor expired at `now`."""
        return (
            self.revoked_at is None
            and self.rotated_at is None
            and (self.expires_at is None or self.expires_at > now)
        )
