"""The authentication hot path: Bearer token -> Actor, paying argon2 rarely.

Per request: an offline format and checksum test, one primary-key read of the key row
(which is what makes revocation, expiry and mailbox suspension take effect on the very next
request, on every worker), the token's tag against the stored one, the client's address
against the key's allowlist (read in the same statement), a rate-limit count, and, only when
this exact token was not verified in this process recently, one argon2 verification in a
bounded thread pool.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Protocol

from mailkeys import clock
from mailkeys.auth.allowlist import IpAddress, admits
from mailkeys.auth.apps import AppTokenAuthenticator
from mailkeys.auth.authentication import ANONYMOUS, UNAVAILABLE, Authentication, observe
from mailkeys.auth.budget import FailureBudget
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.last_used import LastUsedRecorder
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.auth.verifier import SecretVerifier, Verification
from mailkeys.models import ApiKey, KeyStatus, KeyType, MailboxPassword
from mailkeys.models.key_facts import fetch_key_facts
from mailkeys.models.secret_tags import store_secret_tag
from mailkeys.outages import is_unavailable
from mailkeys.policy import GATEWAY, OPERATOR, Actor, CredentialKind
from mailkeys.settings import Settings
from mailkeys.tokens import INFRASTRUCTURE_PREFIX, is_app_token, parse_token

log = logging.getLogger("mailkeys.auth")

_KIND_OF_TYPE = {
    KeyType.INFRASTRUCTURE: CredentialKind.INFRASTRUCTURE,
    KeyType.SENDING: CredentialKind.SENDING,
    KeyType.MAILBOX: CredentialKind.MAILBOX,
}


class KeyLike(Protocol):
    """A stored key or the hot path's record of one: what an Actor is built from."""

    @property
    def id(self) -> str: ...
    @property
    def team_id(self) -> str: ...
    @property
    def type(self) -> KeyType: ...
    @property
    def preset(self) -> str | None: ...
    @property
    def permissions(self) -> list[str]: ...
    @property
    def mailbox_id(self) -> str | None: ...
    @property
    def mailbox_ids(self) -> list[str] | None: ...


def actor_for_key(key: KeyLike, team_paused: bool = False) -> Actor:
    """The facts about a key that decisions need, read from its row; a key of a team that
    waits for its purge is `paused`: it authenticates, so its holder learns why, and every
    decision refuses it."""
    if key.type is KeyType.MAILBOX:
        mailbox_ids: frozenset[str] | None = frozenset({str(key.mailbox_id)})
    elif key.type is KeyType.SENDING and key.mailbox_ids is not None:
        mailbox_ids = frozenset(key.mailbox_ids)
    else:
        mailbox_ids = None
    return Actor(
        kind=_KIND_OF_TYPE[KeyType(key.type)],
        credential_id=key.id,
        team_id=key.team_id,
        preset=key.preset,
        permissions=frozenset(key.permissions),
        mailbox_ids=mailbox_ids,
        paused=team_paused,
    )


class Authenticator:
    """Turns an `Authorization` header into an Authentication; one per process."""

    def __init__(self, settings: Settings, hasher: BoundedHasher, limiter: RateLimiter) -> None:
        self._settings = settings
        self._hasher = hasher
        self._limiter = limiter
        self.verifier = SecretVerifier(
            hasher, settings.verified_cache_size, settings.verified_cache_seconds
        )
        self.last_used = LastUsedRecorder(ApiKey, settings.last_used_precision_seconds)
        # Connected apps' access tokens take the same path, dispatched by their prefix.
        self.apps = AppTokenAuthenticator(settings, hasher.tags, limiter)

    async def authenticate(
        self, authorization: str | None, client: IpAddress | None = None
    ) -> Authentication:
        """Authenticate one request from `client` (None: unknown, which no allowlist admits);
        never raises for a bad credential or a database outage."""
        started = time.perf_counter()
        try:
            authentication = await self._authenticate(authorization, client)
        except Exception as error:
            if not is_unavailable(error):
                raise
            authentication = UNAVAILABLE
        observe(authentication, time.perf_counter() - started)
        return authentication

    async def _authenticate(
        self, authorization: str | None, client: IpAddress | None
    ) -> Authentication:
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Authentication(actor=None, failure="malformed_header")
        for configured, actor in (
            (self._settings.operator_token, OPERATOR),
            (self._settings.gateway_token, GATEWAY),
        ):
            if configured and hmac.compare_digest(token.encode(), configured.encode()):
                return Authentication(actor=actor)
        if is_app_token(token):
            return await self.apps.authenticate(token)
        return await self._authenticate_key(token, client)

    async def _authenticate_key(self, token: str, client: IpAddress | None) -> Authentication:
        parsed = parse_token(token)
        if parsed is None:
            return Authentication(actor=None, failure="malformed_token")
        key = await fetch_key_facts(parsed.key_id)
        if key is None:
            return Authentication(actor=None, failure="unknown_key")
        if (parsed.prefix == INFRASTRUCTURE_PREFIX) != (key.type is KeyType.INFRASTRUCTURE):
            return Authentication(actor=None, failure="wrong_prefix")
        now = clock.now()
        status = key.status_at(now)
        if status is not KeyStatus.ACTIVE:
            return Authentication(actor=None, failure=status.value)
        budget = FailureBudget(
            self._limiter,
            f"auth-failures:{key.id}",
            self._settings.auth_failures_per_minute,
            "auth_failures",
        )
        verification = await self.verifier.verify(token, key.secret_hash, key.secret_tag, budget)
        if not verification.ok:
            return Authentication(actor=None, failure="bad_secret")
        await upgrade_tag(ApiKey, key.id, key.secret_hash, key.secret_tag, verification)
        # After the secret: `ip_not_allowed` then says that the right token came from elsewhere.
        if not admits(key.allowed_ips, client):
            return Authentication(actor=None, failure="ip_not_allowed")
        limit = (
            self._settings.rate_limit_infrastructure
            if key.type is KeyType.INFRASTRUCTURE
            else self._settings.rate_limit_mailbox
        )
        rate = await self._limiter.hit(key.id, limit)
        self.last_used.touch(key.id, key.last_used_at, now)
        actor = actor_for_key(key, key.team_paused)
        return Authentication(actor=actor, rate=rate, key=key)


async def upgrade_tag(
    model: type[ApiKey] | type[MailboxPassword],
    row_id: str,
    secret_hash: str,
    stale_tag: str | None,
    verification: Verification,
) -> None:
    """Store the tag of a row whose secret argon2 just accepted and that had none (yet).

    Opportunistic: a row that could not be written keeps the argon2 path and is tried again
    on its next use, so a failed write never fails the request.
    """
    if verification.tag_to_store is None:
        return
    try:
        await store_secret_tag(model, row_id, secret_hash, stale_tag, verification.tag_to_store)
    except Exception as error:  # the error's text may quote the statement: only its class
        log.warning(
            "could not store the secret tag of %s %s (%s)",
            model.__name__,
            row_id,
            type(error).__name__,
        )
