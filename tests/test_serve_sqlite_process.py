"""`mailkeys serve` on SQLite as a user runs it: the first steps it prints, and writes that
another process holds up (real servers on one file)."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import OPERATOR_TOKEN
from tests.served import serve, server_env

pytestmark = pytest.mark.process

TEAM_CREATE = 'mutation { teamCreate(input: {name: "Acme"}) { team { id } secret } }'
KEY_CREATE = (
    'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) '
    "{ apiKey { id } } }"
)
KEY_COUNT = "{ apiKeys(first: 1) { totalCount } }"


def post(url: str, token: str, query: str) -> httpx.Response:
    return httpx.post(
        f"{url}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def outcome(response: httpx.Response) -> tuple[int, tuple[str, ...]]:
    errors = response.json().get("errors") or []
    return response.status_code, tuple(e["extensions"]["code"] for e in errors)


def test_the_first_steps_the_server_prints_work_as_printed(tmp_path: Path) -> None:
    # given a fresh server, and a shell whose PATH does not hold the virtualenv
    with serve(tmp_path) as server:
        lines = server.output().splitlines()
    first_steps = next(
        n for n, line in enumerate(lines) if line.startswith("mailkeys: no team yet")
    )
    command = lines[first_steps + 1]
    env = {**server_env(tmp_path), "PATH": "/usr/bin:/bin"}

    # when the user runs the printed command there, as printed
    created = subprocess.run(
        shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )

    # then it makes the team and prints its first key
    assert shlex.split(command)[-3:] == ["team", "create", "My team"]
    assert created.returncode == 0, (command, created.stderr)
    assert "key:      smx_root_" in created.stdout


def test_a_write_held_up_by_another_process_answers_unavailable(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'mailkeys.sqlite3'}?busy_timeout=200"
    with serve(tmp_path, MAILKEYS_DATABASE_URL=url) as server:
        admin = post(server.url, OPERATOR_TOKEN, TEAM_CREATE).json()["data"]["teamCreate"]
        token = admin["secret"]

        # given another process holding the file's write lock
        holder = sqlite3.connect(tmp_path / "mailkeys.sqlite3", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")

            # when a write arrives
            held_up = post(server.url, token, KEY_CREATE)
        finally:
            holder.close()

        # then the client is told to retry, and nothing was half-written
        assert outcome(held_up) == (503, ("UNAVAILABLE",))
        assert held_up.headers["retry-after"] == "1"
        assert held_up.json()["errors"][0]["extensions"]["retryable"] is True
        assert post(server.url, token, KEY_COUNT).json()["data"]["apiKeys"]["totalCount"] == 1
        # and the retry succeeds once the lock is gone
        assert outcome(post(server.url, token, KEY_CREATE)) == (200, ())
        log = server.output()
    assert "database is locked" not in log
    assert "unexpected error" not in log


async def _writes(urls: list[str], token: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(n: int) -> httpx.Response:
            return await client.post(
                f"{urls[n % len(urls)]}/graphql",
                json={"query": KEY_CREATE},
                headers={"Authorization": f"Bearer {token}"},
            )

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def test_two_servers_on_one_file_never_answer_an_internal_error_under_concurrent_writes(
    tmp_path: Path,
) -> None:
    with serve(tmp_path) as first, serve(tmp_path) as second:
        created = post(first.url, OPERATOR_TOKEN, TEAM_CREATE).json()["data"]["teamCreate"]
        # (80 keys stay within the team's default limit of 100 credentials)
        # when both servers take bursts of writes at once
        responses = asyncio.run(_writes([first.url, second.url], created["secret"], 80))

    # then every write either succeeded or was refused as retryable: never an internal error
    seen: Counter[tuple[int, tuple[str, ...]]] = Counter(outcome(r) for r in responses)
    assert set(seen) <= {(200, ()), (503, ("UNAVAILABLE",))}, seen
    refused: list[dict[str, Any]] = [r.json() for r in responses if r.status_code == 503]
    assert all(body["errors"][0]["extensions"]["retryable"] for body in refused)
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 503)
