"""argon2 off the event loop, with a bound on how many run at once (each costs CPU and RAM)."""

from __future__ import annotations

import asyncio

from mailkeys.telemetry import metrics
from mailkeys.tokens import SecretHasher


class BoundedHasher:
    """Runs argon2 hashing and verification in threads, at most `max_concurrency` at a time."""

    def __init__(self, hasher: SecretHasher, max_concurrency: int) -> None:
        self._hasher = hasher
        self._slots = asyncio.Semaphore(max(1, max_concurrency))
        self.verifications = 0

    async def hash(self, secret: str) -> str:
        """The argon2id hash of `secret`."""
        async with self._slots:
            metrics.ARGON2_HASH.inc()
            return await asyncio.to_thread(self._hasher.hash, secret)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        """True if `secret` matches; counts every verification paid."""
        async with self._slots:
            self.verifications += 1
            metrics.ARGON2_VERIFY.inc()
            return await asyncio.to_thread(self._hasher.verify, secret_hash, secret)
