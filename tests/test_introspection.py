"""Introspection is answered once per schema, and anonymous callers have a budget per address
that `__typename` probes and authenticated requests never touch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from starlette.applications import Starlette

from mailkeys import clock
from mailkeys.clock import ManualClock
from mailkeys.http.app import create_app
from mailkeys.schema import execution
from mailkeys.settings import Settings
from tests.conftest import TeamHandle, test_settings

INTROSPECTION = {"query": get_introspection_query(descriptions=True)}
TYPE_LOOKUP = {"query": "query($n: String!) { __type(name: $n) { name } }"}
PROBE = {"query": "{ __typename }"}
MakeTeam = Callable[..., Awaitable[TeamHandle]]


@pytest.fixture
def settings() -> Settings:
    return test_settings(anonymous_per_minute=3)


@pytest.fixture
async def elsewhere(db: None, app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client at another address."""
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as c:
        yield c


async def test_an_introspection_is_computed_once_and_served_from_memory(
    client: httpx.AsyncClient, make_team: MakeTeam, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = await make_team()
    executions: list[Any] = []
    real_execute = execution.execute

    def counting_execute(*args: Any, **kwargs: Any) -> Any:
        executions.append(args)
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(execution, "execute", counting_execute)
    headers = {"authorization": f"Bearer {team.token}"}

    answers = [(await client.post("/graphql", json=INTROSPECTION, headers=headers)) for _ in "abc"]
    lookups = [
        await client.post("/graphql", json={**TYPE_LOOKUP, "variables": {"n": name}})
        for name in ("ApiKey", "ApiKey", "Team")
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert answers[0].json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert [lookup.json()["data"]["__type"]["name"] for lookup in lookups] == [
        "ApiKey", "ApiKey", "Team",
    ]  # fmt: skip
    assert len(executions) == 3  # the first introspection, ApiKey and Team once each


async def test_anonymous_callers_share_a_budget_per_address(
    client: httpx.AsyncClient, elsewhere: httpx.AsyncClient, make_team: MakeTeam
) -> None:
    team = await make_team()
    with clock.using(ManualClock(1_800_000_010.0)) as time:  # 10 s into a minute
        allowed = [await client.post("/graphql", json=INTROSPECTION) for _ in range(3)]
        refused = await client.post("/graphql", json=INTROSPECTION)
        guessed = await client.post(
            "/graphql", json=INTROSPECTION, headers={"authorization": "Bearer not-a-key"}
        )
        unauthenticated = await client.post("/graphql", json={"query": "{ viewer { kind } }"})
        probe = await client.post("/graphql", json=PROBE)
        keyed = await client.post(
            "/graphql", json=INTROSPECTION, headers={"authorization": f"Bearer {team.token}"}
        )
        other_address = await elsewhere.post("/graphql", json=INTROSPECTION)
        time.advance(50)  # the next minute
        next_minute = await client.post("/graphql", json=INTROSPECTION)

    assert [a.status_code for a in allowed] == [200, 200, 200]
    assert [a.headers["x-ratelimit-remaining"] for a in allowed] == ["2", "1", "0"]
    for answer in (refused, guessed, unauthenticated):
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "50"
        assert "data" not in answer.json()
        [error] = answer.json()["errors"]
        assert (error["extensions"]["code"], error["extensions"]["retryable"]) == (
            "RATE_LIMITED", True,
        )  # fmt: skip
    assert probe.json() == {"data": {"__typename": "Query"}}
    assert keyed.status_code == other_address.status_code == next_minute.status_code == 200


async def test_a_zero_budget_leaves_anonymous_callers_only_typename(db: None) -> None:
    app = create_app(test_settings(anonymous_per_minute=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as c:
        probe = await c.post("/graphql", json=PROBE)
        introspection = await c.post("/graphql", json=INTROSPECTION)
    await app.state.services.limiter.close()

    assert probe.status_code == 200
    assert introspection.status_code == 429
