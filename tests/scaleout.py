"""PostgreSQL and Redis servers for the scale-out and fault tests (a pytest plugin: conftest).

Those tests run `mailkeys serve` processes on a PostgreSQL cluster and a Redis of the test
session's own (`tests.services`): the fault tests stop and kill them, and every test may
create and drop databases there cheaply, without a checkpoint of the machine's own server
(which other work shares, and which never sees these tests). Without the programs to start
them the tests skip with a reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.databases import admin, database_url
from tests.served import migrate
from tests.services import (
    PrivatePostgres,
    PrivateRedis,
    missing_programs,
    private_postgres,
    private_redis,
)


def require_programs() -> None:
    """Skip (or, under CI, fail) unless private PostgreSQL and Redis servers can be started."""
    missing = missing_programs()
    if not missing:
        return
    reason = f"{', '.join(missing)} not found (the scale-out tests start their own servers)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivatePostgres]:
    """The session's own PostgreSQL cluster; a test that stops it need not start it again."""
    require_programs()
    with private_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedis]:
    """The session's own Redis; a test that kills it need not start it again."""
    require_programs()
    with private_redis() as server:
        yield server


@pytest.fixture(scope="session")
def template(postgres_server: PrivatePostgres) -> Iterator[str]:
    """A migrated database on the session's cluster, copied for each cluster of servers."""
    with migrated_template(postgres_server.url()) as name:
        yield name


@pytest.fixture
def services_up(postgres_server: PrivatePostgres, redis_server: PrivateRedis) -> None:
    """Both servers running (a fault test before may have left one down)."""
    postgres_server.ensure_running()
    redis_server.ensure_running()


@contextmanager
def migrated_template(server_url: str) -> Iterator[str]:
    """A database migrated once, to copy for each test (dropped afterwards); yields its name."""
    name = f"mk_template_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        migrate(database_url(server_url, name))
        yield name
    finally:
        asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_database(template: str, server_url: str) -> Iterator[str]:
    """A new database copied from a migrated template (dropped afterwards); yields its URL."""
    name = f"mk_scale_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield database_url(server_url, name)
    finally:
        asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
