"""Several servers on one PostgreSQL database and one Redis: one consistent service.

Two `mailkeys serve` processes share the database and Redis (the test session's own, see
tests/scaleout.py), so every request can be sent to a chosen process (a `--workers 2` server
would leave the choice to the kernel).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import GATEWAY_TOKEN, MID_MINUTE, OPERATOR_TOKEN
from tests.scaleout import fresh_database
from tests.served import Server, serve_together
from tests.services import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.process, pytest.mark.scaleout]

VIEWER = "{ viewer { apiKey { id } } }"
CREATE = (
    'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) '
    "{ apiKey { id } secret } }"
)


@dataclass
class Cluster:
    """Two servers on one database; `url` is that database."""

    servers: list[Server]
    url: str

    def post(self, index: int, token: str, query: str, **variables: Any) -> httpx.Response:
        return httpx.post(
            f"{self.servers[index % 2].url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def team(self) -> tuple[str, str]:
        """A new team: (team id, its first key)."""
        body = self.post(
            0, OPERATOR_TOKEN, 'mutation { teamCreate(input: {name: "T"}) { team { id } secret } }'
        ).json()
        created = body["data"]["teamCreate"]
        return created["team"]["id"], created["secret"]


# Every key of the module's cluster may make 50 requests a minute: more than any test but the
# rate limit's own makes with one key.
RATE_LIMIT = 50


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PrivatePostgres,
    redis_server: PrivateRedis,
    template: str,
) -> Iterator[Cluster]:
    """One cluster for the module's tests, on a fresh database: each works in its own teams."""
    postgres_server.ensure_running()  # a fault test before may have left them down
    redis_server.ensure_running()
    with (
        fresh_database(template, postgres_server.url()) as url,
        serve_together(
            tmp_path_factory.mktemp("cluster"),
            2,
            # their wall clock stands still 30 s into a minute: requests counted against a
            # one-minute budget (rate limits, failed checks) fall into one window
            wall_clock=MID_MINUTE,
            MAILKEYS_DATABASE_URL=url,
            MAILKEYS_REDIS_URL=redis_server.url,
            MAILKEYS_REDIS_PREFIX=f"mk-scale-{uuid.uuid4().hex}:",
            MAILKEYS_RATE_LIMIT_INFRASTRUCTURE=str(RATE_LIMIT),
            MAILKEYS_SHARED_DOMAIN="s.example",
        ) as servers,
    ):
        yield Cluster(servers=servers, url=url)


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


def test_revoke_on_one_server_refuses_the_next_request_on_the_other(cluster: Cluster) -> None:
    _, admin = cluster.team()
    key = cluster.post(0, admin, CREATE).json()["data"]["apiKeyCreate"]
    assert cluster.post(1, key["secret"], VIEWER).status_code == 200  # cached on server 1

    cluster.post(
        0,
        admin,
        "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }",
        id=key["apiKey"]["id"],
    )
    refused = cluster.post(1, key["secret"], VIEWER)

    assert refused.status_code == 401
    assert codes(refused) == ["UNAUTHENTICATED"]


async def _fill(url: str, team_id: str, count: int) -> None:
    """Store `count` active keys for the team directly, as if issued earlier."""
    connection = await asyncpg.connect(url)
    now = datetime.fromtimestamp(MID_MINUTE, UTC)  # the servers' time
    try:
        await connection.executemany(
            "INSERT INTO api_key (id, team_id, type, name, preset, permissions, send_scope_ids,"
            " secret_hash, display_token, created_at, created_by, slot_id)"
            " VALUES ($1, $2, 'infrastructure', 'filler', 'root:readonly', '[]', '[]',"
            " 'unused', 'smx_root_filler', $3, 'test', $1)",
            [(f"fill{uuid.uuid4().hex[:20]}", team_id, now) for _ in range(count)],
        )
    finally:
        await connection.close()


async def _active(url: str, team_id: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(DISTINCT slot_id) FROM api_key WHERE team_id = $1"
                " AND (revoked_at IS NULL OR revoked_at > now())"
                " AND (expires_at IS NULL OR expires_at > now())",
                team_id,
            )
        )
    finally:
        await connection.close()


def test_concurrent_creates_over_both_servers_at_99_yield_exactly_one(cluster: Cluster) -> None:
    for _ in range(5):
        # given a team at 99 of its 100 active credentials
        team_id, admin = cluster.team()
        asyncio.run(_fill(cluster.url, team_id, 98))

        # when 40 creations race, alternating between the servers
        async def race(team_token: str = admin) -> list[list[str]]:
            async with httpx.AsyncClient(timeout=60) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            f"{cluster.servers[i % 2].url}/graphql",
                            json={"query": CREATE},
                            headers={"Authorization": f"Bearer {team_token}"},
                        )
                        for i in range(40)
                    )
                )
            return [codes(response) for response in responses]

        outcomes = asyncio.run(race())

        # then exactly one succeeds
        assert outcomes.count([]) == 1, outcomes
        assert outcomes.count(["LIMIT_EXCEEDED"]) == 39, [
            o for o in outcomes if o != ["LIMIT_EXCEEDED"]
        ]
        assert asyncio.run(_active(cluster.url, team_id)) == 100


def test_a_rate_limit_holds_in_total_across_servers(cluster: Cluster) -> None:
    _, admin = cluster.team()  # the operator made this request, not the key

    statuses = [cluster.post(i, admin, VIEWER).status_code for i in range(RATE_LIMIT + 10)]

    assert statuses.count(200) == RATE_LIMIT
    assert statuses.count(429) == 10
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT


def test_suspension_takes_effect_on_both_servers(cluster: Cluster) -> None:
    _, admin = cluster.team()
    mailbox = cluster.post(
        0, admin, 'mutation { mailboxCreate(input: {address: "a@s.example"}) { mailbox { id } } }'
    ).json()["data"]["mailboxCreate"]["mailbox"]["id"]
    key = cluster.post(
        0,
        admin,
        "mutation($m: ID!) { apiKeyCreate(input: {type: MAILBOX, mailboxId: $m, "
        'permissions: ["mailbox.read"]}) { secret } }',
        m=mailbox,
    ).json()["data"]["apiKeyCreate"]["secret"]
    assert [cluster.post(i, key, VIEWER).status_code for i in range(2)] == [200, 200]

    cluster.post(
        1,
        admin,
        "mutation($m: ID!) { mailboxSuspend(input: {id: $m}) { mailbox { id } } }",
        m=mailbox,
    )
    suspended = [cluster.post(i, key, VIEWER).status_code for i in range(2)]
    cluster.post(
        0,
        admin,
        "mutation($m: ID!) { mailboxResume(input: {id: $m}) { mailbox { id } } }",
        m=mailbox,
    )
    resumed = [cluster.post(i, key, VIEWER).status_code for i in range(2)]

    assert suspended == [401, 401]
    assert resumed == [200, 200]


async def _untag(url: str, password_id: str) -> None:
    """Make a password a row stored before tags existed: only argon2 can judge it."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "UPDATE mailbox_password SET secret_tag = NULL WHERE id = $1", password_id
        )
    finally:
        await connection.close()


def test_gateway_check_failures_are_counted_across_servers(cluster: Cluster) -> None:
    _, admin = cluster.team()
    mailbox = cluster.post(
        0, admin, 'mutation { mailboxCreate(input: {address: "g@s.example"}) { mailbox { id } } }'
    ).json()["data"]["mailboxCreate"]["mailbox"]["id"]

    def new_password() -> str:
        return str(
            cluster.post(
                0,
                admin,
                'mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, appName: "mua"})'
                " { password } }",
                m=mailbox,
            ).json()["data"]["mailboxPasswordCreate"]["password"]
        )

    def check(index: int, secret: str) -> bool:
        response = httpx.post(
            f"{cluster.servers[index % 2].url}/v1/credentials/check",
            json={"address": "g@s.example", "secret": secret, "protocol": "SMTP"},
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
        )
        return bool(response.json()["allowed"])

    # given a password stored before tags (argon2 judges its guesses, charged to its budget)
    # and one stored with its tag, neither verified by either server yet
    legacy, tagged = new_password(), new_password()
    asyncio.run(_untag(cluster.url, legacy[:10]))

    for secret in (legacy, tagged):  # 5 wrong secrets for each real password id on each server
        assert not any(check(i, secret[:10] + "x" * 30) for i in range(10))

    # the legacy password's budget of 10 failures a minute is spent in total across both
    # servers, so even its right secret waits for the next minute; the tagged one's guesses
    # were ruled out by the tag and spent nothing
    assert not check(0, legacy)
    assert not check(1, legacy)
    assert check(0, tagged)
    assert check(1, tagged)
    readiness = [httpx.get(f"{server.url}/readyz").json() for server in cluster.servers]
    assert all(r["checks"] == {"database": True, "policy": True, "redis": True} for r in readiness)
