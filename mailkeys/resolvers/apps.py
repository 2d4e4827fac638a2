"""Connected apps: registering an app, and a team's connections (list, disconnect).

A connection is a credential of its team: it takes one slot of the team's credential limit
while it is active, and disconnecting it revokes its tokens at once, on every worker (the
access tokens are checked against their connection on every request).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.auth.tags import Pepper
from mailkeys.models import AppConnection, AppRegistrar, OAuthApp
from mailkeys.models.oauth import revoke_connection_tokens
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, team_for
from mailkeys.resolvers.changes import Action, change, record_event
from mailkeys.tokens import new_id, random_base62
from mailkeys.validation import clean_name, https_url, redirect_uris

REGISTER = Action("app.register", "key.create", "app")
REGISTER_PLATFORM = Action("app.register", "platform.app.register", "app")
DISCONNECT = Action("app.disconnect", "key.revoke", "app_connection")
CLIENT_SECRET_LENGTH = 43  # base62: about 256 bits


@dataclass(frozen=True)
class RegisteredApp:
    """A new app and, for a confidential one, its client secret, which is shown this once."""

    app: OAuthApp
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AppRegistration:
    """What registering an app takes (checked by `register_app`)."""

    name: str
    redirect_uris: list[str]
    public: bool
    client_uri: str | None = None


def _cleaned(registration: AppRegistration) -> AppRegistration:
    client_uri = registration.client_uri
    return AppRegistration(
        name=clean_name("name", registration.name, required=True),
        redirect_uris=redirect_uris("redirectUris", registration.redirect_uris),
        public=registration.public,
        client_uri=https_url("clientUri", client_uri) if client_uri else None,
    )


async def _store_app(
    registration: AppRegistration,
    registrar: AppRegistrar,
    team_id: str | None,
    pepper: Pepper,
) -> RegisteredApp:
    secret = None if registration.public else random_base62(CLIENT_SECRET_LENGTH)
    app = await OAuthApp.create(
        id=new_id("app"),
        name=registration.name,
        redirect_uris=registration.redirect_uris,
        secret_tag=None if secret is None else pepper.tag(secret),
        registered_by=registrar,
        team_id=team_id,
        client_uri=registration.client_uri,
        created_at=clock.now(),
    )
    return RegisteredApp(app=app, client_secret=secret)


def _details(app: OAuthApp) -> dict[str, object]:
    return {
        "name": app.name,
        "redirect_uris": app.redirect_uris,
        "public": app.is_public,
        "registered_by": app.registered_by.value,
    }


async def register_app(
    actor: Actor, registration: AppRegistration, pepper: Pepper
) -> RegisteredApp:
    """Register an app: the operator's, for every team, or a team's own integration."""
    action = REGISTER_PLATFORM if actor.is_operator else REGISTER
    async with change(actor, action) as attempt:
        cleaned = _cleaned(registration)
        team_id = None if actor.is_operator else attempt.team
        registrar = AppRegistrar.OPERATOR if actor.is_operator else AppRegistrar.TEAM
        async with attempt.transaction():
            registered = await _store_app(cleaned, registrar, team_id, pepper)
            await attempt.succeeded(registered.app.id, _details(registered.app))
    return registered


async def register_dynamic_app(
    actor: Actor, registration: AppRegistration, pepper: Pepper
) -> RegisteredApp:
    """Dynamic client registration (RFC 7591): anyone may register, as MCP clients do; the
    app can do nothing until a person connects it to a team on the consent page.

    `actor` is the anonymous registrant as the audit trail names it.
    """
    cleaned = _cleaned(registration)
    async with in_transaction():
        registered = await _store_app(cleaned, AppRegistrar.DCR, None, pepper)
        await record_event(
            actor,
            "app.register",
            "app",
            registered.app.id,
            None,
            details=_details(registered.app),
            actor_label="dynamic_registration",
        )
    return registered


async def app_connections(
    actor: Actor, first: int | None, after: str | None
) -> Page[AppConnection]:
    """The team's active connections, newest first."""
    team_id = team_for(actor, "key.read")
    query = AppConnection.filter(team_id=team_id, revoked_at__isnull=True).select_related("app")
    return await keyset_page(query, first, after)


async def disconnect_app(actor: Actor, connection_id: str) -> AppConnection:
    """Disconnect an app from the team: its grant and every token end now (idempotent)."""
    async with change(actor, DISCONNECT, connection_id) as attempt, attempt.locked():
        connection = await attempt.load(AppConnection, connection_id, related=("app",))
        if connection.revoked_at is None:
            now = clock.now()
            connection.revoked_at = now
            await connection.save(update_fields=["revoked_at"])
            revoked = await revoke_connection_tokens(connection.id, now)
            await attempt.succeeded(
                connection.id, {"app_id": connection.app_id, "tokens_revoked": revoked}
            )
    return connection
