"""Faults of the scale-out engines: a killed worker, a PostgreSQL restart, a Redis restart.

The servers under test run on the test session's own PostgreSQL cluster and Redis
(`tests.scaleout`), which these tests stop and start; the machine's own are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import OPERATOR_TOKEN
from tests.scaleout import fresh_database
from tests.served import Server, serve_together
from tests.services import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.process, pytest.mark.scaleout]

VIEWER = "{ viewer { apiKey { id } } }"
CREATE = (
    'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) '
    "{ apiKey { id } secret } }"
)
ROTATE = "mutation($id: ID!) { apiKeyRotate(input: {id: $id}) { apiKey { id } } }"
# How soon after PostgreSQL is back every request must succeed again.
RECOVERY_SECONDS = 2.0


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


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


@contextmanager
def running_on_private_services(
    workdir: Path, count: int, postgres: PrivatePostgres, redis_server: PrivateRedis, template: str
) -> Iterator[tuple[list[Server], str]]:
    """`count` servers on a fresh database of the private cluster and on the private Redis."""
    with fresh_database(template, postgres.url()) as url:
        try:
            with serve_together(
                workdir,
                count,
                MAILKEYS_DATABASE_URL=url,
                MAILKEYS_REDIS_URL=redis_server.url,
                MAILKEYS_REDIS_PREFIX=f"mk-f-{uuid.uuid4().hex}:",
            ) as servers:
                yield servers, url
        finally:
            postgres.ensure_running()  # so that the database can be dropped


@pytest.fixture
def servers(
    tmp_path: Path,
    services_up: None,
    postgres_server: PrivatePostgres,
    redis_server: PrivateRedis,
    template: str,
) -> Iterator[tuple[list[Server], str]]:
    """Two servers sharing a fresh database and Redis; and that database's URL."""
    with running_on_private_services(
        tmp_path, 2, postgres_server, redis_server, template
    ) as running:
        yield running


@pytest.fixture
def server(
    tmp_path: Path,
    services_up: None,
    postgres_server: PrivatePostgres,
    redis_server: PrivateRedis,
    template: str,
) -> Iterator[Server]:
    """One server on a fresh database and Redis."""
    with running_on_private_services(
        tmp_path, 1, postgres_server, redis_server, template
    ) as running:
        yield running[0][0]


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

    # a burst of creates and rotations on both servers; the second one is killed midway,
    # once a quarter of the burst has been answered and the rest is in flight
    async def burst() -> None:
        answered = 0
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int) -> None:
                nonlocal answered
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
                answered += 1
                if answered == 20:
                    second.process.send_signal(signal.SIGKILL)

            await asyncio.gather(*(one(i) for i in range(80)))

    asyncio.run(burst())
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


@dataclass(frozen=True)
class Outcome:
    """One request of the load: when it was answered, and how."""

    at: float
    status: int
    codes: list[str]
    retryable: list[bool]


def test_a_postgres_restart_gives_retryable_errors_then_recovers(
    server: Server, postgres_server: PrivatePostgres
) -> None:
    postgres = postgres_server
    _, admin = new_team(server)
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                response = gql(server, admin, VIEWER)
            except httpx.TransportError:
                continue
            errors = response.json().get("errors", [])
            outcomes.append(
                Outcome(
                    time.monotonic(),
                    response.status_code,
                    [e["extensions"]["code"] for e in errors],
                    [e["extensions"]["retryable"] for e in errors],
                )
            )
            time.sleep(0.02)  # pace the load

    def answered(since: float, status: int | None = None) -> int:
        return sum(
            1
            for o in list(outcomes)
            if o.at > since and (status is None or (o.status == 200) is (status == 200))
        )

    loader = threading.Thread(target=load)
    loader.start()
    try:
        # given a server under load, answering
        wait_until(lambda: answered(0, 200) >= 3, "the load is answered")
        # when its database goes down until the outage shows, then comes back
        stopped = time.monotonic()
        postgres.stop()
        wait_until(lambda: answered(stopped, 503) >= 3, "the outage is noticed")
        postgres.start()
        restarted = time.monotonic()
        wait_until(
            lambda: answered(restarted + RECOVERY_SECONDS) >= 10, "the load runs on after it"
        )
    finally:
        stop.set()
        loader.join()
        postgres.ensure_running()

    # then every failure was a retryable UNAVAILABLE, and soon every request succeeds again
    during = [o for o in outcomes if o.status != 200]
    assert during, "the outage was not noticed"
    assert all(
        o.status == 503 and o.codes == ["UNAVAILABLE"] and o.retryable == [True] for o in during
    ), during
    recovered = [o for o in outcomes if o.at > restarted + RECOVERY_SECONDS]
    assert recovered
    assert all(o.status == 200 for o in recovered), recovered[:5]


def test_a_redis_restart_degrades_to_local_limits_then_recovers(
    server: Server, redis_server: PrivateRedis
) -> None:
    _, admin = new_team(server)
    try:
        redis_server.stop()
        during = [gql(server, admin, VIEWER).status_code for _ in range(5)]
        degraded = httpx.get(f"{server.url}/readyz")
    finally:
        redis_server.start()
    wait_until(
        lambda: httpx.get(f"{server.url}/readyz").json()["status"] == "ready",
        "readiness recovers",
        timeout=10,
    )
    after = gql(server, admin, VIEWER)

    assert during == [200] * 5
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["redis"] is False
    assert after.status_code == 200
