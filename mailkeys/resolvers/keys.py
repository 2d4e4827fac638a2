"""API key lifecycle: create, rotate, revoke, list and read (SPEC §1, §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from mailkeys.models import (
    ApiKey,
    DeliveryGroup,
    KeyStatus,
    KeyType,
    LimitedResource,
    Mailbox,
    MailboxStatus,
    Provider,
    SendScopeMode,
)
from mailkeys.models.keys import status_filter
from mailkeys.models.limits import check_limit, lock_team
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import (
    Actor,
    CredentialKind,
    authorize,
    can_issue,
    current,
    effective_permissions,
)
from mailkeys.policy.vocabulary import KIND_ROLES, MAILBOX_PERMISSIONS, Domain
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.tokens import INFRASTRUCTURE_PREFIX, MAILBOX_PREFIX, IssuedToken, issue_token
from mailkeys.validation import clean_name, future_time, unique_ids

MAX_GRACE_SECONDS = 7 * 24 * 3600
_KIND_OF_TYPE = {
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
        )

    def as_actor(self) -> Actor:
        """The principal a key of this configuration would be."""
        return Actor(
            kind=_KIND_OF_TYPE[self.type_],
            preset=self.preset,
            permissions=frozenset(self.permissions),
        )


@dataclass(frozen=True)
class PreparedKey:
    """A validated configuration with its token and hash, ready to insert."""

    config: KeyConfig
    token: IssuedToken = field(repr=False)
    secret_hash: str = field(repr=False)


@dataclass(frozen=True)
class IssuedKey:
    """A stored key and its token, which the caller sees this once."""

    key: ApiKey
    secret: str = field(repr=False)


@dataclass(frozen=True)
class RotatedKey:
    """A rotation's successor (with its token) and its predecessor."""

    issued: IssuedKey
    previous: ApiKey


def _refuse(field_name: str, present: object, type_: KeyType) -> None:
    if present not in (None, [], ""):
        raise InvalidInputError(field_name, f"{field_name} does not apply to {type_.value} keys.")


def _validate_permissions(type_: KeyType, permissions: list[str] | None) -> list[str]:
    if not permissions:
        raise InvalidInputError("permissions", f"{type_.value} keys need at least one permission.")
    role = KIND_ROLES[_KIND_OF_TYPE[type_]]
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


async def _validate_references(team_id: str, config: KeyConfig) -> None:
    """Every id must name a resource of the caller's team; others are unknown."""
    if config.mailbox_id is not None:
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


def _check_no_escalation(actor: Actor, config: KeyConfig) -> None:
    if not can_issue(actor, effective_permissions(config.as_actor())):
        raise PermissionDeniedError("key.create")


async def prepare_key(config: KeyConfig, hasher: BoundedHasher) -> PreparedKey:
    """Generate the token and hash it (in a thread) before any transaction opens."""
    prefix = INFRASTRUCTURE_PREFIX if config.type_ is KeyType.INFRASTRUCTURE else MAILBOX_PREFIX
    token = issue_token(prefix)
    return PreparedKey(config=config, token=token, secret_hash=await hasher.hash(token.token))


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
        secret_hash=prepared.secret_hash,
        display_token=prepared.token.display,
        created_at=clock.now(),
        created_by=actor.label,
        expires_at=config.expires_at,
        rotated_from_id=rotated_from.id if rotated_from else None,
        slot_id=rotated_from.slot_id if rotated_from else prepared.token.key_id,
    )
    return await _with_mailbox(key.id)


async def _with_mailbox(key_id: str) -> ApiKey:
    return await ApiKey.get(id=key_id).select_related("mailbox")


async def _team_key(actor: Actor, key_id: str) -> ApiKey:
    key = await ApiKey.filter(id=key_id, team_id=actor.team_id).select_related("mailbox").first()
    if key is None:
        raise NotFoundError("ApiKey")
    return key


async def create_key(actor: Actor, new: NewKey, hasher: BoundedHasher) -> IssuedKey:
    """Issue a key in the actor's team; the team's credential limit holds under concurrency."""
    team_id = str(actor.team_id)
    async with audited(actor, "key.create", "api_key", None, team_id):
        authorize(actor, "key.create")
        config = validate_static(new)
        _check_no_escalation(actor, config)
        await _validate_references(team_id, config)
        prepared = await prepare_key(config, hasher)
        async with in_transaction():
            await lock_team(team_id)
            await check_limit(team_id, LimitedResource.CREDENTIALS, clock.now())
            key = await insert_key(actor, team_id, prepared)
            await record_event(
                actor, "key.create", "api_key", key.id, team_id,
                details={"type": config.type_.value, "display": key.display_token},
            )  # fmt: skip
    return IssuedKey(key=key, secret=prepared.token.token)


def _grace_end(now: datetime, grace_seconds: int | None) -> datetime | None:
    if grace_seconds is None:
        return None
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidInputError(
            "gracePeriodSeconds", f"gracePeriodSeconds must be between 0 and {MAX_GRACE_SECONDS}."
        )
    return now + timedelta(seconds=grace_seconds)


async def rotate_key(
    actor: Actor, key_id: str, grace_seconds: int | None, hasher: BoundedHasher
) -> RotatedKey:
    """Issue a successor with the same configuration; the predecessor ends after the grace."""
    team_id = str(actor.team_id)
    async with audited(actor, "key.rotate", "api_key", key_id, team_id):
        authorize(actor, "key.rotate")
        key = await _team_key(actor, key_id)
        config = KeyConfig.of(key)
        _check_no_escalation(actor, config)
        now = clock.now()
        grace_end = _grace_end(now, grace_seconds)
        prepared = await prepare_key(config, hasher)
        async with in_transaction():
            await lock_team(team_id)
            key = await _team_key(actor, key_id)
            if key.status_at(now, None) in (KeyStatus.REVOKED, KeyStatus.EXPIRED):
                raise ConflictError("Only a live key can be rotated.")
            if key.rotated_to_id is not None:
                raise ConflictError("This key was already rotated; rotate its successor.")
            successor = await insert_key(actor, team_id, prepared, rotated_from=key)
            key.rotated_to_id = successor.id
            if grace_end is not None and (key.revoked_at is None or grace_end < key.revoked_at):
                key.revoked_at = grace_end
            await key.save(update_fields=["rotated_to_id", "revoked_at"])
            await record_event(
                actor, "key.rotate", "api_key", key.id, team_id,
                details={"successor": successor.id, "grace_period_seconds": grace_seconds},
            )  # fmt: skip
    return RotatedKey(issued=IssuedKey(key=successor, secret=prepared.token.token), previous=key)


async def revoke_key(actor: Actor, key_id: str) -> ApiKey:
    """Revoke now; revoking a revoked key changes nothing (idempotent)."""
    team_id = str(actor.team_id)
    async with audited(actor, "key.revoke", "api_key", key_id, team_id), in_transaction():
        authorize(actor, "key.revoke")
        key = await _team_key(actor, key_id)
        await revoke_now(actor, key)
    return key


async def revoke_now(actor: Actor, key: ApiKey) -> None:
    """Revoke a key the caller was authorized to revoke; call inside a transaction."""
    now = clock.now()
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        await key.save(update_fields=["revoked_at"])
        await record_event(actor, "key.revoke", "api_key", key.id, str(key.team_id))


async def get_key(actor: Actor, key_id: str) -> ApiKey:
    """One key of the actor's team; another team's key is not found."""
    authorize(actor, "key.read")
    return await _team_key(actor, key_id)


async def list_keys(
    actor: Actor,
    first: int | None,
    after: str | None,
    type_: KeyType | None = None,
    status: KeyStatus | None = None,
) -> Page[ApiKey]:
    """The team's keys, newest first, optionally by type and derived status."""
    authorize(actor, "key.read")
    return await keyset_page(team_keys(str(actor.team_id), type_, status), first, after)


def team_keys(
    team_id: str, type_: KeyType | None = None, status: KeyStatus | None = None
) -> QuerySet[ApiKey]:
    """A team's keys with their mailboxes, optionally by type and derived status now."""
    query = ApiKey.filter(team_id=team_id).select_related("mailbox")
    if type_ is not None:
        query = query.filter(type=type_)
    if status is not None:
        query = query.filter(status_filter(status, clock.now()))
    return query


async def own_key(actor: Actor) -> ApiKey:
    """The key the actor authenticated with (no permission needed to see oneself)."""
    key = await ApiKey.filter(id=actor.credential_id).select_related("mailbox").first()
    if key is None:
        raise NotFoundError("ApiKey")
    return key
