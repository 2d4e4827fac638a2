"""Real PostgreSQL and Redis for the scale-out tests: reachability, fresh databases, restarts.

Tests that need them skip with a reason on a machine without them, except under CI=true,
where a missing service is a failure (CI starts both before the tests).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

PG_ADMIN_URL = os.environ.get("MAILKEYS_TEST_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MAILKEYS_TEST_REDIS_SERVER", "redis://127.0.0.1:6379/0")
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
    "--save", "", "--appendonly", "no",
]  # fmt: skip


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require_services() -> None:
    """Skip (or, under CI, fail) unless PostgreSQL and Redis answer on this machine."""
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _answers(port)]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not reachable on 127.0.0.1 (scale-out tests need them)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database(workdir: Path) -> Iterator[str]:
    """A new, migrated PostgreSQL database (dropped afterwards); yields its URL."""
    name = f"mk_scale_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        subprocess.run(
            [sys.executable, "-m", "mailkeys.cli", "migrate"],
            cwd=workdir,
            env={**os.environ, "MAILKEYS_DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_version() -> str:
    """The cluster version directory under /etc/postgresql (e.g. `15`)."""
    return sorted(os.listdir("/etc/postgresql"))[-1]


def restart_postgres(down_seconds: float) -> None:
    """Stop the cluster, wait, start it again, and wait until it accepts connections."""
    version = postgres_version()
    ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    subprocess.run([*ctl, "stop", "-m", "fast"], check=True, capture_output=True)
    time.sleep(down_seconds)
    subprocess.run([*ctl, "start"], check=True, capture_output=True)
    wait_for_port(5432)


def stop_redis() -> None:
    """Shut Redis down (it keeps nothing on disk here)."""
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    deadline = time.monotonic() + 10
    while _answers(6379) and time.monotonic() < deadline:
        time.sleep(0.1)


def start_redis() -> None:
    """Start Redis as CI does, and wait for it."""
    if not _answers(6379):
        subprocess.run(REDIS_START, check=True, capture_output=True)
    wait_for_port(6379)


def wait_for_port(port: int, timeout: float = 30) -> None:
    """Block until something accepts connections on `port`."""
    deadline = time.monotonic() + timeout
    while not _answers(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
        time.sleep(0.2)
