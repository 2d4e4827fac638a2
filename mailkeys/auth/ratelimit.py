"""Per-credential rate limits in fixed one-minute windows, keyed by key id (never a secret).

The embedded default keeps the counters in this process; with Redis they are shared by every
worker and replica through the same `RateLimiter` protocol, one atomic script per request.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mailkeys import clock

log = logging.getLogger("mailkeys.auth.ratelimit")

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of counting one request, and what the response headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def headers(self) -> dict[str, str]:
        """`X-RateLimit-*` headers (and `Retry-After` when refused)."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_after)
        return headers


class RateLimiter(Protocol):
    """Counts a request against `key`'s budget of `limit` per window."""

    async def hit(self, key: str, limit: int) -> RateDecision: ...

    async def release(self, key: str) -> None:
        """Give back one hit of this window (a reserved slot that turned out not to count)."""
        ...

    async def close(self) -> None:
        """Release connections (at shutdown)."""
        ...


class InProcessRateLimiter:
    """Fixed windows aligned to the clock's minutes, held in a dict of this process."""

    _PRUNE_AT = 50_000

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int) -> RateDecision:
        now = clock.time()
        window = int(now // WINDOW_SECONDS)
        reset_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        counted_window, count = self._counters.get(key, (window, 0))
        if counted_window != window:
            count = 0
        if count >= limit:
            return RateDecision(False, limit, 0, reset_after)
        if len(self._counters) >= self._PRUNE_AT:
            self._prune(window)
        self._counters[key] = (window, count + 1)
        return RateDecision(True, limit, limit - count - 1, reset_after)

    async def release(self, key: str) -> None:
        window = int(clock.time() // WINDOW_SECONDS)
        counted_window, count = self._counters.get(key, (window, 0))
        if counted_window == window and count > 0:
            self._counters[key] = (window, count - 1)

    async def close(self) -> None:
        return None

    def _prune(self, window: int) -> None:
        self._counters = {k: v for k, v in self._counters.items() if v[0] == window}


# Count and set the window's expiry in one step, so no counter outlives its minute.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


_RELEASE_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisRateLimiter:
    """Fixed windows in Redis, shared by every worker and replica (one atomic script a hit).

    When Redis does not answer, limits fall back to this process's own counters (fail to
    local limits, not open and not closed): authentication and revocation do not depend on
    Redis, so the service keeps serving, each worker enforcing the limit on its own share,
    and `/readyz` reports Redis as down. After a failure Redis is left alone for a second,
    so an outage does not add a timeout to every request.
    """

    _RETRY_AFTER_FAILURE = 1.0

    def __init__(
        self,
        client: Redis,
        fallback: RateLimiter,
        prefix: str = "mailkeys:rl:",
    ) -> None:
        self._client = client
        self._fallback = fallback
        self._prefix = prefix
        self._hit = client.register_script(_HIT_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)
        self._down_until = 0.0

    @property
    def healthy(self) -> bool:
        """False while Redis is considered down."""
        return clock.monotonic() >= self._down_until

    def _mark_down(self) -> None:
        self._down_until = clock.monotonic() + self._RETRY_AFTER_FAILURE
        log.warning("redis unreachable: rate limits fall back to per-process counters")

    def _window(self) -> tuple[int, int, float]:
        now = clock.time()
        window = int(now // WINDOW_SECONDS)
        return window, max(1, math.ceil((window + 1) * WINDOW_SECONDS - now)), now

    async def hit(self, key: str, limit: int) -> RateDecision:
        if not self.healthy:
            return await self._fallback.hit(key, limit)
        window, reset_after, _ = self._window()
        try:
            count = int(await self._hit(keys=[f"{self._prefix}{key}:{window}"], args=[90]))
        except (RedisError, OSError):
            self._mark_down()
            return await self._fallback.hit(key, limit)
        if count > limit:
            return RateDecision(False, limit, 0, reset_after)
        return RateDecision(True, limit, limit - count, reset_after)

    async def release(self, key: str) -> None:
        if not self.healthy:
            await self._fallback.release(key)
            return
        window, _, _ = self._window()
        try:
            await self._release(keys=[f"{self._prefix}{key}:{window}"])
        except (RedisError, OSError):
            self._mark_down()

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> bool:
        """True if Redis answers now (for `/readyz`)."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False
