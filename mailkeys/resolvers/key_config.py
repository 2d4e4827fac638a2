"""What a key holds: the caller's request, its validated configuration, and the new token.

Creation and rotation share this: a configuration is checked without the database first
(fields per type, preset and permissions per the live policy), then its references (every
id must name a resource of the caller's team), then turned into a token and its hash before
any transaction opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailkeys import clock
from mailkeys.auth.allowlist import clean_allowlist
from mailkeys.auth.hashing import BoundedHasher, ProtectedSecret
from mailkeys.errors import ConflictError, InvalidInputError, PermissionDeniedError
from mailkeys.models import (
    ApiKey,
    DeliveryGroup,
    KeyType,
    Mailbox,
    MailboxStatus,
    Provider,
    SendScopeMode,
)
from mailkeys.policy import Actor, CredentialKind, can_issue, current, effective_permissions
from mailkeys.policy.vocabulary import KIND_ROLES, MAILBOX_PERMISSIONS, Domain
from mailkeys.tokens import INFRASTRUCTURE_PREFIX, MAILBOX_PREFIX, IssuedToken, issue_token
from mailkeys.validation import clean_name, future_time, is_resource_id, unique_ids

KIND_OF_TYPE = {
    KeyType.INFRASTRUCTURE: CredentialKind.INFRASTRUCTURE,
    KeyType.SENDING: CredentialKind.SENDING,
    KeyType.MAILBOX: CredentialKind.MAILBOX,
}


@dataclass(frozen=True)
class NewKey:
    """What a caller asks for when creating a key; validated by `validate_new_key`."""

    type_: str
    name: str | None = None
    preset: str | None = None
    permissions: list[str] | None = None
    mailbox_id: str | None = None
    mailbox_ids: list[str] | None = None
    send_scope_mode: str | None = None
    provider_ids: list[str] | None = None
    delivery_group_ids: list[str] | None = None
    expires_at: datetime | None = None
    allowed_ips: list[str] | None = None


@dataclass(frozen=True)
class KeyConfig:
    """A validated key configuration: what a key holds, whom it binds, how it routes."""

    type_: KeyType
    name: str
    preset: str | None
    permissions: list[str]
    mailbox_id: str | None
    mailbox_ids: list[str] | None
    send_scope_mode: SendScopeMode | None
    send_scope_ids: list[str]
    expires_at: datetime | None
    allowed_ips: list[str] | None = None

    @classmethod
    def of(cls, key: ApiKey) -> KeyConfig:
        """The configuration of an existing key (what a rotation copies)."""
        return cls(
            type_=KeyType(key.type),
            name=key.name,
            preset=key.preset,
            permissions=list(key.permissions),
            mailbox_id=key.mailbox_id,
            mailbox_ids=key.mailbox_ids,
            send_scope_mode=SendScopeMode(key.send_scope_mode) if key.send_scope_mode else None,
            send_scope_ids=list(key.send_scope_ids),
            expires_at=key.expires_at,
            allowed_ips=key.allowed_ips,
        )

    def as_actor(self) -> Actor:
        """The principal a key of this configuration would be."""
        return Actor(
            kind=KIND_OF_TYPE[self.type_],
            preset=self.preset,
            permissions=frozenset(self.permissions),
        )


@dataclass(frozen=True)
class PreparedKey:
    """A validated configuration with its token, hash and tag, ready to insert."""

    config: KeyConfig
    token: IssuedToken = field(repr=False)
    protected: ProtectedSecret = field(repr=False)


@dataclass(frozen=True)
class IssuedKey:
    """A stored key and its token, which the caller sees this once."""

    key: ApiKey
    secret: str = field(repr=False)


def _refuse(field_name: str, present: object, type_: KeyType) -> None:
    if present not in (None, [], ""):
        raise InvalidInputError(field_name, f"{field_name} does not apply to {type_.value} keys.")


def _validate_permissions(type_: KeyType, permissions: list[str] | None) -> list[str]:
    if not permissions:
        raise InvalidInputError("permissions", f"{type_.value} keys need at least one permission.")
    role = KIND_ROLES[KIND_OF_TYPE[type_]]
    snapshot = current()
    for permission in permissions:
        if permission not in MAILBOX_PERMISSIONS:
            raise InvalidInputError("permissions", f"'{permission}' is not a mailbox permission.")
        if not snapshot.decide(role, permission, Domain.MAILBOX).allowed:
            raise InvalidInputError(
                "permissions", f"The policy does not let {type_.value} keys hold '{permission}'."
            )
    return sorted(set(permissions))


def validate_static(new: NewKey) -> KeyConfig:
    """Checks that need no database: fields per type, preset and permissions per policy."""
    try:
        type_ = KeyType(new.type_)
    except ValueError as exc:
        raise InvalidInputError("type", "Unknown key type.") from exc
    name = clean_name("name", new.name)
    expires_at = future_time("expiresAt", new.expires_at)
    preset: str | None = None
    permissions: list[str] = []
    scope_mode: SendScopeMode | None = None
    if type_ is KeyType.INFRASTRUCTURE:
        for field_name, value in (
            ("permissions", new.permissions), ("mailboxId", new.mailbox_id),
            ("mailboxIds", new.mailbox_ids), ("sendScope", new.send_scope_mode),
        ):  # fmt: skip
            _refuse(field_name, value, type_)
        if not new.preset or new.preset not in current().presets:
            raise InvalidInputError("preset", "Unknown preset; see the `presets` query.")
        preset = new.preset
    else:
        _refuse("preset", new.preset, type_)
        permissions = _validate_permissions(type_, new.permissions)
        if type_ is KeyType.MAILBOX:
            _refuse("mailboxIds", new.mailbox_ids, type_)
            _refuse("sendScope", new.send_scope_mode, type_)
            if not new.mailbox_id:
                raise InvalidInputError("mailboxId", "Mailbox keys name their mailbox.")
        else:
            _refuse("mailboxId", new.mailbox_id, type_)
            scope_mode = _validate_scope_shape(new)
    return KeyConfig(
        type_=type_,
        name=name,
        preset=preset,
        permissions=permissions,
        mailbox_id=new.mailbox_id if type_ is KeyType.MAILBOX else None,
        mailbox_ids=unique_ids("mailboxIds", new.mailbox_ids),
        send_scope_mode=scope_mode,
        send_scope_ids=unique_ids("sendScope", new.provider_ids or new.delivery_group_ids) or [],
        expires_at=expires_at,
        allowed_ips=clean_allowlist("allowedIps", new.allowed_ips),
    )


def _validate_scope_shape(new: NewKey) -> SendScopeMode:
    try:
        mode = SendScopeMode(new.send_scope_mode or SendScopeMode.ALL)
    except ValueError as exc:
        raise InvalidInputError("sendScope.mode", "Unknown send scope mode.") from exc
    wanted = {
        SendScopeMode.ALL: None,
        SendScopeMode.PROVIDERS: "providerIds",
        SendScopeMode.DELIVERY_GROUPS: "deliveryGroupIds",
    }[mode]
    for field_name, ids in (
        ("providerIds", new.provider_ids), ("deliveryGroupIds", new.delivery_group_ids),
    ):  # fmt: skip
        if field_name == wanted and not ids:
            raise InvalidInputError(f"sendScope.{field_name}", f"{mode.name} needs {field_name}.")
        if field_name != wanted and ids:
            raise InvalidInputError(
                f"sendScope.{field_name}", f"{field_name} does not apply to {mode.name}."
            )
    return mode


async def validate_references(team_id: str, config: KeyConfig) -> None:
    """Every id must name a resource of the caller's team; others are unknown."""
    if config.mailbox_id is not None:
        mailbox = None
        if is_resource_id(config.mailbox_id):
            mailbox = await Mailbox.filter(id=config.mailbox_id, team_id=team_id).first()
        if mailbox is None:
            raise InvalidInputError("mailboxId", "Unknown mailbox.")
        if mailbox.status is not MailboxStatus.ACTIVE:
            raise ConflictError("The mailbox is suspended; resume it before issuing keys.")
    checks: list[tuple[str, type[Mailbox] | type[Provider] | type[DeliveryGroup], list[str]]] = []
    if config.mailbox_ids:
        checks.append(("mailboxIds", Mailbox, config.mailbox_ids))
    if config.send_scope_mode is SendScopeMode.PROVIDERS:
        checks.append(("sendScope.providerIds", Provider, config.send_scope_ids))
    if config.send_scope_mode is SendScopeMode.DELIVERY_GROUPS:
        checks.append(("sendScope.deliveryGroupIds", DeliveryGroup, config.send_scope_ids))
    for field_name, model, ids in checks:
        found = await model.filter(id__in=ids, team_id=team_id).count()
        if found != len(ids):
            raise InvalidInputError(field_name, f"Unknown id in {field_name}.")


def check_no_escalation(actor: Actor, config: KeyConfig) -> None:
    if not can_issue(actor, effective_permissions(config.as_actor())):
        raise PermissionDeniedError("key.create")


async def prepare_key(config: KeyConfig, hasher: BoundedHasher) -> PreparedKey:
    """Generate the token, its hash (in a thread) and its tag before any transaction opens."""
    prefix = INFRASTRUCTURE_PREFIX if config.type_ is KeyType.INFRASTRUCTURE else MAILBOX_PREFIX
    token = issue_token(prefix)
    return PreparedKey(config=config, token=token, protected=await hasher.protect(token.token))


async def insert_key(
    actor: Actor, team_id: str, prepared: PreparedKey, rotated_from: ApiKey | None = None
) -> ApiKey:
    """Store a prepared key; call inside a transaction that checked the team's limit."""
    config = prepared.config
    key = await ApiKey.create(
        id=prepared.token.key_id,
        team_id=team_id,
        type=config.type_,
        name=config.name,
        preset=config.preset,
        permissions=config.permissions,
        mailbox_id=config.mailbox_id,
        mailbox_ids=config.mailbox_ids,
        send_scope_mode=config.send_scope_mode,
        send_scope_ids=config.send_scope_ids,
        secret_hash=prepared.protected.secret_hash,
        secret_tag=prepared.protected.secret_tag,
        allowed_ips=config.allowed_ips,
        display_token=prepared.token.display,
        created_at=clock.now(),
        created_by=actor.label,
        expires_at=config.expires_at,
        rotated_from_id=rotated_from.id if rotated_from else None,
        slot_id=rotated_from.slot_id if rotated_from else prepared.token.key_id,
    )
    return await ApiKey.get(id=key.id).select_related("mailbox")
