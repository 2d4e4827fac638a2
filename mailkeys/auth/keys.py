"""The authentication hot path: Bearer token -> Actor, paying argon2 rarely.

Per request: an offline format and checksum test, one primary-key read of the key row
(which is what makes revocation, expiry and mailbox suspension take effect on the very next
request, on every worker), a rate-limit count, and, only when this exact token was not verified
in this process recently, one argon2 verification in a bounded thread pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from mailkeys import clock
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.ratelimit import RateDecision, RateLimiter
from mailkeys.models import ApiKey, KeyStatus, KeyType, MailboxPassword
from mailkeys.models.database import is_unavailable
from mailkeys.models.key_facts import KeyFacts, fetch_key_facts
from mailkeys.policy import GATEWAY, OPERATOR, Actor, CredentialKind
from mailkeys.settings import Settings
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import note_credential
from mailkeys.tokens import INFRASTRUCTURE_PREFIX, parse_token

_KIND_OF_TYPE = {
    KeyType.INFRASTRUCTURE: CredentialKind.INFRASTRUCTURE,
    KeyType.SENDING: CredentialKind.SENDING,
    KeyType.MAILBOX: CredentialKind.MAILBOX,
}


@dataclass(frozen=True, slots=True)
class Authentication:
    """The outcome for one request: an actor, or why there is none (kept server-side)."""

    actor: Actor | None
    failure: str | None = None
    rate: RateDecision | None = None
    # The authenticated key as read for this request, so resolvers need not read it again.
    key: KeyFacts | None = None

    @property
    def presented(self) -> bool:
        """True if the request carried a credential at all."""
        return self.actor is not None or self.failure != "missing"


ANONYMOUS = Authentication(actor=None, failure="missing")
UNAVAILABLE = Authentication(actor=None, failure="unavailable")


def observe(authentication: Authentication, seconds: float) -> None:
    """Count the outcome (by internal reason) and tell the request log who is asking."""
    actor = authentication.actor
    if actor is not None:
        metrics.AUTHENTICATIONS.labels("success", actor.kind.value).inc()
        note_credential(actor.credential_id, actor.kind.value, actor.team_id, None)
    else:
        metrics.AUTHENTICATIONS.labels("failure", authentication.failure or "unknown").inc()
        note_credential(None, None, None, authentication.failure)
    if authentication.presented:
        metrics.AUTHENTICATION_SECONDS.observe(seconds)
    if authentication.rate is not None and not authentication.rate.allowed:
        metrics.RATE_LIMIT_REJECTIONS.labels("credential").inc()


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


class VerifiedTokens:
    """Tokens this process verified recently, keyed by a keyed hash (never the token itself).

    An entry remembers the hash it was verified against, so a rotated or re-hashed key
    never matches a stale entry. Bounded in size (least recently used out) and in age.
    """

    def __init__(self, max_entries: int, max_age_seconds: float) -> None:
        self._key = secrets.token_bytes(32)
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._entries: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def fingerprint(self, token: str) -> bytes:
        """HMAC-SHA256 of the token under a per-process key."""
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def contains(self, fingerprint: bytes, secret_hash: str) -> bool:
        """True if this token was verified against `secret_hash` within the window."""
        entry = self._entries.get(fingerprint)
        if entry is None:
            return False
        verified_hash, verified_at = entry
        if clock.monotonic() - verified_at > self._max_age:
            del self._entries[fingerprint]
            return False
        self._entries.move_to_end(fingerprint)
        return hmac.compare_digest(verified_hash, secret_hash)

    def add(self, fingerprint: bytes, secret_hash: str) -> None:
        """Remember a successful verification."""
        self._entries[fingerprint] = (secret_hash, clock.monotonic())
        self._entries.move_to_end(fingerprint)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class LastUsedRecorder:
    """Collects `last_used_at` updates of one kind of credential, written in one statement.

    A credential is queued at most once per precision window, judged by the value its row
    already holds, so the database sees about one write per credential per minute whatever
    the traffic.
    """

    def __init__(self, model: type[ApiKey] | type[MailboxPassword], precision_seconds: int) -> None:
        self._model = model
        self._precision = timedelta(seconds=precision_seconds)
        self._pending: set[str] = set()

    def touch(self, credential_id: str, stored: datetime | None, now: datetime) -> None:
        """Note a successful authentication of `credential_id` at `now`."""
        if stored is None or now - stored >= self._precision:
            self._pending.add(credential_id)

    async def flush(self) -> int:
        """Write the queued updates; returns how many credentials were updated."""
        if not self._pending:
            return 0
        ids, self._pending = self._pending, set()
        await self._model.filter(id__in=list(ids)).update(last_used_at=clock.now())
        return len(ids)


class FailureBudget:
    """Failed verifications allowed per minute for one key id or address, across workers."""

    def __init__(self, limiter: RateLimiter, key: str, per_minute: int, label: str) -> None:
        self._limiter = limiter
        self._key = key
        self._per_minute = per_minute
        self._label = label  # for the rate-limit rejection metric
        self.charged = False

    async def spent(self) -> bool:
        """True if no failure is left this minute."""
        return await self._limiter.exceeded(self._key, self._per_minute)

    async def charge(self) -> bool:
        """Count one failure; False if the budget was already spent."""
        self.charged = True
        allowed = (await self._limiter.hit(self._key, self._per_minute)).allowed
        if not allowed:
            metrics.RATE_LIMIT_REJECTIONS.labels(self._label).inc()
        return allowed

    async def refund(self) -> None:
        """Give back the last charge (the secret was right)."""
        self.charged = False
        await self._limiter.release(self._key)


class Authenticator:
    """Turns an `Authorization` header into an Authentication; one per process."""

    def __init__(self, settings: Settings, hasher: BoundedHasher, limiter: RateLimiter) -> None:
        self._settings = settings
        self._hasher = hasher
        self._limiter = limiter
        self._verified = VerifiedTokens(
            settings.verified_cache_size, settings.verified_cache_seconds
        )
        self.last_used = LastUsedRecorder(ApiKey, settings.last_used_precision_seconds)
        self._in_flight: dict[tuple[bytes, str], asyncio.Future[bool]] = {}

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
        if not await self.verify_guarded(token, key.secret_hash, budget):
            return Authentication(actor=None, failure="bad_secret")
        limit = (
            self._settings.rate_limit_infrastructure
            if key.type is KeyType.INFRASTRUCTURE
            else self._settings.rate_limit_mailbox
        )
        rate = await self._limiter.hit(key.id, limit)
        self.last_used.touch(key.id, key.last_used_at, now)
        return Authentication(actor=actor_for_key(key), rate=rate, key=key)

    async def verify_guarded(self, secret: str, secret_hash: str, budget: FailureBudget) -> bool:
        """Verify `secret`, paying argon2 at most once per process for the same token.

        A token verified recently passes from the cache. The same token arriving many times
        at once (a client's burst on a cold worker) waits for one verification instead of
        paying argon2 and charging the budget once per request. Anything else is a guess
        until proven otherwise: it is charged to `budget` before argon2 runs, so guesses
        arriving at once cannot all pass before the first failure is counted, and forged
        tokens for a known key id cannot make the server pay argon2 without end; a right
        secret refunds its charge.
        """
        fingerprint = self._verified.fingerprint(secret)
        if self._verified.contains(fingerprint, secret_hash):
            metrics.VERIFIED_CACHE_HIT.inc()
            return True
        flight = (fingerprint, secret_hash)
        running = self._in_flight.get(flight)
        if running is not None:
            return await asyncio.shield(running)
        metrics.VERIFIED_CACHE_MISS.inc()
        verification = asyncio.get_running_loop().create_future()
        self._in_flight[flight] = verification
        try:
            ok = await budget.charge() and await self._hasher.verify(secret_hash, secret)
            if ok:
                self._verified.add(fingerprint, secret_hash)
                await budget.refund()
            verification.set_result(ok)
            return ok
        except BaseException as error:
            verification.set_exception(error)
            verification.exception()  # retrieved here: waiters, if any, re-raise it
            raise
        finally:
            del self._in_flight[flight]
