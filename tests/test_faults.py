"""Faults of the scale-out engines: a killed worker, a PostgreSQL restart, a Redis restart."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import OPERATOR_TOKEN
from tests.scaleout import (
    REDIS_URL,
    fresh_database,
    require_services,
    restart_postgres,
    start_redis,
    stop_redis,
    wait_for_port,
)
from tests.served import Server, serve

pytestmark = [pytest.mark.process, pytest.mark.scaleout]

VIEWER = "{ viewer { apiKey { id } } }"
CREATE = (
    'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) '
    "{ apiKey { id } secret } }"
)
ROTATE = "mutation($id: ID!) { apiKeyRotate(input: {id: $id}) { apiKey { id } } }"


def gql(server: Server, token: str, query: str, **variables: object) -> httpx.Response:
    return httpx.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def new_team(server: Server) -> tuple[str, str]:
    created = gql(
        server, OPERATOR_TOKEN, 'mutation { teamCreate(input: {name: "F"}) { team { id } secret } }'
    ).json()["data"]["teamCreate"]
    return created["team"]["id"], created["secret"]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[list[Server], str]]:
    require_services()
    env = {"MAILKEYS_REDIS_URL": REDIS_URL, "MAILKEYS_REDIS_PREFIX": f"mk-f-{uuid.uuid4().hex}:"}
    with fresh_database(tmp_path) as url, ExitStack() as stack:
        running = [
            stack.enter_context(serve(tmp_path, MAILKEYS_DATABASE_URL=url, **env)) for _ in range(2)
        ]
        yield running, url


async def _rows(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def test_killing_a_worker_mid_burst_leaves_no_half_written_rows(
    servers: tuple[list[Server], str],
) -> None:
    (first, second), url = servers
    team_id, admin = new_team(first)
    to_rotate = [
        gql(first, admin, CREATE).json()["data"]["apiKeyCreate"]["apiKey"]["id"] for _ in range(10)
    ]

    # a burst of creates and rotations on both servers; the second one is killed midway
    async def burst() -> None:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int) -> None:
                server = (first, second)[i % 2]
                if i < 10:
                    body = {"query": ROTATE, "variables": {"id": to_rotate[i]}}
                else:
                    body = {"query": CREATE}
                # the killed server's requests die with it
                with contextlib.suppress(httpx.TransportError):
                    await client.post(
                        f"{server.url}/graphql",
                        json=body,
                        headers={"Authorization": f"Bearer {admin}"},
                    )

            await asyncio.gather(*(one(i) for i in range(80)))

    killer = threading.Timer(0.3, lambda: second.process.send_signal(signal.SIGKILL))
    killer.start()
    asyncio.run(burst())
    killer.join()
    assert second.process.wait(timeout=10) == -signal.SIGKILL

    # then every stored key is whole: audited in its own transaction, rotation links intact
    keys = asyncio.run(_rows(url, "SELECT * FROM api_key WHERE team_id = $1", team_id))
    events = asyncio.run(
        _rows(url, "SELECT * FROM audit_event WHERE team_id = $1 AND outcome = 'success'", team_id)
    )
    by_id = {key["id"]: key for key in keys}
    created = {e["target_id"] for e in events if e["action"] in ("key.create",)}
    rotated_to = {e["target_id"] for e in events if e["action"] == "key.rotate"}
    first_key = {key["id"] for key in keys if key["created_by"] == "operator"}
    successors = {key["id"] for key in keys if key["rotated_from_id"] is not None}
    assert set(by_id) == created | successors | first_key
    assert {by_id[s]["rotated_from_id"] for s in successors} == rotated_to
    for successor in successors:
        predecessor = by_id[by_id[successor]["rotated_from_id"]]
        assert predecessor["rotated_to_id"] == successor
        assert predecessor["slot_id"] == by_id[successor]["slot_id"]
    # and the limit count the API reports is the stored truth
    used = gql(first, admin, "{ viewer { team { limits { resource used } } } }").json()
    reported = {x["resource"]: x["used"] for x in used["data"]["viewer"]["team"]["limits"]}
    live_slots = {key["slot_id"] for key in keys if key["revoked_at"] is None}
    assert reported["CREDENTIALS"] == len(live_slots) <= 100


def test_a_postgres_restart_gives_retryable_errors_then_recovers(
    servers: tuple[list[Server], str],
) -> None:
    (server, _), _ = servers
    _, admin = new_team(server)
    outcomes: list[tuple[float, int, list[str], list[bool]]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                response = gql(server, admin, VIEWER)
            except httpx.TransportError:
                continue
            errors = response.json().get("errors", [])
            outcomes.append(
                (
                    time.monotonic(),
                    response.status_code,
                    [e["extensions"]["code"] for e in errors],
                    [e["extensions"]["retryable"] for e in errors],
                )
            )
            time.sleep(0.02)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        time.sleep(0.5)
        restart_postgres(down_seconds=2)
        restarted = time.monotonic()
        time.sleep(4)
    finally:
        stop.set()
        loader.join()
        wait_for_port(5432)

    during = [o for o in outcomes if o[1] != 200]
    assert during, "the outage was not noticed"
    assert all(o[1] == 503 and o[2] == ["UNAVAILABLE"] and o[3] == [True] for o in during), during
    recovered = [o for o in outcomes if o[0] > restarted + 2]
    assert recovered
    assert all(o[1] == 200 for o in recovered), recovered[:5]


def test_a_redis_restart_degrades_to_local_limits_then_recovers(
    servers: tuple[list[Server], str],
) -> None:
    (server, _), _ = servers
    _, admin = new_team(server)
    try:
        stop_redis()
        during = [gql(server, admin, VIEWER).status_code for _ in range(5)]
        degraded = httpx.get(f"{server.url}/readyz")
    finally:
        start_redis()
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.url}/readyz").json()["status"] != "ready":
        assert time.monotonic() < deadline, "readiness did not recover"
        time.sleep(0.2)
    after = gql(server, admin, VIEWER)

    assert during == [200] * 5
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["redis"] is False
    assert after.status_code == 200
