"""The authentication hot path: Bearer token -> Actor, paying argon2 rarely.

Per request: an offline format and checksum test, one primary-key read of the key row
(which is what makes revocation, expiry and mailbox suspension take effect on the very next
request, on every worker), a rate-limit count, and, only when this exact token was not verified
in this process recently, one argon2 verification in a bounded thread pool.
"""

from __future__ import annotations

import hmac
import time
from typing import Protocol

from mailkeys import clock
from mailkeys.auth.authentication import ANONYMOUS, UNAVAILABLE, Authentication, observe
from mailkeys.auth.budget import FailureBudget
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.last_used import LastUsedRecorder
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.auth.verifier import SecretVerifier
from mailkeys.models import ApiKey, KeyStatus, KeyType
from mailkeys.models.key_facts import fetch_key_facts
from mailkeys.outages import is_unavailable
from mailkeys.policy import GATEWAY, OPERATOR, Actor, CredentialKind
from mailkeys.settings import Settings
from mailkeys.tokens import INFRASTRUCTURE_PREFIX, parse_token

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


def actor_for_key(key: KeyLike) -> Actor:
    """The facts about a key that decisions need, read from its row."""
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

    async def authenticate(self, authorization: str | None) -> Authentication:
        """Authenticate one request; never raises for a bad credential or a database outage."""
        started = time.perf_counter()
        try:
            authentication = await self._authenticate(authorization)
        except Exception as error:
            if not is_unavailable(error):
                raise
            authentication = UNAVAILABLE
        observe(authentication, time.perf_counter() - started)
        return authentication

    async def _authenticate(self, authorization: str | None) -> Authentication:
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
        return await self._authenticate_key(token)

    async def _authenticate_key(self, token: str) -> Authentication:
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
        if not await self.verifier.verify(token, key.secret_hash, budget):
            return Authentication(actor=None, failure="bad_secret")
        limit = (
            self._settings.rate_limit_infrastructure
            if key.type is KeyType.INFRASTRUCTURE
            else self._settings.rate_limit_mailbox
        )
        rate = await self._limiter.hit(key.id, limit)
        self.last_used.touch(key.id, key.last_used_at, now)
        return Authentication(actor=actor_for_key(key), rate=rate, key=key)
