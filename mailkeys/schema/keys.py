"""GraphQL for API keys: the ApiKey type, its inputs, queries and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys import clock
from mailkeys.policy import preset_permissions
from mailkeys.resolvers import keys as key_resolvers
from mailkeys.resolvers import records
from mailkeys.resolvers.key_config import NewKey
from mailkeys.resolvers.records import KeyStatus, KeyType, SendScopeMode
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum

# The models' enums are the GraphQL enums; registering them here keeps one source of truth.
describe_enum(
    KeyType,
    "What a key is for.",
    {
        "INFRASTRUCTURE": "Team administration with a role preset (`smx_root_` tokens).",
        "SENDING": "Mailbox permissions over all or listed mailboxes, plus a send scope.",
        "MAILBOX": "Mailbox permissions over one mailbox.",
    },
    name="ApiKeyType",
)
describe_enum(
    KeyStatus,
    "Derived, never stored.",
    {
        "ACTIVE": "The key authenticates.",
        "EXPIRED": "Past its expiry time; fails authentication as a revoked key does.",
        "REVOKED": "Revoked (or its rotation grace period ended).",
        "SUSPENDED": "A mailbox key whose mailbox is suspended; works again on resume.",
    },
    name="ApiKeyStatus",
)
describe_enum(
    SendScopeMode,
    "Which providers a key may use.",
    {
        "ALL": "Every active provider of the team.",
        "PROVIDERS": "Only the listed providers.",
        "DELIVERY_GROUPS": "Only the providers of the listed delivery groups.",
    },
)


def _id(value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(value)


def _ids(values: list[str] | None) -> list[strawberry.ID] | None:
    return None if values is None else [strawberry.ID(value) for value in values]


def _strs(values: list[strawberry.ID] | None) -> list[str] | None:
    return None if values is None else [str(value) for value in values]


@strawberry.type(description="Where a sending key may route mail.")
class SendScope:
    mode: SendScopeMode = strawberry.field(description="All providers, or a list.")
    provider_ids: list[strawberry.ID] = strawberry.field(description="For PROVIDERS.")
    delivery_group_ids: list[strawberry.ID] = strawberry.field(description="For DELIVERY_GROUPS.")


@strawberry.type(description="An API key's metadata. The token itself is never shown again.")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="The public key id (part of the token).")
    name: str = strawberry.field(description="A label chosen at creation.")
    type: KeyType = strawberry.field(description="Infrastructure, sending or mailbox key.")
    preset: str | None = strawberry.field(description="The role preset (infrastructure keys).")
    permissions: list[str] = strawberry.field(
        description="What the key may do: its preset's permissions, or its mailbox permissions."
    )
    mailbox_id: strawberry.ID | None = strawberry.field(description="A mailbox key's mailbox.")
    mailbox_ids: list[strawberry.ID] | None = strawberry.field(
        description="The mailboxes a sending key is narrowed to; null means all of the team's."
    )
    send_scope: SendScope | None = strawberry.field(description="A sending key's routing.")
    status: KeyStatus = strawberry.field(description="Active, expired, revoked, suspended.")
    display_token: str = strawberry.field(description="Prefix, key id and last 4 characters.")
    created_at: datetime = strawberry.field(description="When the key was issued.")
    created_by: str = strawberry.field(description="Which credential or operator issued it.")
    last_used_at: datetime | None = strawberry.field(
        description="Last successful authentication, to about a minute."
    )
    expires_at: datetime | None = strawberry.field(description="When the key stops working.")
    revoked_at: datetime | None = strawberry.field(
        description="When the key was (or, within a rotation's grace period, will be) revoked."
    )
    rotated_from_id: strawberry.ID | None = strawberry.field(description="Its predecessor.")
    rotated_to_id: strawberry.ID | None = strawberry.field(description="Its successor.")
    allowed_ips: list[str] | None = strawberry.field(
        description="IPv4/IPv6 addresses and CIDR networks the key may be used from; null "
        "means any."
    )

    @classmethod
    def from_model(cls, key: records.ApiKey) -> ApiKey:
        """Convert a stored key (fetched with its mailbox)."""
        mailbox = key.mailbox
        status = key.status_at(clock.now(), mailbox.status if mailbox else None)
        if key.type is KeyType.INFRASTRUCTURE and key.preset:
            permissions = preset_permissions(key.preset)
        else:
            permissions = list(key.permissions)
        scope = None
        if key.send_scope_mode is not None:
            mode = SendScopeMode(key.send_scope_mode)
            scope = SendScope(
                mode=mode,
                provider_ids=_ids(key.send_scope_ids if mode is SendScopeMode.PROVIDERS else [])
                or [],
                delivery_group_ids=_ids(
                    key.send_scope_ids if mode is SendScopeMode.DELIVERY_GROUPS else []
                )
                or [],
            )
        return cls(
            id=strawberry.ID(key.id),
            name=key.name,
            type=KeyType(key.type),
            preset=key.preset,
            permissions=permissions,
            mailbox_id=_id(mailbox.id if mailbox else None),
            mailbox_ids=_ids(key.mailbox_ids),
            send_scope=scope,
            status=status,
            display_token=key.display_token,
            created_at=key.created_at,
            created_by=key.created_by,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            rotated_from_id=_id(key.rotated_from_id),
            rotated_to_id=_id(key.rotated_to_id),
            allowed_ips=key.allowed_ips,
        )


@strawberry.input(description="A sending key's routing.")
class SendScopeInput:
    mode: SendScopeMode = strawberry.field(description="ALL, PROVIDERS or DELIVERY_GROUPS.")
    provider_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Providers of the team, for PROVIDERS."
    )
    delivery_group_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Delivery groups of the team, for DELIVERY_GROUPS."
    )


@strawberry.input(description="A new key. Fields that do not apply to its type are refused.")
class ApiKeyCreateInput:
    type: KeyType = strawberry.field(description="Infrastructure, sending or mailbox key.")
    name: str | None = strawberry.field(default=None, description="A label.")
    preset: str | None = strawberry.field(
        default=None, description="Infrastructure keys: a preset id from `presets`."
    )
    permissions: list[str] | None = strawberry.field(
        default=None, description="Sending and mailbox keys: mailbox permissions."
    )
    mailbox_id: strawberry.ID | None = strawberry.field(
        default=None, description="Mailbox keys: the mailbox they act for."
    )
    mailbox_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Sending keys: narrow to these mailboxes (absent = all)."
    )
    send_scope: SendScopeInput | None = strawberry.field(
        default=None, description="Sending keys: routing (absent = ALL)."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the key stops working (with a time zone)."
    )
    allowed_ips: list[str] | None = strawberry.field(
        default=None,
        description="Addresses and CIDR networks (at most 100) the key may be used from; "
        "absent or null: any.",
    )

    def to_new_key(self) -> NewKey:
        """The resolver's plain input."""
        scope = self.send_scope
        return NewKey(
            type_=KeyType(self.type).value,
            name=self.name,
            preset=self.preset,
            permissions=self.permissions,
            mailbox_id=self.mailbox_id,
            mailbox_ids=_strs(self.mailbox_ids),
            send_scope_mode=SendScopeMode(scope.mode).value if scope else None,
            provider_ids=_strs(scope.provider_ids) if scope else None,
            delivery_group_ids=_strs(scope.delivery_group_ids) if scope else None,
            expires_at=self.expires_at,
            allowed_ips=self.allowed_ips,
        )


@strawberry.type(description="A new key and its token, which is shown only here.")
class ApiKeyCreatePayload:
    api_key: ApiKey = strawberry.field(description="The new key.")
    secret: str = strawberry.field(description="The full token. Store it now.")


@strawberry.input(description="Rotate a key: issue a successor with the same configuration.")
class ApiKeyRotateInput:
    id: strawberry.ID = strawberry.field(description="The key to rotate.")
    grace_period_seconds: int | None = strawberry.field(
        default=None,
        description="How long the predecessor keeps working: 0 = revoke now, at most 7 days; "
        "absent = until it is revoked.",
    )


@strawberry.type(description="A rotation's successor (with its token) and its predecessor.")
class ApiKeyRotatePayload:
    api_key: ApiKey = strawberry.field(description="The successor.")
    secret: str = strawberry.field(description="The successor's full token. Store it now.")
    previous: ApiKey = strawberry.field(description="The predecessor.")


@strawberry.input(description="Revoke a key now.")
class ApiKeyRevokeInput:
    id: strawberry.ID = strawberry.field(description="The key to revoke.")


@strawberry.type(description="The revoked key.")
class ApiKeyRevokePayload:
    api_key: ApiKey = strawberry.field(description="The key, now revoked.")


@strawberry.type
class KeyQueries:
    @strawberry.field(description="The team's keys, newest first. Needs `key.read`.")
    async def api_keys(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        type: Annotated[
            KeyType | None, strawberry.argument(description="Only keys of this type.")
        ] = None,
        status: Annotated[
            KeyStatus | None, strawberry.argument(description="Only keys with this status now.")
        ] = None,
    ) -> Connection[ApiKey]:
        page = await key_resolvers.list_keys(
            info.context.actor,
            first,
            after,
            KeyType(type) if type else None,
            KeyStatus(status) if status else None,
        )
        return connection_of(page, ApiKey.from_model)

    @strawberry.field(description="One key of the team. Needs `key.read`.")
    async def api_key(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The key id (the public part of its token)."),
        ],
    ) -> ApiKey:
        return ApiKey.from_model(await key_resolvers.get_key(info.context.actor, id))


@strawberry.type
class KeyMutations:
    @strawberry.mutation(description="Issue a key. Needs `key.create`; counts toward the limit.")
    async def api_key_create(
        self,
        info: Info,
        input: Annotated[
            ApiKeyCreateInput,
            strawberry.argument(description="The key to issue: its type and configuration."),
        ],
    ) -> ApiKeyCreatePayload:
        issued = await key_resolvers.create_key(
            info.context.actor, input.to_new_key(), info.context.services.hasher
        )
        return ApiKeyCreatePayload(api_key=ApiKey.from_model(issued.key), secret=issued.secret)

    @strawberry.mutation(description="Rotate a key. Needs `key.rotate`.")
    async def api_key_rotate(
        self,
        info: Info,
        input: Annotated[
            ApiKeyRotateInput,
            strawberry.argument(
                description="The key to rotate, and how long its predecessor keeps working."
            ),
        ],
    ) -> ApiKeyRotatePayload:
        rotated = await key_resolvers.rotate_key(
            info.context.actor, input.id, input.grace_period_seconds, info.context.services.hasher
        )
        return ApiKeyRotatePayload(
            api_key=ApiKey.from_model(rotated.issued.key),
            secret=rotated.issued.secret,
            previous=ApiKey.from_model(rotated.previous),
        )

    @strawberry.mutation(description="Revoke a key now (idempotent). Needs `key.revoke`.")
    async def api_key_revoke(
        self,
        info: Info,
        input: Annotated[ApiKeyRevokeInput, strawberry.argument(description="The key to revoke.")],
    ) -> ApiKeyRevokePayload:
        key = await key_resolvers.revoke_key(info.context.actor, input.id)
        return ApiKeyRevokePayload(api_key=ApiKey.from_model(key))
