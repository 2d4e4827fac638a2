"""API key lifecycle: create, rotate, revoke, list and read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet

from mailkeys import clock
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.errors import ConflictError, InvalidInputError, NotFoundError
from mailkeys.models import ApiKey, KeyStatus, KeyType, LimitedResource
from mailkeys.models.keys import status_filter
from mailkeys.models.limits import check_no_growth_past_limit, count_used
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, load_for, team_for
from mailkeys.resolvers.changes import Action, Attempt, change
from mailkeys.resolvers.key_config import (
    IssuedKey,
    KeyConfig,
    NewKey,
    check_no_escalation,
    insert_key,
    prepare_key,
    validate_references,
    validate_static,
)

MAX_GRACE_SECONDS = 7 * 24 * 3600
CREATE = Action("key.create", "key.create", "api_key")
ROTATE = Action("key.rotate", "key.rotate", "api_key")
REVOKE = Action("key.revoke", "key.revoke", "api_key")
WITH_MAILBOX = ("mailbox",)


@dataclass(frozen=True)
class RotatedKey:
    """A rotation's successor (with its token) and its predecessor."""

    issued: IssuedKey
    previous: ApiKey


async def create_key(actor: Actor, new: NewKey, hasher: BoundedHasher) -> IssuedKey:
    """Issue a key in the actor's team; the team's credential limit holds under concurrency."""
    async with change(actor, CREATE) as attempt:
        config = validate_static(new)
        check_no_escalation(actor, config)
        await validate_references(attempt.team, config)
        prepared = await prepare_key(config, hasher)
        async with attempt.limited(LimitedResource.CREDENTIALS):
            key = await insert_key(actor, attempt.team, prepared)
            details: dict[str, object] = {"type": config.type_.value, "display": key.display_token}
            if config.allowed_ips is not None:
                details["allowed_ips"] = config.allowed_ips
            await attempt.succeeded(key.id, details)
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
    async with change(actor, ROTATE, key_id) as attempt:
        key = await attempt.load(ApiKey, key_id, WITH_MAILBOX)
        config = KeyConfig.of(key)
        check_no_escalation(actor, config)
        now = clock.now()
        grace_end = _grace_end(now, grace_seconds)
        prepared = await prepare_key(config, hasher)
        # A predecessor and its successor share one slot, so a team at its limit can rotate;
        # a third live key of a chain takes a slot (see models.limits.slot_cost).
        async with attempt.locked():
            used = await count_used(key.team_id, LimitedResource.CREDENTIALS, now)
            key = await attempt.load(ApiKey, key_id, WITH_MAILBOX)  # again, under the lock
            mailbox_status = key.mailbox.status if key.mailbox else None
            status = key.status_at(now, mailbox_status)
            if status in (KeyStatus.REVOKED, KeyStatus.EXPIRED):
                raise ConflictError("Only a live key can be rotated.")
            if status is KeyStatus.SUSPENDED:
                raise ConflictError("The mailbox is suspended; resume it before rotating its keys.")
            if key.rotated_to_id is not None:
                raise ConflictError("This key was already rotated; rotate its successor.")
            successor = await insert_key(actor, key.team_id, prepared, rotated_from=key)
            key.rotated_to_id = successor.id
            if grace_end is not None and (key.revoked_at is None or grace_end < key.revoked_at):
                key.revoked_at = grace_end
            await key.save(update_fields=["rotated_to_id", "revoked_at"])
            await check_no_growth_past_limit(key.team_id, LimitedResource.CREDENTIALS, used, now)
            await attempt.succeeded(
                key.id, {"successor": successor.id, "grace_period_seconds": grace_seconds}
            )
    return RotatedKey(issued=IssuedKey(key=successor, secret=prepared.token.token), previous=key)


async def revoke_key(actor: Actor, key_id: str) -> ApiKey:
    """Revoke now; revoking a revoked key changes nothing (idempotent)."""
    async with change(actor, REVOKE, key_id) as attempt, attempt.transaction():
        key = await attempt.load(ApiKey, key_id, WITH_MAILBOX)
        await revoke_now(attempt, key)
    return key


async def revoke_now(attempt: Attempt, key: ApiKey) -> None:
    """Revoke a key loaded through `attempt`'s door; call inside its transaction."""
    now = clock.now()
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        await key.save(update_fields=["revoked_at"])
        await attempt.succeeded(key.id)


async def get_key(actor: Actor, key_id: str) -> ApiKey:
    """One key of the actor's team; another team's key is not found."""
    return await load_for(actor, "key.read", ApiKey, key_id, WITH_MAILBOX)


async def list_keys(
    actor: Actor,
    first: int | None,
    after: str | None,
    type_: KeyType | None = None,
    status: KeyStatus | None = None,
) -> Page[ApiKey]:
    """The team's keys, newest first, optionally by type and derived status."""
    team_id = team_for(actor, "key.read")
    return await keyset_page(team_keys(team_id, type_, status), first, after)


def team_keys(
    team_id: str, type_: KeyType | None = None, status: KeyStatus | None = None
) -> QuerySet[ApiKey]:
    """A team's keys with their mailboxes, optionally by type and derived status now."""
    query = ApiKey.filter(team_id=team_id).select_related(*WITH_MAILBOX)
    if type_ is not None:
        query = query.filter(type=type_)
    if status is not None:
        query = query.filter(status_filter(status, clock.now()))
    return query


async def own_key(actor: Actor) -> ApiKey:
    """The key the actor authenticated with (no permission needed to see oneself)."""
    key = await ApiKey.filter(id=actor.credential_id).select_related(*WITH_MAILBOX).first()
    if key is None:
        raise NotFoundError("ApiKey")
    return key
