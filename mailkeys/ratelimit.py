"""Per-credential rate limits in fixed one-minute windows, keyed by key id (never a secret).

The embedded default keeps the counters in this process; the scale-out engine (Redis) will
implement the same `RateLimiter` protocol with one atomic INCR per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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

    async def exceeded(self, key: str, limit: int) -> bool:
        """True if `key` already spent `limit` in this window (counts nothing)."""
        ...


class InProcessRateLimiter:
    """Fixed windows aligned to the clock's minutes, held in a dict of this process."""

    _PRUNE_AT = 50_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int) -> RateDecision:
        now = self._clock()
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

    async def exceeded(self, key: str, limit: int) -> bool:
        window = int(self._clock() // WINDOW_SECONDS)
        counted_window, count = self._counters.get(key, (window, 0))
        return counted_window == window and count >= limit

    def _prune(self, window: int) -> None:
        self._counters = {k: v for k, v in self._counters.items() if v[0] == window}
