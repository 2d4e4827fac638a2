"""What is stored about a secret: its argon2id hash, computed off the event loop with a bound
on how many run at once (each costs CPU and RAM), and its tag (see `mailkeys.auth.tags`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from mailkeys.auth.tags import SecretTags
from mailkeys.telemetry import metrics
from mailkeys.tokens import SecretHasher


@dataclass(frozen=True)
class ProtectedSecret:
    """The argon2id hash and the tag of a new secret: what its row stores."""

    secret_hash: str = field(repr=False)
    secret_tag: str = field(repr=False)


class BoundedHasher:
    """Runs argon2 hashing and verification in threads, at most `max_concurrency` at a time."""

    def __init__(self, hasher: SecretHasher, max_concurrency: int, tags: SecretTags) -> None:
        self._hasher = hasher
        self._slots = asyncio.Semaphore(max(1, max_concurrency))
        self.tags = tags
        self.verifications = 0

    async def protect(self, secret: str) -> ProtectedSecret:
        """The hash and the tag of a new secret; call before any transaction opens."""
        pepper = await self.tags.pepper()
        return ProtectedSecret(await self.hash(secret), pepper.tag(secret))

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
