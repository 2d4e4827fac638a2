"""Structured logs: one line per request, audit and denial events, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailkeys.telemetry.logs import (
    JsonFormatter,
    RequestRecord,
    TextFormatter,
    current_request,
    logging_config,
    wants_json,
)
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN
from tests.served import serve

TEAM_CREATE = 'mutation { teamCreate(input: {name: "Acme"}) { team { id } apiKey { id } secret } }'
KEY_CREATE = (
    "mutation Issue { apiKeyCreate(input: {type: INFRASTRUCTURE, "
    'preset: "root:readonly", name: "ci"}) { apiKey { id } secret } }'
)
VIEWER = "query Me { viewer { apiKey { id } } }"
REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { status } } }"


def json_lines(output: str) -> list[dict[str, Any]]:
    """The JSON log lines of a server's output (its banner lines are plain text)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.process
def test_a_request_sequence_logs_one_line_each_with_audit_and_denials(tmp_path: Path) -> None:
    responses: list[tuple[str, httpx.Response]] = []

    with serve(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as client:

        def call(label: str, token: str, query: str, **variables: str) -> dict[str, Any]:
            response = client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            responses.append((label, response))
            return dict(response.json())

        team = call("team", OPERATOR_TOKEN, TEAM_CREATE)["data"]["teamCreate"]
        admin, team_id, admin_id = team["secret"], team["team"]["id"], team["apiKey"]["id"]
        key = call("create", admin, KEY_CREATE)["data"]["apiKeyCreate"]
        readonly, readonly_id = key["secret"], key["apiKey"]["id"]
        call("viewer", readonly, VIEWER)
        call("forbidden", readonly, KEY_CREATE)
        call("revoke", admin, REVOKE, id=readonly_id)
        call("revoked", readonly, VIEWER)
        call("garbage", "smx_root_not-a-token", VIEWER)
    # read after the server stopped: a request's line is written after its response is sent
    output = server.output()

    lines = json_lines(output)
    requests = {line["request_id"]: line for line in lines if line["logger"] == "mailkeys.requests"}
    by_label = {label: requests[r.headers["x-request-id"]] for label, r in responses}

    # one line per request, with its fields
    for line in by_label.values():
        assert line["level"] == "info"
        assert line["method"] == "POST"
        assert line["path"] == "/graphql"
        assert isinstance(line["duration_ms"], float)
        assert line["time"].endswith("+00:00")
    team_line = by_label["team"]
    assert (team_line["operation"], team_line["code"], team_line["status"]) == (
        "teamCreate",
        "OK",
        200,
    )
    assert team_line["credential_kind"] == "operator"
    assert "team_id" not in by_label["team"]  # the operator has no team
    create = by_label["create"]
    assert (create["operation"], create["operation_name"], create["code"]) == (
        "apiKeyCreate",
        "Issue",
        "OK",
    )
    assert (create["credential_id"], create["team_id"]) == (admin_id, team_id)
    viewer = by_label["viewer"]
    assert (viewer["operation"], viewer["operation_name"]) == ("viewer", "Me")
    assert (viewer["credential_id"], viewer["credential_kind"]) == (readonly_id, "infrastructure")
    assert (by_label["forbidden"]["code"], by_label["forbidden"]["status"]) == ("FORBIDDEN", 200)
    revoked, garbage = by_label["revoked"], by_label["garbage"]
    assert (revoked["code"], revoked["status"], revoked["auth_failure"]) == (
        "UNAUTHENTICATED",
        401,
        "revoked",
    )
    assert "credential_id" not in revoked
    assert garbage["auth_failure"] == "malformed_token"

    # audit events and the denial carry the request id of the request that caused them
    audits = [line for line in lines if line["logger"] == "mailkeys.audit"]
    assert {(a["action"], a["outcome"], a["request_id"]) for a in audits} == {
        ("team.create", "success", by_label["team"]["request_id"]),
        ("key.create", "success", create["request_id"]),
        ("key.create", "permission_denied", by_label["forbidden"]["request_id"]),
        ("key.revoke", "success", by_label["revoke"]["request_id"]),
    }
    assert all(a["team_id"] == team_id for a in audits)
    denials = [line for line in lines if line["logger"] == "mailkeys.decisions"]
    assert [
        (d["message"], d["permission"], d["credential_id"], d["request_id"]) for d in denials
    ] == [("denied", "key.create", readonly_id, by_label["forbidden"]["request_id"])]

    # and no line holds a secret: not a token, not its secret part, not a configured token
    for secret in (admin, readonly, OPERATOR_TOKEN, GATEWAY_TOKEN):
        assert secret not in output
    for token in (admin, readonly):
        assert token.rsplit("_", 1)[1] not in output


def test_json_lines_carry_extra_fields_and_the_current_request_id() -> None:
    record = logging.LogRecord("mailkeys.decisions", logging.INFO, "", 0, "denied", None, None)
    record.permission = "key.create"
    token = current_request.set(RequestRecord(request_id="req-0123456789"))
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        current_request.reset(token)

    assert line["message"] == "denied"
    assert line["logger"] == "mailkeys.decisions"
    assert line["permission"] == "key.create"
    assert line["request_id"] == "req-0123456789"


def test_text_lines_are_readable() -> None:
    record = logging.LogRecord("mailkeys.requests", logging.INFO, "", 0, "request", None, None)
    record.code = "OK"
    record.operation = "viewer"
    record.operation_name = "with space"

    line = TextFormatter().format(record)

    assert "INFO    mailkeys.requests: request" in line
    assert 'code=OK operation=viewer operation_name="with space"' in line


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_unless_a_terminal_reads_the_logs() -> None:
    assert wants_json("auto", io.StringIO())
    assert not wants_json("auto", _Terminal())
    assert wants_json("json", _Terminal())
    assert not wants_json("text", io.StringIO())


def test_uvicorn_logs_through_the_same_handler_and_request_lines_can_be_switched_off() -> None:
    config = logging_config("warning", "json", request_lines=False)

    assert config["formatters"]["mailkeys"]["()"] == "mailkeys.telemetry.logs.JsonFormatter"
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name] == {"handlers": [], "propagate": True, "level": "WARNING"}
    assert config["loggers"]["mailkeys.requests"]["level"] == "WARNING"
    assert logging_config(log_format="text")["formatters"]["mailkeys"]["()"].endswith(
        "TextFormatter"
    )
