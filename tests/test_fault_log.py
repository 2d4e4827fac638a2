"""A fault is logged once with its type and frames, never with a message: an exception's
message (or that of the one it was raised from) may quote a client's input."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from mailkeys.auth.services import Services
from mailkeys.resolvers import keys as key_resolvers
from mailkeys.telemetry.traces import redacted_traceback
from tests.conftest import Gql, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
PASTED = "smx_root_rdsBkEcX2MOAxVL9_IyPPtnLaNtyvlutsiNcNFNpIYmIRYTKI4L12GQ"


def _fails_with_input(value: str) -> None:
    try:
        int(value)
    except ValueError as parse_error:
        raise RuntimeError(f"cannot use {value!r}") from parse_error


def test_a_redacted_traceback_keeps_types_and_frames_but_no_message() -> None:
    try:
        _fails_with_input(PASTED)
    except RuntimeError as fault:
        trace = redacted_traceback(fault)

    assert PASTED not in trace
    assert "builtins.ValueError" in trace
    assert "builtins.RuntimeError" in trace
    assert "_fails_with_input" in trace  # where it happened
    assert trace.count("Traceback (most recent call last)") == 2


async def test_a_fault_in_a_resolver_is_logged_once_without_its_message(
    gql: Gql,
    make_team: MakeTeam,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team = await make_team()

    async def broken(*args: Any) -> None:
        _fails_with_input(PASTED)

    monkeypatch.setattr(key_resolvers, "own_key", broken)
    caplog.set_level(logging.INFO)

    result = await gql("{ viewer { apiKey { id } } }", token=team.token)

    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert getattr(logged, "request_id", None) == result.headers["x-request-id"]
    assert logged.exc_info is None  # no formatter prints a message from it
    assert "_fails_with_input" in logged.getMessage()
    assert PASTED not in caplog.text


async def test_a_fault_outside_graphql_is_a_json_500_with_the_request_id(
    client: httpx.AsyncClient,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(header: str | None) -> None:
        _fails_with_input(PASTED)

    monkeypatch.setattr(services.authenticator, "authenticate", broken)

    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"authorization": PASTED}
    )

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert PASTED not in response.text
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "/graphql" in logged.getMessage()
    assert PASTED not in caplog.text


async def test_a_path_no_route_matches_is_not_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    response = await client.get(f"/{PASTED}")

    assert response.status_code == 404
    [line] = [r for r in caplog.records if r.name == "mailkeys.requests"]
    assert getattr(line, "path", None) == "unmatched"
    server_side = [r for r in caplog.records if r.name != "httpx"]  # the test's own client
    assert all(PASTED not in str(vars(record)) for record in server_side)
