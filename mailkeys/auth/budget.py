"""Failure budgets: how many failed verifications a key id or an address may cost a minute."""

from __future__ import annotations

from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.telemetry import metrics


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
