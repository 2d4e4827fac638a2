"""GraphQL for the minimal Sending API and the gateways' credential check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.auth.credential_check import CheckProtocol
from mailkeys.resolvers import records
from mailkeys.resolvers import sending as sending_resolvers
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum

describe_enum(
    CheckProtocol,
    "How a credential is about to be used.",
    {
        "SMTP": "Sending mail through the SMTP gateway: needs `email.send`.",
        "IMAP": "Reading mail through the IMAP gateway: needs `email.receive`.",
        "API": "The mailbox API: any mailbox permission; the caller decides per call.",
    },
)


@strawberry.type(description="A message accepted and queued for a provider.")
class QueuedMessage:
    id: strawberry.ID = strawberry.field(description="The message id.")
    status: str = strawberry.field(description="`queued`.")
    provider_id: strawberry.ID | None = strawberry.field(
        description="The provider chosen (null once that provider is deleted)."
    )
    mailbox_id: strawberry.ID | None = strawberry.field(
        description="The sender mailbox (null once that mailbox is deleted)."
    )
    created_at: datetime = strawberry.field(description="When it was accepted.")

    @classmethod
    def from_model(cls, message: records.Queued) -> QueuedMessage:
        """Convert a queued message."""
        return cls(
            id=strawberry.ID(message.id),
            status=message.status,
            provider_id=strawberry.ID(message.provider_id) if message.provider_id else None,
            mailbox_id=strawberry.ID(message.mailbox_id) if message.mailbox_id else None,
            created_at=message.created_at,
        )


@strawberry.input(description="A message to send from one of the team's mailboxes.")
class EmailSendInput:
    from_: str = strawberry.field(name="from", description="The sender mailbox's address.")
    to: list[str] = strawberry.field(description="1 to 50 recipients.")
    subject: str = strawberry.field(description="The subject.")
    text: str | None = strawberry.field(default=None, description="Plain-text body.")
    html: str | None = strawberry.field(default=None, description="HTML body.")
    delivery_group_hint: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Prefer these delivery groups (a subset of the key's)."
    )


@strawberry.type(description="The queued message.")
class EmailSendPayload:
    message: QueuedMessage = strawberry.field(description="The message.")


@strawberry.type(description="The gateways' answer; the same for every kind of failure.")
class CredentialCheckResult:
    allowed: bool = strawberry.field(description="May the credential act for the address.")
    mailbox_id: strawberry.ID | None = strawberry.field(description="The mailbox, if allowed.")
    permissions: list[str] = strawberry.field(description="Its usable mailbox permissions.")


@strawberry.type
class SendingQueries:
    @strawberry.field(
        description="Check an address + secret for a protocol. Gateway (or operator) token."
    )
    async def credential_check(
        self,
        info: Info,
        address: Annotated[
            str, strawberry.argument(description="The mailbox address the client logs in as.")
        ],
        secret: Annotated[
            str,
            strawberry.argument(
                description="The mailbox password or mailbox key presented by the client."
            ),
        ],
        protocol: Annotated[
            CheckProtocol,
            strawberry.argument(description="How the credential is about to be used."),
        ],
        client_ip: Annotated[
            str | None,
            strawberry.argument(
                description="The mail client's IP address, as the gateway sees it. A "
                "credential with an allowlist is denied without it."
            ),
        ] = None,
    ) -> CredentialCheckResult:
        result = await info.context.services.checker.check(
            info.context.actor, address, secret, CheckProtocol(protocol), client_ip
        )
        return CredentialCheckResult(
            allowed=result.allowed,
            mailbox_id=strawberry.ID(result.mailbox_id) if result.mailbox_id else None,
            permissions=list(result.permissions),
        )


@strawberry.type
class SendingMutations:
    @strawberry.mutation(description="Send (queue) a message. `email.send` on the sender.")
    async def email_send(
        self,
        info: Info,
        input: Annotated[
            EmailSendInput,
            strawberry.argument(
                description="The message: sender, recipients, content and an optional routing hint."
            ),
        ],
    ) -> EmailSendPayload:
        email = sending_resolvers.OutgoingEmail(
            sender=input.from_,
            to=input.to,
            subject=input.subject,
            text=input.text,
            html=input.html,
            delivery_group_hint=(
                [str(i) for i in input.delivery_group_hint] if input.delivery_group_hint else None
            ),
        )
        services = info.context.services
        message = await sending_resolvers.send_email(
            info.context.actor,
            email,
            services.shared_domain,
            services.outbox,
            info.context.authentication.key,
        )
        return EmailSendPayload(message=QueuedMessage.from_model(message))
