"""`/metrics`: protected, counting what operators watch, and the credential inventory."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailkeys.settings import Settings
from mailkeys.telemetry.metrics import TEAM_BUCKETS, bucket_of, render_inventory
from tests.conftest import OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle, test_settings
from tests.served import serve

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]
METRICS_TOKEN = "metrics-test-token-0123456789"
VIEWER = "{ viewer { apiKey { id } } }"
REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { status } } }"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a scrape (0 when absent, as a counter not yet touched)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


@pytest.fixture
def settings() -> Settings:
    return test_settings(metrics_token=METRICS_TOKEN)


async def scrape(client: httpx.AsyncClient, token: str = METRICS_TOKEN) -> str:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.text


async def test_metrics_need_the_metrics_or_the_operator_token(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/metrics")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    by_metrics_token = await client.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    by_operator = await client.get(
        "/metrics", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )

    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert METRICS_TOKEN not in anonymous.text
    assert by_metrics_token.status_code == by_operator.status_code == 200
    assert by_metrics_token.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE mailkeys_requests_total counter" in by_metrics_token.text


@pytest.mark.parametrize("settings", [test_settings(operator_token=None, metrics_token=None)])
async def test_metrics_do_not_exist_without_a_token_to_protect_them(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/metrics")).status_code == 404


async def test_requests_are_counted_by_operation_and_outcome_code(
    client: httpx.AsyncClient, gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    before = await scrape(client)

    (await gql(VIEWER, token=team.token)).ok()
    (await gql(VIEWER, token=team.token)).ok()
    await gql(VIEWER, token=team.token + "x")
    await gql("{ viewer { kind } presets { id } }", token=team.token)
    await gql("{ nosuchfield }", token=team.token)
    await client.get("/healthz")
    after = await scrape(client)

    def delta(**labels: str) -> float:
        name = "mailkeys_requests_total"
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(operation="viewer", code="OK") == 2
    assert delta(operation="viewer", code="UNAUTHENTICATED") == 1
    assert delta(operation="multiple", code="OK") == 1
    assert delta(operation="invalid", code="BAD_USER_INPUT") == 1
    assert delta(operation="/healthz", code="OK") == 1


async def test_authentication_outcomes_argon2_and_the_verified_cache(
    client: httpx.AsyncClient, gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly")
    before = await scrape(client)

    for _ in range(3):
        (await gql(VIEWER, token=key.token)).ok()  # argon2 once, then the cache
    await gql(VIEWER, token="smx_root_garbage")
    (await gql(REVOKE, {"id": key.id}, token=team.token)).ok()
    await gql(VIEWER, token=key.token)
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    auth = "mailkeys_authentications_total"
    assert delta(auth, outcome="success", reason="infrastructure") == 4  # 3 + the revoker
    assert delta(auth, outcome="failure", reason="malformed_token") == 1
    assert delta(auth, outcome="failure", reason="revoked") == 1
    # the new key pays argon2 once; the admin token was verified (and cached) by make_key
    assert delta("mailkeys_argon2_operations_total", operation="verify") == 1
    assert delta("mailkeys_verified_cache_lookups_total", result="miss") == 1
    assert delta("mailkeys_verified_cache_lookups_total", result="hit") == 3
    assert delta("mailkeys_authentication_duration_seconds_count") == 6


@pytest.mark.parametrize(
    "settings", [test_settings(metrics_token=METRICS_TOKEN, rate_limit_infrastructure=5)]
)
@pytest.mark.usefixtures("manual_clock")  # the five requests fall into one minute
async def test_denials_and_rate_limit_rejections_are_counted(
    client: httpx.AsyncClient, gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    readonly = await make_key(team.token, preset="root:readonly")
    before = await scrape(client)

    forbidden = await gql(
        'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) '
        "{ secret } }",
        token=readonly.token,
    )
    answers = [await gql(VIEWER, token=readonly.token) for _ in range(5)]
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert forbidden.codes == ["FORBIDDEN"]
    assert [a.status for a in answers] == [200, 200, 200, 200, 429]
    assert delta("mailkeys_decision_duration_seconds_count", result="denied") == 1
    assert delta("mailkeys_requests_total", operation="apiKeyCreate", code="FORBIDDEN") == 1
    assert delta("mailkeys_rate_limit_rejections_total", limiter="credential") == 1
    assert delta("mailkeys_requests_total", operation="viewer", code="RATE_LIMITED") == 1


async def test_the_inventory_counts_teams_by_credentials_held(
    client: httpx.AsyncClient, gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a team with 12 active infrastructure keys and one revoked, and a team with one
    big = await make_team("Big")
    keys = [await make_key(big.token, preset="root:readonly") for _ in range(12)]
    (await gql(REVOKE, {"id": keys[0].id}, token=big.token)).ok()
    await make_team("Small")

    scraped = await scrape(client)

    def teams(bucket: str, type_: str = "infrastructure", status: str = "active") -> float:
        name = "mailkeys_teams_by_credential_count"
        return sample(scraped, name, type=type_, status=status, bucket=bucket)

    assert sample(scraped, "mailkeys_teams") == 2
    assert sample(scraped, "mailkeys_credentials", type="infrastructure", status="active") == 13
    assert sample(scraped, "mailkeys_credentials", type="infrastructure", status="revoked") == 1
    assert (teams("1-10"), teams("11-50"), teams("0")) == (1, 1, 0)
    assert teams("1-10", status="revoked") == 1
    assert teams("0", status="revoked") == 1
    assert teams("0", type_="sending") == 2
    assert teams("0", type_="password") == 2


def test_bucket_boundaries() -> None:
    assert [bucket_of(n) for n in (0, 1, 10, 11, 50, 51, 100, 101, 10_000)] == [
        "0", "1-10", "1-10", "11-50", "11-50", "51-100", "51-100", "101+", "101+",
    ]  # fmt: skip
    assert [label for _, _, label in TEAM_BUCKETS] == ["0", "1-10", "11-50", "51-100", "101+"]


def test_inventory_reports_every_type_and_status_even_at_zero() -> None:
    text = render_inventory(3, {}, ["sending"], ["active", "revoked"]).decode()

    assert sample(text, "mailkeys_teams") == 3
    assert sample(text, "mailkeys_credentials", type="sending", status="revoked") == 0
    # a zero series is reported, not left out
    assert 'mailkeys_credentials{status="revoked",type="sending"} 0.0' in text
    for status in ("active", "revoked"):
        assert sample(text, "mailkeys_teams_by_credential_count", status=status, bucket="0") == 3


@pytest.mark.process
def test_several_workers_report_one_sum_and_leave_no_files(tmp_path: Path) -> None:
    with serve(
        tmp_path, "--workers", "2", "--allow-sqlite-workers", MAILKEYS_METRICS_TOKEN=METRICS_TOKEN
    ) as server:
        announced = re.search(r"aggregated in (\S+)", server.output())
        assert announced, server.output()
        metrics_dir = Path(announced.group(1))
        assert metrics_dir.is_dir()
        # new connections, so that both workers take requests
        for _ in range(30):
            with httpx.Client(base_url=server.url, timeout=10) as client:
                assert client.get("/healthz").status_code == 200
        scrapes = []
        for _ in range(6):
            with httpx.Client(base_url=server.url, timeout=10) as client:
                response = client.get(
                    "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
                )
                scrapes.append(response.text)
        worker_files = list(metrics_dir.glob("*.db"))

    counts = [
        sample(s, "mailkeys_requests_total", operation="/healthz", code="OK") for s in scrapes
    ]
    # every scrape, whichever worker answers it, reports the requests of both workers
    assert all(count >= 30 for count in counts), counts
    assert len(worker_files) >= 2  # one file per worker and metric type
    assert not metrics_dir.exists()
