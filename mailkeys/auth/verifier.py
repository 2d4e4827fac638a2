"""Verifying a secret against its stored tag and argon2id hash, paying argon2 rarely.

A token verified recently passes from a cache keyed by an HMAC of the token under a
per-process key (never the token itself). Otherwise, a secret whose tag does not match is
refused at once: no argon2, no budget charged, so wrong guesses cost the guesser and never
the owner. The same token arriving many times at once (a client's burst on a cold worker)
waits for one verification. What is left for argon2 (a matching tag, or a row stored before
tags) is charged to a failure budget before argon2 runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cachetools import TTLCache

from mailkeys import clock
from mailkeys.auth.budget import FailureBudget
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.tags import Pepper, TagCheck
from mailkeys.telemetry import metrics


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether a secret is right, and the tag its row should store when it has none yet."""

    ok: bool
    # Set for a row without a tag under the current pepper whose secret argon2 accepted:
    # storing it upgrades the row, so its wrong guesses are cheap from then on.
    tag_to_store: str | None = None


REFUSED = Verification(ok=False)
PASSED = Verification(ok=True)


def _passed(pepper: Pepper, secret: str, secret_tag: str | None) -> Verification:
    """A right secret; with the tag to store if its row has none under this pepper."""
    if pepper.is_current(secret_tag):
        return PASSED
    return Verification(ok=True, tag_to_store=pepper.tag(secret))


class VerifiedTokens:
    """Tokens this process verified recently, keyed by a keyed hash (never the token itself).

    An entry remembers the hash it was verified against, so a rotated or re-hashed key
    never matches a stale entry. Bounded in size (least recently used out) and in age (from
    the verification, not the last use): `cachetools.TTLCache` on the injectable clock.
    """

    def __init__(self, max_entries: int, max_age_seconds: float) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: TTLCache[bytes, str] = TTLCache(
            maxsize=max_entries, ttl=max_age_seconds, timer=clock.monotonic
        )

    def fingerprint(self, token: str) -> bytes:
        """HMAC-SHA256 of the token under a per-process key."""
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def contains(self, fingerprint: bytes, secret_hash: str) -> bool:
        """True if this token was verified against `secret_hash` within the window."""
        verified_hash = self._entries.get(fingerprint)
        return verified_hash is not None and hmac.compare_digest(verified_hash, secret_hash)

    def add(self, fingerprint: bytes, secret_hash: str) -> None:
        """Remember a successful verification."""
        self._entries[fingerprint] = secret_hash


class SecretVerifier:
    """Verifies secrets for every authenticator of this process, sharing one cache."""

    def __init__(self, hasher: BoundedHasher, cache_size: int, cache_seconds: float) -> None:
        self._hasher = hasher
        self._verified = VerifiedTokens(cache_size, cache_seconds)
        self._in_flight: dict[tuple[bytes, str], asyncio.Future[bool]] = {}

    async def verify(
        self, secret: str, secret_hash: str, secret_tag: str | None, budget: FailureBudget
    ) -> Verification:
        """Verify `secret` against its row's tag and hash (see the module docstring)."""
        pepper = await self._hasher.tags.pepper()
        fingerprint = self._verified.fingerprint(secret)
        if self._verified.contains(fingerprint, secret_hash):
            # argon2 accepted this very token within the window: its tag has nothing to add,
            # and the warm path stays free of a second HMAC.
            metrics.VERIFIED_CACHE_HIT.inc()
            return _passed(pepper, secret, secret_tag)
        if pepper.check(secret_tag, secret) is TagCheck.MISMATCH:
            return REFUSED
        if not await self._verify_by_argon2(secret, secret_hash, fingerprint, budget):
            return REFUSED
        return _passed(pepper, secret, secret_tag)

    async def refuse_absent(self, secret: str) -> Verification:
        """What `verify` does with a wrong secret, for a credential that is not there.

        The same steps as ruling out a wrong secret for a real credential (the cache looked
        up, the tag computed and compared), so an unknown id is refused as fast as a known one.
        """
        pepper = await self._hasher.tags.pepper()
        self._verified.contains(self._verified.fingerprint(secret), pepper.unmatchable)
        pepper.check(pepper.unmatchable, secret)
        return REFUSED

    async def _verify_by_argon2(
        self, secret: str, secret_hash: str, fingerprint: bytes, budget: FailureBudget
    ) -> bool:
        """Verify `secret` by argon2, at most once at a time per process for the same token.

        The same token arriving many times at once (a client's burst on a cold worker) waits
        for one verification instead of paying argon2 and charging the budget once per
        request. Otherwise the secret is charged to `budget` before argon2 runs, so secrets
        arriving at once cannot all pass before the first failure is counted; a right secret
        refunds its charge.
        """
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
