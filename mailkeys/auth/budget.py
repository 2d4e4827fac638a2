"""Failure budgets: how many argon2 verifications that fail a credential may cost a minute.

Only secrets that their tag cannot rule out reach argon2 (see `mailkeys.auth.verifier`), so
only those are charged: wrong guesses at a tagged credential never spend its budget.
"""

from __future__ import annotations

from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.telemetry import metrics


class FailureBudget:
    """Failed verifications allowed per minute for one credential, across workers."""

    def __init__(self, limiter: RateLimiter, key: str, per_minute: int, label: str) -> None:
        self._limiter = limiter
        self._key = key
        self._per_minute = per_minute
        self._label = label  # for the rate-limit rejection metric

    async def charge(self) -> bool:
        """Count one failure; False if the budget was already spent."""
        allowed = (await self._limiter.hit(self._key, self._per_minute)).allowed
        if not allowed:
            metrics.RATE_LIMIT_REJECTIONS.labels(self._label).inc()
        return allowed

    async def refund(self) -> None:
        """Give back the last charge (the secret was right)."""
        await self._limiter.release(self._key)
