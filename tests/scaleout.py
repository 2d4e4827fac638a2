"""PostgreSQL and Redis for the scale-out tests: reachability and fresh, migrated databases.

The scale-out tests share this machine's PostgreSQL and Redis with other work, so they only
create and drop their own databases and use their own Redis key prefixes; they skip with a
reason on a machine without them, except under CI=true, where a missing service is a failure
(CI starts both before the tests). Tests that take a server down use private ones
(`tests.services`).
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
from tests.services import answers, missing_programs

PG_ADMIN_URL = os.environ.get("MAILKEYS_TEST_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MAILKEYS_TEST_REDIS_SERVER", "redis://127.0.0.1:6379/0")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_services() -> None:
    """Skip (or, under CI, fail) unless PostgreSQL and Redis answer on this machine."""
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not answers(port)]
    if missing:
        _skip_or_fail(
            f"{' and '.join(missing)} not reachable on 127.0.0.1 (scale-out tests need them)"
        )


def require_programs() -> None:
    """Skip (or, under CI, fail) unless private PostgreSQL and Redis servers can be started."""
    missing = missing_programs()
    if missing:
        _skip_or_fail(f"{', '.join(missing)} not found (fault tests start private servers)")


@contextmanager
def migrated_template(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A database migrated once, to copy for each test (dropped afterwards); yields its name."""
    name = f"mk_template_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        migrate(database_url(admin_url, name))
        yield name
    finally:
        asyncio.run(admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_database(template: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new database copied from a migrated template (dropped afterwards); yields its URL."""
    name = f"mk_scale_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield database_url(admin_url, name)
    finally:
        asyncio.run(admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
