"""GraphQL for changing the IP allowlists of keys and mailbox passwords without rotation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from mailkeys.resolvers import allowlists as allowlist_resolvers
from mailkeys.schema.context import Info
from mailkeys.schema.keys import ApiKey
from mailkeys.schema.mailboxes import MailboxPassword

_ALLOWED_IPS = (
    "The new list: IPv4/IPv6 addresses and CIDR networks (at most 100; `0.0.0.0/0` and "
    "`::/0` are allowed), or null to allow any address."
)


@strawberry.input(description="Where a key may be used from; its token stays the same.")
class ApiKeyAllowedIpsUpdateInput:
    id: strawberry.ID = strawberry.field(description="The key.")
    allowed_ips: list[str] | None = strawberry.field(description=_ALLOWED_IPS)


@strawberry.type(description="The key with its new allowlist.")
class ApiKeyAllowedIpsUpdatePayload:
    api_key: ApiKey = strawberry.field(description="The key.")


@strawberry.input(description="Where a mailbox password may be used from; it stays the same.")
class MailboxPasswordAllowedIpsUpdateInput:
    id: strawberry.ID = strawberry.field(description="The password id.")
    allowed_ips: list[str] | None = strawberry.field(description=_ALLOWED_IPS)


@strawberry.type(description="The password with its new allowlist.")
class MailboxPasswordAllowedIpsUpdatePayload:
    mailbox_password: MailboxPassword = strawberry.field(description="Its metadata.")


@strawberry.type
class AllowlistMutations:
    @strawberry.mutation(
        description="Change where a key may be used from, without rotating it. Needs "
        "`key.create` and every permission the key holds (as issuing it would)."
    )
    async def api_key_allowed_ips_update(
        self,
        info: Info,
        input: Annotated[
            ApiKeyAllowedIpsUpdateInput,
            strawberry.argument(description="The key and its new allowlist."),
        ],
    ) -> ApiKeyAllowedIpsUpdatePayload:
        key = await allowlist_resolvers.update_key_allowed_ips(
            info.context.actor, input.id, input.allowed_ips
        )
        return ApiKeyAllowedIpsUpdatePayload(api_key=ApiKey.from_model(key))

    @strawberry.mutation(
        description="Change where a mailbox password may be used from, without replacing it. "
        "Needs `mailbox.admin.manage`."
    )
    async def mailbox_password_allowed_ips_update(
        self,
        info: Info,
        input: Annotated[
            MailboxPasswordAllowedIpsUpdateInput,
            strawberry.argument(description="The password and its new allowlist."),
        ],
    ) -> MailboxPasswordAllowedIpsUpdatePayload:
        row = await allowlist_resolvers.update_password_allowed_ips(
            info.context.actor, input.id, input.allowed_ips
        )
        return MailboxPasswordAllowedIpsUpdatePayload(
            mailbox_password=MailboxPassword.from_model(row)
        )
