"""The GraphQL envelope: abuse limits, masking of unexpected errors, request ids (docs/api.md)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from mailkeys.http.app import create_app
from mailkeys.resolvers import keys as key_resolvers
from tests.conftest import Gql, TeamHandle, test_settings

MakeTeam = Callable[..., Awaitable[TeamHandle]]


async def test_deep_queries_are_refused(db: None) -> None:
    app = create_app(test_settings(max_query_depth=2))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as client:
        deep = await client.post(
            "/graphql", json={"query": "{ viewer { team { limits { used } } } }"}
        )
        shallow = await client.post("/graphql", json={"query": "{ viewer { team { id } } }"})
    await app.state.services.limiter.close()  # anonymous requests are counted (Redis)

    errors = deep.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert "depth" in errors[0]["message"]
    # the shallow one passes the limit and fails only for want of a credential
    assert [e["extensions"]["code"] for e in shallow.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_too_many_aliases_are_refused(gql: Gql) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(20))

    result = await gql("{ " + aliases + " }")

    assert result.codes == ["BAD_USER_INPUT"]


async def test_too_many_tokens_are_refused(gql: Gql) -> None:
    fields = " ".join("__typename" for _ in range(3000))

    result = await gql("{ " + fields + " }")

    assert result.codes == ["BAD_USER_INPUT"]


async def test_oversized_bodies_are_refused_with_413(client: httpx.AsyncClient) -> None:
    body = {"query": "{ __typename }", "variables": {"pad": "x" * 70_000}}

    response = await client.post("/graphql", json=body)

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert response.headers["x-request-id"]


async def test_syntax_errors_are_bad_input(gql: Gql) -> None:
    result = await gql("{ viewer { ")

    assert result.codes == ["BAD_USER_INPUT"]


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
    gql: Gql,
    make_team: MakeTeam,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team = await make_team()

    async def broken(*args: Any) -> None:
        raise RuntimeError("connection to db-internal-7 failed")

    monkeypatch.setattr(key_resolvers, "own_key", broken)

    result = await gql("{ viewer { apiKey { id } } }", token=team.token)

    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    error = result.errors[0]
    assert "db-internal-7" not in error["message"]
    assert error["extensions"]["requestId"] == result.headers["x-request-id"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1
    assert getattr(logged[0], "request_id", None) == result.headers["x-request-id"]


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/healthz"),
        await client.post("/graphql", json={"query": "{ __typename }"}),
        await client.post("/graphql", json={"query": "{ viewer { kind } }"}),
    ):
        assert len(response.headers["x-request-id"]) >= 8


@pytest.fixture
def settings() -> Any:
    return test_settings(introspection=False)


async def test_introspection_can_be_switched_off(gql: Gql) -> None:
    result = await gql("{ __schema { types { name } } }")

    assert result.codes
    assert set(result.codes) == {"BAD_USER_INPUT"}
