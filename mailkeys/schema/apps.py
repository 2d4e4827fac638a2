"""GraphQL for connected apps: registering an app, a team's connections, disconnecting."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.resolvers import apps as app_resolvers
from mailkeys.resolvers import records
from mailkeys.resolvers.records import AppRegistrar
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum

describe_enum(
    AppRegistrar,
    "Who registered an app.",
    {
        "OPERATOR": "The platform operator, for every team.",
        "TEAM": "A team, for its own use.",
        "DCR": "The app itself, by dynamic client registration (RFC 7591), as MCP clients do.",
    },
)


@strawberry.type(
    description="An app that connects through OAuth (a partner integration or an MCP client)."
)
class ConnectedApp:
    id: strawberry.ID = strawberry.field(description="The app's OAuth client id.")
    name: str = strawberry.field(description="Its name, as registered.")
    redirect_uris: list[str] = strawberry.field(
        description="Where it may receive codes; matched exactly."
    )
    public: bool = strawberry.field(
        description="True for a public client (no secret; PKCE alone), e.g. a desktop app."
    )
    registered_by: AppRegistrar = strawberry.field(description="Who registered it.")
    client_uri: str | None = strawberry.field(description="Its home page, if it gave one.")
    created_at: datetime = strawberry.field(description="When it was registered.")

    @classmethod
    def from_model(cls, app: records.OAuthApp) -> ConnectedApp:
        """Convert a stored app (its secret is never stored, only its tag)."""
        return cls(
            id=strawberry.ID(app.id),
            name=app.name,
            redirect_uris=list(app.redirect_uris),
            public=app.is_public,
            registered_by=app.registered_by,
            client_uri=app.client_uri,
            created_at=app.created_at,
        )


@strawberry.type(
    description="An app connected to the team: what a person chose for it, within their role."
)
class AppConnection:
    id: strawberry.ID = strawberry.field(description="The connection id.")
    app: ConnectedApp = strawberry.field(description="The app.")
    product_lines: list[str] = strawberry.field(
        description="What it may reach: `management`, `mailbox` and/or `sending`."
    )
    groups: list[str] = strawberry.field(
        description="The Management permission groups chosen, as `group:level` "
        "(`keys:read`, `domains:custom`)."
    )
    permissions: list[str] = strawberry.field(
        description="What it may do: its choices within the authorizing person's role."
    )
    mailbox_ids: list[strawberry.ID] | None = strawberry.field(
        description="The mailboxes Mailbox and Sending reach; null: every mailbox of the team."
    )
    authorized_by: str = strawberry.field(description="The person who authorized it (their id).")
    authorized_by_email: str | None = strawberry.field(
        description="Their verified email at the time."
    )
    created_at: datetime = strawberry.field(description="When it was first connected.")
    updated_at: datetime = strawberry.field(description="When it was last authorized.")
    last_used_at: datetime | None = strawberry.field(
        description="When one of its access tokens was last used (about a minute's precision)."
    )
    request_count: int = strawberry.field(
        description="How many requests its access tokens made (written about once a minute)."
    )

    @classmethod
    def from_model(cls, connection: records.AppConnection) -> AppConnection:
        """Convert a stored connection (its app fetched with it)."""
        return cls(
            id=strawberry.ID(connection.id),
            app=ConnectedApp.from_model(connection.app),
            product_lines=list(connection.lines),
            groups=[f"{group}:{level}" for group, level in sorted(connection.groups.items())],
            permissions=list(connection.permissions),
            mailbox_ids=(
                None
                if connection.mailbox_ids is None
                else [strawberry.ID(mailbox) for mailbox in connection.mailbox_ids]
            ),
            authorized_by=connection.authorized_by,
            authorized_by_email=connection.authorized_by_email,
            created_at=connection.created_at,
            updated_at=connection.updated_at,
            last_used_at=connection.last_used_at,
            request_count=connection.request_count,
        )


@strawberry.input(description="A new app: a partner integration's OAuth client.")
class AppRegisterInput:
    name: str = strawberry.field(description="Its name, shown on the consent page.")
    redirect_uris: list[str] = strawberry.field(
        description="1 to 10 redirect URIs, matched exactly: https, http on a loopback host, "
        "or a native app's private-use scheme."
    )
    public: bool = strawberry.field(
        default=False,
        description="True for a client that cannot keep a secret (PKCE alone); false: a "
        "client secret is issued and shown once.",
    )
    client_uri: str | None = strawberry.field(
        default=None, description="Its https home page, shown on the consent page."
    )


@strawberry.type(description="The registered app and, for a confidential one, its secret.")
class AppRegisterPayload:
    app: ConnectedApp = strawberry.field(description="The app.")
    client_secret: str | None = strawberry.field(
        description="The client secret: shown this once, never again; null for a public app."
    )


@strawberry.input(description="Names a connection.")
class AppConnectionIdInput:
    id: strawberry.ID = strawberry.field(description="The connection.")


@strawberry.type(description="The connection, disconnected.")
class AppConnectionDisconnectPayload:
    app_connection: AppConnection = strawberry.field(description="The connection.")


@strawberry.type
class AppQueries:
    @strawberry.field(description="The apps connected to the team, newest first. Needs `key.read`.")
    async def app_connections(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[AppConnection]:
        page = await app_resolvers.app_connections(info.context.actor, first, after)
        return connection_of(page, AppConnection.from_model)


@strawberry.type
class AppMutations:
    @strawberry.mutation(
        description="Register an app: the operator's for every team (`platform.app.register`), "
        "or a team's own integration (`key.create`). Apps may also register themselves "
        "(`POST /oauth/register`)."
    )
    async def app_register(
        self,
        info: Info,
        input: Annotated[AppRegisterInput, strawberry.argument(description="The app.")],
    ) -> AppRegisterPayload:
        pepper = await info.context.services.hasher.tags.pepper()
        registration = app_resolvers.AppRegistration(
            name=input.name,
            redirect_uris=list(input.redirect_uris),
            public=input.public,
            client_uri=input.client_uri,
        )
        registered = await app_resolvers.register_app(info.context.actor, registration, pepper)
        return AppRegisterPayload(
            app=ConnectedApp.from_model(registered.app), client_secret=registered.client_secret
        )

    @strawberry.mutation(
        description="Disconnect an app from the team: its grant, refresh and access tokens "
        "stop at once, on every worker. Needs `key.revoke`. Idempotent."
    )
    async def app_connection_disconnect(
        self,
        info: Info,
        input: Annotated[AppConnectionIdInput, strawberry.argument(description="The connection.")],
    ) -> AppConnectionDisconnectPayload:
        connection = await app_resolvers.disconnect_app(info.context.actor, input.id)
        return AppConnectionDisconnectPayload(app_connection=AppConnection.from_model(connection))
