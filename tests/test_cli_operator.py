"""The operator commands as an on-call operator runs them: subprocesses on a SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import serve, server_env

pytestmark = pytest.mark.process

KEY_CREATE = (
    "mutation($name: String!) { apiKeyCreate(input: {type: INFRASTRUCTURE, "
    'preset: "root:readonly", name: $name}) { apiKey { id } secret } }'
)
VIEWER = {"query": "{ viewer { apiKey { id } } }"}


def start(workdir: Path, *args: str) -> subprocess.Popen[str]:
    """Start `mailkeys ARGS` in `workdir` against its SQLite file."""
    return subprocess.Popen(
        [sys.executable, "-m", "mailkeys.cli", *args],
        cwd=workdir,
        env=server_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def mailkeys(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `mailkeys ARGS` to completion."""
    return finish(start(workdir, *args))


def graphql(client: httpx.Client, token: str, body: dict[str, Any]) -> httpx.Response:
    return client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})


def test_operator_lists_limits_revokes_and_audits_a_team(tmp_path: Path) -> None:
    # given a team made with the CLI, and its credential limit raised past one page of keys
    created = mailkeys(tmp_path, "team", "create", "Acme")
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(":", 1) for line in created.stdout.splitlines() if ":" in line)
    team_id, admin = fields["team id"].strip(), fields["key"].strip()
    limits = mailkeys(tmp_path, "team", "limits", team_id, "--set", "credentials=150")
    assert limits.returncode == 0, limits.stderr
    assert ["credentials", "1", "150"] in [line.split() for line in limits.stdout.splitlines()]

    tokens: dict[str, str] = {}
    with (
        serve(tmp_path, MAILKEYS_LAST_USED_PRECISION_SECONDS="1") as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        for n in range(110):
            key = graphql(client, admin, {"query": KEY_CREATE, "variables": {"name": f"k{n}"}})
            created_key = key.json()["data"]["apiKeyCreate"]
            tokens[created_key["apiKey"]["id"]] = created_key["secret"]
        used_id = next(iter(tokens))
        assert graphql(client, tokens[used_id], VIEWER).status_code == 200

        # when the operator lists the keys (while the API runs), then revokes the used one
        listed = mailkeys(tmp_path, "keys", "list", team_id)
        revoked = mailkeys(tmp_path, "keys", "revoke", used_id)

        # then the revocation holds on the API's very next request
        assert graphql(client, tokens[used_id], VIEWER).status_code == 401
        assert graphql(client, admin, VIEWER).status_code == 200
        secrets_seen = [admin, *tokens.values()]

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "TYPE",
        "PRESET/PERMISSIONS",
        "STATUS",
        "LAST",
        "USED",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:-1]}
    assert set(rows) == {*tokens, fields["key id"].split()[0]}
    assert lines[-1] == "111 key(s)"
    assert rows[used_id][1:5] == ["k0", "infrastructure", "root:readonly", "active"]
    assert rows[used_id][5:] != ["never"]  # its last use was recorded
    assert rows[list(tokens)[-1]][5:] == ["never"]
    # more than one page: the operator sees progress on stderr
    assert "keys: 100/111" in listed.stderr
    assert "keys: 111/111" in listed.stderr

    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == f"{used_id}: revoked (team {team_id})"

    # and the revocation is on record with the operator as its actor
    revoked_json, trail, unknown = (
        finish(process)
        for process in [
            start(tmp_path, "keys", "list", team_id, "--status", "revoked", "--json"),
            start(tmp_path, "audit", team_id, "--limit", "0", "--json"),
            start(tmp_path, "keys", "list", "team_doesnotexist"),
        ]
    )
    assert [key["id"] for key in json.loads(revoked_json.stdout)] == [used_id]
    events = json.loads(trail.stdout)
    actions = [(e["actor"], e["action"], e["target_id"], e["outcome"]) for e in events]
    assert actions[0] == ("operator", "key.revoke", used_id, "success")
    assert ("operator", "team.limit.update", team_id, "success") in actions
    assert ("operator", "team.create", team_id, "success") in actions
    assert len(events) == 113  # team.create, team.limit.update, 110 key.create, key.revoke
    assert "events: 113/113" in trail.stderr
    assert unknown.returncode == 1
    assert "Team not found" in unknown.stderr

    # and no command ever printed a secret
    for completed in (created, limits, listed, revoked, revoked_json, trail, unknown):
        output = completed.stdout + completed.stderr
        assert not any(secret in output for secret in secrets_seen if secret != admin)
    assert all(admin not in c.stdout + c.stderr for c in (listed, revoked, revoked_json, trail))


def test_revoking_an_unknown_key_exits_non_zero_and_is_idempotent(tmp_path: Path) -> None:
    created = mailkeys(tmp_path, "team", "create", "Acme")
    key_id = next(
        line.split()[2] for line in created.stdout.splitlines() if line.startswith("key id:")
    )

    first = mailkeys(tmp_path, "keys", "revoke", key_id, "nosuchkey00000000")
    again = mailkeys(tmp_path, "keys", "revoke", key_id)

    assert first.returncode == 1
    assert first.stdout.splitlines() == [
        f"{key_id}: revoked (team {created.stdout.split()[2]})",
        "nosuchkey00000000: not found",
    ]
    assert "revoked: 2/2" in first.stderr
    assert again.returncode == 0


def test_limits_refuse_an_unknown_resource(tmp_path: Path) -> None:
    refused = mailkeys(tmp_path, "team", "limits", "team_x", "--set", "bananas=3")

    assert refused.returncode == 2
    assert "unknown resource 'bananas'" in refused.stderr
