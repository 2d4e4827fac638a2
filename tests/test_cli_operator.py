"""The operator commands as an on-call operator runs them, on a SQLite file a server uses."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import Cli
from tests.served import serve

KEY_CREATE = (
    "mutation($name: String!) { apiKeyCreate(input: {type: INFRASTRUCTURE, "
    'preset: "root:readonly", name: $name}) { apiKey { id } secret } }'
)
VIEWER = {"query": "{ viewer { apiKey { id } } }"}


def graphql(client: httpx.Client, token: str, body: dict[str, Any]) -> httpx.Response:
    return client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})


def wait_for_last_use(database: Path, key_id: str, timeout: float = 10) -> None:
    """Poll the server's database until it has recorded the key's last use (it writes them
    in batches, about every second with a precision of one second)."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(database) as connection:
        while True:
            row = connection.execute(
                "SELECT last_used_at FROM api_key WHERE id = ?", (key_id,)
            ).fetchone()
            if row and row[0] is not None:
                return
            assert time.monotonic() < deadline, "the server did not record the key's last use"
            time.sleep(0.05)


@pytest.mark.process  # the API runs as a real server beside the commands
def test_operator_lists_limits_revokes_and_audits_a_team(tmp_path: Path, cli: Cli) -> None:
    # given a team made with the CLI, and its credential limit raised past one page of keys
    created = cli("team", "create", "Acme")
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(":", 1) for line in created.stdout.splitlines() if ":" in line)
    team_id, admin = fields["team id"].strip(), fields["key"].strip()
    limits = cli("team", "limits", team_id, "--set", "credentials=150")
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
        wait_for_last_use(tmp_path / "mailkeys.sqlite3", used_id)

        # when the operator lists the keys (while the API runs), then revokes the used one
        listed = cli("keys", "list", team_id)
        revoked = cli("keys", "revoke", used_id)

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
    revoked_json = cli("keys", "list", team_id, "--status", "revoked", "--json")
    trail = cli("audit", team_id, "--limit", "0", "--json")
    unknown = cli("keys", "list", "team_doesnotexist")
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


def test_revoking_an_unknown_key_exits_non_zero_and_is_idempotent(cli: Cli) -> None:
    created = cli("team", "create", "Acme")
    key_id = next(
        line.split()[2] for line in created.stdout.splitlines() if line.startswith("key id:")
    )

    first = cli("keys", "revoke", key_id, "nosuchkey00000000")
    again = cli("keys", "revoke", key_id)

    assert first.returncode == 1
    assert first.stdout.splitlines() == [
        f"{key_id}: revoked (team {created.stdout.split()[2]})",
        "nosuchkey00000000: not found",
    ]
    assert "revoked: 2/2" in first.stderr
    assert again.returncode == 0


def test_limits_refuse_an_unknown_resource(cli: Cli) -> None:
    refused = cli("team", "limits", "team_x", "--set", "bananas=3")

    assert refused.returncode == 2
    assert "unknown resource 'bananas'" in refused.stderr


def test_purge_removes_only_the_teams_whose_grace_has_ended(tmp_path: Path, cli: Cli) -> None:
    leaving = cli("team", "create", "Leaving").stdout.split()[2]
    staying = cli("team", "create", "Staying").stdout.split()[2]
    with sqlite3.connect(tmp_path / "mailkeys.sqlite3") as connection:
        [(created,)] = connection.execute("SELECT created_at FROM team WHERE id = ?", [leaving])
        ended = "2000" + str(created)[4:]  # the stored format, long before now
        connection.execute(
            "UPDATE team SET deletion_requested_at = ?, purge_after = ? WHERE id = ?",
            [ended, ended, leaving],
        )

    purged = cli("team", "purge")
    again = cli("team", "purge")

    assert purged.returncode == 0
    assert purged.stdout.splitlines() == [f"purged team {leaving}", "1 team(s) purged"]
    assert again.stdout.splitlines() == ["0 team(s) purged"]
    with sqlite3.connect(tmp_path / "mailkeys.sqlite3") as connection:
        remaining = [row[0] for row in connection.execute("SELECT id FROM team")]
    assert remaining == [staying]
