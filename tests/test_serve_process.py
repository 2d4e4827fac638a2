"""`mailkeys serve` as a real process, driven over HTTP as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import OPERATOR_TOKEN
from tests.served import serve, server_env

pytestmark = pytest.mark.process

VIEWER = {"query": "{ viewer { apiKey { id } } }"}


def call(client: httpx.Client, token: str, body: dict[str, Any]) -> httpx.Response:
    return client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})


def test_key_lifecycle_over_http(tmp_path: Path) -> None:
    with serve(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        # given a team, created by the operator
        created = call(
            client,
            OPERATOR_TOKEN,
            {"query": 'mutation { teamCreate(input: {name: "Acme"}) { team { id } secret } }'},
        ).json()["data"]["teamCreate"]
        admin = created["secret"]

        # create -> use
        key = call(
            client,
            admin,
            {
                "query": "mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, "
                'preset: "root:readonly", name: "ci"}) { apiKey { id } secret } }'
            },
        ).json()["data"]["apiKeyCreate"]
        used = call(client, key["secret"], VIEWER)
        assert used.status_code == 200
        assert used.json()["data"]["viewer"]["apiKey"]["id"] == key["apiKey"]["id"]
        assert used.headers["x-ratelimit-limit"] == "600"
        assert used.headers["x-request-id"]

        # rotate -> use both
        rotated = call(
            client,
            admin,
            {
                "query": "mutation($id: ID!) { apiKeyRotate(input: {id: $id, "
                "gracePeriodSeconds: 600}) { apiKey { id } secret } }",
                "variables": {"id": key["apiKey"]["id"]},
            },
        ).json()["data"]["apiKeyRotate"]
        assert call(client, key["secret"], VIEWER).status_code == 200
        assert call(client, rotated["secret"], VIEWER).status_code == 200

        # revoke -> refused on the very next request
        revoked = call(
            client,
            admin,
            {
                "query": "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) "
                "{ apiKey { status } } }",
                "variables": {"id": key["apiKey"]["id"]},
            },
        )
        assert revoked.json()["data"]["apiKeyRevoke"]["apiKey"]["status"] == "REVOKED"
        refused = call(client, key["secret"], VIEWER)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert call(client, rotated["secret"], VIEWER).status_code == 200

        # and the server never printed a token
        for token in (admin, key["secret"], rotated["secret"]):
            assert token not in server.output()


def test_health_endpoints_and_request_ids(tmp_path: Path) -> None:
    with serve(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
        echoed = client.get("/healthz", headers={"X-Request-Id": "trace-0123456789"})

    assert health.json() == {"status": "ok"}
    assert ready.json()["checks"] == {"database": True, "policy": True}
    assert echoed.headers["x-request-id"] == "trace-0123456789"


def test_team_create_command_prints_a_working_key_once(tmp_path: Path) -> None:
    # the console script itself, as installed (the other command tests run it in-process)
    console_script = Path(sys.executable).with_name("mailkeys")
    assert console_script.exists(), f"{console_script}: mailkeys is not installed beside Python"
    printed = subprocess.run(
        [str(console_script), "team", "create", "Acme"],
        cwd=tmp_path,
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    token = next(line.split()[-1] for line in printed.splitlines() if line.startswith("key:"))

    with serve(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        viewer = call(client, token, {"query": "{ viewer { team { name } } }"})

    assert viewer.json()["data"]["viewer"]["team"]["name"] == "Acme"
    assert token not in server.output()
