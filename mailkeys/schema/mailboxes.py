"""GraphQL for mailboxes and mailbox passwords."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.resolvers import mailboxes as mailbox_resolvers
from mailkeys.resolvers import passwords as password_resolvers
from mailkeys.resolvers import records
from mailkeys.resolvers.records import MailboxStatus
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum

describe_enum(
    MailboxStatus,
    "A suspended mailbox's credentials stop working.",
    {
        "ACTIVE": "Its keys and passwords work.",
        "SUSPENDED": "Its keys and passwords fail, and nothing sends from it, until resumed.",
    },
)


@strawberry.type(description="An email address of the team, with its own credentials.")
class Mailbox:
    id: strawberry.ID = strawberry.field(description="The mailbox id.")
    address: str = strawberry.field(description="Its email address.")
    display_name: str = strawberry.field(description="The name shown to recipients.")
    reply_to: str = strawberry.field(description="Where replies go (empty: the address).")
    signature: str = strawberry.field(
        description="The signature mail clients and the sending gateways add; emailSend stores "
        "bodies as given."
    )
    status: MailboxStatus = strawberry.field(description="Active or suspended.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_model(cls, mailbox: records.Mailbox) -> Mailbox:
        """Convert a stored mailbox."""
        return cls(
            id=strawberry.ID(mailbox.id),
            address=mailbox.address,
            display_name=mailbox.display_name,
            reply_to=mailbox.reply_to,
            signature=mailbox.signature,
            status=MailboxStatus(mailbox.status),
            created_at=mailbox.created_at,
        )


@strawberry.type(description="A password of one app or device. The password is never shown again.")
class MailboxPassword:
    id: strawberry.ID = strawberry.field(description="The password id (its first characters).")
    mailbox_id: strawberry.ID = strawberry.field(description="Its mailbox.")
    app_name: str = strawberry.field(description="The app or device it is for.")
    permissions: list[str] = strawberry.field(description="Mailbox permissions it holds.")
    display: str = strawberry.field(description="Its last 4 characters.")
    created_at: datetime = strawberry.field(description="When it was created.")
    created_by: str = strawberry.field(description="Who created it.")
    last_used_at: datetime | None = strawberry.field(description="Last successful use (~1 min).")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked.")
    allowed_ips: list[str] | None = strawberry.field(
        description="IPv4/IPv6 addresses and CIDR networks the mail client may connect from "
        "(the gateway's `clientIp`); null means any."
    )

    @classmethod
    def from_model(cls, row: records.MailboxPassword) -> MailboxPassword:
        """Convert a stored password row (no secret in it)."""
        return cls(
            id=strawberry.ID(row.id),
            mailbox_id=strawberry.ID(row.mailbox_id),
            app_name=row.app_name,
            permissions=list(row.permissions),
            display=row.display,
            created_at=row.created_at,
            created_by=row.created_by,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            allowed_ips=row.allowed_ips,
        )


@strawberry.type(description="How a mail client connects with a mailbox password.")
class ConnectionSettings:
    username: str = strawberry.field(description="The mailbox address.")
    imap_host: str = strawberry.field(description="IMAP server (TLS).")
    imap_port: int = strawberry.field(description="993.")
    smtp_host: str = strawberry.field(description="SMTP submission server (STARTTLS).")
    smtp_port: int = strawberry.field(description="587.")


@strawberry.input(description="A new mailbox.")
class MailboxCreateInput:
    address: str = strawberry.field(
        description="Its email address (unique): on the platform's shared domain or on a "
        "domain the team has verified."
    )
    display_name: str | None = strawberry.field(default=None, description="Its display name.")


@strawberry.input(description="Identity and settings to change; absent fields stay.")
class MailboxUpdateInput:
    id: strawberry.ID = strawberry.field(description="The mailbox.")
    display_name: str | None = strawberry.field(default=None, description="Display name.")
    reply_to: str | None = strawberry.field(default=None, description="Reply-to address.")
    signature: str | None = strawberry.field(default=None, description="Signature.")


@strawberry.input(description="Names a mailbox.")
class MailboxIdInput:
    id: strawberry.ID = strawberry.field(description="The mailbox.")


@strawberry.type(description="The mailbox after the change.")
class MailboxPayload:
    mailbox: Mailbox = strawberry.field(description="The mailbox.")


@strawberry.input(description="A new password for one app on one mailbox.")
class MailboxPasswordCreateInput:
    mailbox_id: strawberry.ID = strawberry.field(description="The mailbox.")
    app_name: str = strawberry.field(description="The app or device it is for.")
    allowed_ips: list[str] | None = strawberry.field(
        default=None,
        description="Addresses and CIDR networks (at most 100) the mail client may connect "
        "from; absent or null: any.",
    )


@strawberry.type(description="The new password, shown only here, and how to connect.")
class MailboxPasswordCreatePayload:
    mailbox_password: MailboxPassword = strawberry.field(description="Its metadata.")
    password: str = strawberry.field(description="The password. Store it now.")
    connection: ConnectionSettings = strawberry.field(description="Client settings.")


@strawberry.input(description="Names a mailbox password.")
class MailboxPasswordRevokeInput:
    id: strawberry.ID = strawberry.field(description="The password id.")


@strawberry.type(description="The revoked password.")
class MailboxPasswordRevokePayload:
    mailbox_password: MailboxPassword = strawberry.field(description="Its metadata.")


@strawberry.type
class MailboxQueries:
    @strawberry.field(description="One mailbox: `mailbox.admin.read`, or `mailbox.read` on it.")
    async def mailbox(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The mailbox id.")],
    ) -> Mailbox:
        return Mailbox.from_model(await mailbox_resolvers.get_mailbox(info.context.actor, id))

    @strawberry.field(description="The team's mailboxes, or the caller's own ones.")
    async def mailboxes(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Mailbox]:
        page = await mailbox_resolvers.list_mailboxes(info.context.actor, first, after)
        return connection_of(page, Mailbox.from_model)

    @strawberry.field(description="A mailbox's passwords with last use. `mailbox.admin.read`.")
    async def mailbox_passwords(
        self,
        info: Info,
        mailbox_id: Annotated[strawberry.ID, strawberry.argument(description="The mailbox id.")],
    ) -> list[MailboxPassword]:
        rows = await password_resolvers.list_passwords(info.context.actor, mailbox_id)
        return [MailboxPassword.from_model(row) for row in rows]


@strawberry.type
class MailboxMutations:
    @strawberry.mutation(
        description="Create a mailbox. `mailbox.admin.create`; limit applies. BAD_USER_INPUT "
        "(field `address`) off the shared domain and the team's verified domains; CONFLICT "
        "if the address is taken."
    )
    async def mailbox_create(
        self,
        info: Info,
        input: Annotated[
            MailboxCreateInput, strawberry.argument(description="The mailbox to create.")
        ],
    ) -> MailboxPayload:
        mailbox = await mailbox_resolvers.create_mailbox(
            info.context.actor,
            input.address,
            input.display_name,
            info.context.services.shared_domain,
        )
        return MailboxPayload(mailbox=Mailbox.from_model(mailbox))

    @strawberry.mutation(
        description="Change identity and settings: `mailbox.settings.update` on it, or "
        "`mailbox.admin.manage`."
    )
    async def mailbox_update(
        self,
        info: Info,
        input: Annotated[
            MailboxUpdateInput,
            strawberry.argument(description="The mailbox and the settings to change."),
        ],
    ) -> MailboxPayload:
        changes = mailbox_resolvers.MailboxChanges(
            display_name=input.display_name, reply_to=input.reply_to, signature=input.signature
        )
        mailbox = await mailbox_resolvers.update_mailbox(info.context.actor, input.id, changes)
        return MailboxPayload(mailbox=Mailbox.from_model(mailbox))

    @strawberry.mutation(description="Delete a mailbox, revoking its keys and passwords.")
    async def mailbox_delete(
        self,
        info: Info,
        input: Annotated[MailboxIdInput, strawberry.argument(description="The mailbox to delete.")],
    ) -> MailboxPayload:
        mailbox = await mailbox_resolvers.delete_mailbox(info.context.actor, input.id)
        return MailboxPayload(mailbox=Mailbox.from_model(mailbox))

    @strawberry.mutation(description="Suspend (idempotent): its credentials stop until resumed.")
    async def mailbox_suspend(
        self,
        info: Info,
        input: Annotated[
            MailboxIdInput, strawberry.argument(description="The mailbox to suspend.")
        ],
    ) -> MailboxPayload:
        mailbox = await mailbox_resolvers.set_mailbox_status(
            info.context.actor, input.id, MailboxStatus.SUSPENDED
        )
        return MailboxPayload(mailbox=Mailbox.from_model(mailbox))

    @strawberry.mutation(description="Resume (idempotent): its credentials work again.")
    async def mailbox_resume(
        self,
        info: Info,
        input: Annotated[MailboxIdInput, strawberry.argument(description="The mailbox to resume.")],
    ) -> MailboxPayload:
        mailbox = await mailbox_resolvers.set_mailbox_status(
            info.context.actor, input.id, MailboxStatus.ACTIVE
        )
        return MailboxPayload(mailbox=Mailbox.from_model(mailbox))

    @strawberry.mutation(description="Create a mailbox password. `mailbox.admin.manage`.")
    async def mailbox_password_create(
        self,
        info: Info,
        input: Annotated[
            MailboxPasswordCreateInput,
            strawberry.argument(
                description="The mailbox, and the app or device the password is for."
            ),
        ],
    ) -> MailboxPasswordCreatePayload:
        services = info.context.services
        issued = await password_resolvers.create_password(
            info.context.actor,
            input.mailbox_id,
            input.app_name,
            services.hasher,
            input.allowed_ips,
        )
        settings = services.settings
        return MailboxPasswordCreatePayload(
            mailbox_password=MailboxPassword.from_model(issued.row),
            password=issued.password,
            connection=ConnectionSettings(
                username=issued.mailbox.address,
                imap_host=settings.imap_host,
                imap_port=993,
                smtp_host=settings.smtp_host,
                smtp_port=587,
            ),
        )

    @strawberry.mutation(description="Revoke one mailbox password (idempotent).")
    async def mailbox_password_revoke(
        self,
        info: Info,
        input: Annotated[
            MailboxPasswordRevokeInput, strawberry.argument(description="The password to revoke.")
        ],
    ) -> MailboxPasswordRevokePayload:
        row = await password_resolvers.revoke_password(info.context.actor, input.id)
        return MailboxPasswordRevokePayload(mailbox_password=MailboxPassword.from_model(row))
