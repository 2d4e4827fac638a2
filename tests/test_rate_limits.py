"""Per-credential rate limits and their headers (docs/api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mailkeys import clock
from mailkeys.auth.ratelimit import InProcessRateLimiter
from mailkeys.clock import ManualClock
from mailkeys.settings import Settings
from tests.conftest import Gql, TeamHandle, test_settings

VIEWER = "{ viewer { apiKey { id } } }"


@pytest.fixture
def settings() -> Settings:
    return test_settings(rate_limit_infrastructure=3)


async def test_rate_limit_answers_429_with_retry_after(
    gql: Gql, make_team: Callable[..., Awaitable[TeamHandle]], manual_clock: ManualClock
) -> None:
    team = await make_team()  # the operator's request: it counts against no key

    answers = [await gql(VIEWER, token=team.token) for _ in range(4)]  # 30 s into a minute
    manual_clock.advance(30)  # the next minute
    next_minute = await gql(VIEWER, token=team.token)

    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "3" for a in answers)
    assert all(a.headers["x-ratelimit-reset"] == "30" for a in answers)
    refused = answers[-1]
    assert refused.codes == ["RATE_LIMITED"]
    assert refused.errors[0]["extensions"]["retryable"] is True
    assert refused.headers["retry-after"] == "30"
    assert next_minute.status == 200
    assert next_minute.headers["x-ratelimit-remaining"] == "2"


async def test_windows_reset_on_the_minute() -> None:
    limiter = InProcessRateLimiter()
    with clock.using(ManualClock(1_000_040.0)) as time:  # 20 s into a minute
        first = await limiter.hit("key", 1)
        second = await limiter.hit("key", 1)
        time.advance(40)  # the next minute
        third = await limiter.hit("key", 1)
        other_key = await limiter.hit("other", 1)

    assert (first.allowed, second.allowed, third.allowed, other_key.allowed) == (
        True, False, True, True,
    )  # fmt: skip
    assert second.reset_after == 40
    assert second.headers()["Retry-After"] == "40"
