"""Shared fixtures: an isolated database per test, the real ASGI app, GraphQL helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.context import tortoise_test_context

from mailkeys import clock, policy
from mailkeys.auth.services import Services
from mailkeys.clock import ManualClock
from mailkeys.http.app import create_app
from mailkeys.models import MODEL_MODULES
from mailkeys.policy import compile as policy_compile
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.rules import parse_policy
from mailkeys.resolvers import changes
from mailkeys.settings import Argon2Parameters, Settings
from tests.databases import empty_tables, orm_on, session_database

# Fixtures of every test module: `cli` (the `mailkeys` command run in this process), the
# private PostgreSQL and Redis servers of the scale-out and fault tests, the OpenID provider
# (`oidc`, `make_oidc`, `oidc_private`) and the DNS server (tests/dns_zone.py).
pytest_plugins = ["tests.cli", "tests.scaleout", "tests.oidc", "tests.dns_zone"]

OPERATOR_TOKEN = "operator-test-token-0123456789"
GATEWAY_TOKEN = "gateway-test-token-0123456789"
# argon2's cheapest profile: real hashing, fast tests (never a fake hasher).
CHEAP_ARGON2 = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)


# The PostgreSQL run of the suite (see .ci/run) sets these: the tests then use one database
# of that server for the run (tests/databases.py), emptied before each test, and that Redis.
TEST_DATABASE_URL = os.environ.get("MAILKEYS_TEST_DATABASE_URL", "sqlite://:memory:")
TEST_REDIS_URL = os.environ.get("MAILKEYS_TEST_REDIS_URL") or None
TEST_SHARED_DOMAIN = "example.com"
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgres")


def test_settings(**overrides: Any) -> Settings:
    """Settings for tests: cheap argon2, known operator and gateway tokens."""
    values: dict[str, Any] = {
        "database_url": TEST_DATABASE_URL,
        "redis_url": TEST_REDIS_URL,
        # counters of one test never meet another's
        "redis_prefix": f"mailkeys-test:{uuid.uuid4().hex}:",
        "operator_token": OPERATOR_TOKEN,
        "gateway_token": GATEWAY_TOKEN,
        "argon2": CHEAP_ARGON2,
        # Tests create their mailboxes on the shared domain unless they verify one.
        "shared_domain": TEST_SHARED_DOMAIN,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test despite its name


# 30 s into a minute (2027-01-15T08:00:30Z): a test that counts requests against a one-minute
# budget (rate limits, failure budgets, last-use batches) stays inside one window until it
# advances the clock itself.
MID_MINUTE = 1_800_000_030.0


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    """The time `mailkeys.clock` gives, standing still until the test advances it."""
    with clock.using(ManualClock(MID_MINUTE)) as pinned:
        yield pinned


@pytest.fixture(scope="session")
def shipped_policy() -> policy.PolicySnapshot:
    """The shipped policy, built once for the session."""
    return build_snapshot(shipped_model_text(), shipped_policy_text(), version=1)


@pytest.fixture(autouse=True)
def shipped_policy_compiled_once(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    shipped_policy: policy.PolicySnapshot,
) -> None:
    """Compiling the shipped rules again gives the session's snapshot (at the version asked).

    Compiling asks Casbin 1,500 questions (about 0.25 s); seeding version 1, as a first start
    does, compiles the shipped rules, and a few hundred tests seed. The answers depend only on
    the model and the rules, so they are Casbin's real ones either way. Tests marked
    `policy_compiled_each_time` (the compiler's own) compile everything afresh.
    """
    if request.node.get_closest_marker("policy_compiled_each_time"):
        return
    compile_afresh = policy_compile.compile_policy
    model_text, lines = shipped_model_text(), list(shipped_policy.lines)

    def compile_policy(
        model: str, rules: str, version: int
    ) -> tuple[policy.PolicySnapshot | None, list[Any]]:
        if model == model_text and parse_policy(rules) == lines:
            return replace(shipped_policy, version=version), []
        return compile_afresh(model, rules, version)

    monkeypatch.setattr(policy_compile, "compile_policy", compile_policy)


@pytest.fixture(autouse=True)
def installed_policy(shipped_policy: policy.PolicySnapshot) -> policy.PolicySnapshot:
    """Every test starts from the shipped policy."""
    policy.install(shipped_policy)
    return shipped_policy


@pytest.fixture(autouse=True)
def refusal_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no refused attempts counted (the bound is per process)."""
    monkeypatch.setattr(changes, "_refusal_windows", changes.RefusalWindows())


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """SQLite in memory (a new one each time it is opened), or the session's PostgreSQL one."""
    if not ON_POSTGRES:
        yield TEST_DATABASE_URL
        return
    with session_database(TEST_DATABASE_URL) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[None]:
    """An empty database with the schema: a fresh in-memory SQLite one, or the session's
    PostgreSQL database emptied."""
    if not ON_POSTGRES:
        async with tortoise_test_context(MODEL_MODULES, db_url=database_url):
            yield
        return
    async with orm_on(database_url) as context:
        await empty_tables(context)
        yield


@pytest.fixture
def settings() -> Settings:
    """The settings the app under test runs with."""
    return test_settings()


@pytest.fixture
def app(settings: Settings) -> Starlette:
    """The real ASGI app (its lifespan is not run: `db` and `installed_policy` stand in)."""
    return create_app(settings)


@pytest.fixture
def services(app: Starlette) -> Services:
    """The app's per-process collaborators (authenticator, hasher)."""
    return cast(Services, app.state.services)


@pytest.fixture
async def client(db: None, app: Starlette, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app in this event loop."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as c:
        yield c
    await services.close()


@dataclass
class GqlResult:
    """A GraphQL response as the client sees it."""

    status: int
    headers: httpx.Headers
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.errors]

    def ok(self) -> Any:
        """The data, asserting there was no error."""
        assert not self.errors, self.errors
        return self.data


Gql = Callable[..., Awaitable[GqlResult]]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> Gql:
    """Run a GraphQL document over HTTP, optionally with a Bearer token."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> GqlResult:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return GqlResult(response.status_code, response.headers, response.json())

    return run


@dataclass
class TeamHandle:
    """A team made for a test and its first Full Access key."""

    id: str
    token: str
    key_id: str


TEAM_CREATE = """
mutation($name: String!) {
  teamCreate(input: {name: $name}) { team { id name } apiKey { id } secret }
}
"""

KEY_CREATE = """
mutation($input: ApiKeyCreateInput!) {
  apiKeyCreate(input: $input) {
    apiKey { id type preset permissions status displayToken mailboxId mailboxIds
             sendScope { mode providerIds deliveryGroupIds } }
    secret
  }
}
"""


@pytest.fixture
def make_team(gql: Gql) -> Callable[..., Awaitable[TeamHandle]]:
    """Create a team through the operator API."""

    async def make(name: str = "Acme") -> TeamHandle:
        data = (await gql(TEAM_CREATE, {"name": name}, token=OPERATOR_TOKEN)).ok()
        created = data["teamCreate"]
        return TeamHandle(created["team"]["id"], created["secret"], created["apiKey"]["id"])

    return make


@dataclass
class KeyHandle:
    """A key made for a test: its id, its token, and the API's view of it."""

    id: str
    token: str
    node: dict[str, Any]


@pytest.fixture
def make_key(gql: Gql) -> Callable[..., Awaitable[KeyHandle]]:
    """Create a key with `token`; keyword arguments are the GraphQL input."""

    async def make(token: str, **key_input: Any) -> KeyHandle:
        key_input.setdefault("type", "INFRASTRUCTURE")
        if key_input["type"] == "INFRASTRUCTURE":
            key_input.setdefault("preset", "root:full")
        data = (await gql(KEY_CREATE, {"input": key_input}, token=token)).ok()
        created = data["apiKeyCreate"]
        return KeyHandle(created["apiKey"]["id"], created["secret"], created["apiKey"])

    return make
