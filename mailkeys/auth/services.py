"""The per-process collaborators every request shares, built once by the app (or a command)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from mailkeys.auth.credential_check import CredentialChecker
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.keys import Authenticator
from mailkeys.auth.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from mailkeys.auth.tags import SecretTags
from mailkeys.settings import Settings
from mailkeys.tokens import SecretHasher


@dataclass
class Services:
    """Long-lived collaborators, built once per process by `build_services`."""

    settings: Settings
    hasher: BoundedHasher
    authenticator: Authenticator
    checker: CredentialChecker
    limiter: RateLimiter

    async def flush_last_used(self) -> None:
        """Write the queued last-use times of keys and mailbox passwords."""
        await self.authenticator.last_used.flush()
        await self.checker.password_last_used.flush()


def build_hasher(settings: Settings) -> BoundedHasher:
    """argon2id with the configured cost, at most `argon2_max_concurrency` at once, and the
    tags under the configured pepper (or the installation's)."""
    argon2 = settings.argon2
    return BoundedHasher(
        SecretHasher(argon2.time_cost, argon2.memory_cost_kib, argon2.parallelism),
        settings.argon2_max_concurrency,
        SecretTags(settings.secret_pepper),
    )


def build_limiter(settings: Settings) -> RateLimiter:
    """Redis counters shared by every worker when configured, else this process's own."""
    local = InProcessRateLimiter()
    if not settings.redis_url:
        return local
    client = Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisRateLimiter(client, fallback=local, prefix=f"{settings.redis_prefix}rl:")


def build_services(settings: Settings) -> Services:
    """The per-process collaborators: hashing, the rate limiter and the authenticators."""
    hasher = build_hasher(settings)
    limiter = build_limiter(settings)
    authenticator = Authenticator(settings, hasher, limiter)
    return Services(
        settings=settings,
        hasher=hasher,
        authenticator=authenticator,
        checker=CredentialChecker(settings, authenticator, limiter),
        limiter=limiter,
    )
