"""Start `mailkeys serve` as a real process on a free port, for tests that go over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tortoise.backends.base.executor import EXECUTOR_CACHE

from mailkeys.models.database import apply_migrations, connected
from mailkeys.settings import Settings
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 60  # an upper bound for a loaded machine, not a wait


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server: its base URL and the log file it writes."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(errors="replace")


def sqlite_url(workdir: Path) -> str:
    """The database of servers and commands run in `workdir`: a SQLite file there."""
    return f"sqlite://{workdir / 'mailkeys.sqlite3'}?busy_timeout=5000"


@contextmanager
def statements_of_its_own() -> Iterator[None]:
    """Keep one database engine's SQL from another's, around work on a database of its own.

    Tortoise caches each model's INSERT statement by connection name ("default"), not by
    engine: a command on a SQLite file during a PostgreSQL run of the suite (or the reverse)
    must neither use the other engine's statements nor leave its own behind.
    """
    EXECUTOR_CACHE.clear()
    try:
        yield
    finally:
        EXECUTOR_CACHE.clear()


async def _migrate(url: str) -> None:
    async with connected(Settings(database_url=url)):
        await apply_migrations()


def migrate(url: str) -> None:
    """Apply the schema migrations to the database at `url`, from this process."""
    with statements_of_its_own():
        asyncio.run(_migrate(url))


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: its own SQLite file, cheap argon2, known tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILKEYS_")}
    env.update(
        MAILKEYS_DATABASE_URL=sqlite_url(workdir),
        MAILKEYS_OPERATOR_TOKEN=OPERATOR_TOKEN,
        MAILKEYS_GATEWAY_TOKEN=GATEWAY_TOKEN,
        MAILKEYS_ARGON2_TIME_COST="1",
        MAILKEYS_ARGON2_MEMORY_KIB="8",
    )
    env.update(extra)
    return env


def _start(
    workdir: Path,
    args: tuple[str, ...],
    wall_clock: float | None,
    env: dict[str, str],
    port: int | None = None,
) -> Server:
    port = port or free_port()
    log = workdir / f"serve-{port}.log"
    environment = server_env(workdir, **env)
    if wall_clock is None:
        command = [sys.executable, "-m", "mailkeys.cli"]
    else:  # the same command, with its wall clock pinned (tests/clocked.py)
        command = [sys.executable, "-m", "tests.clocked", repr(wall_clock)]
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")])
        )
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port), *args],
            cwd=workdir,
            env=environment,
            stdout=sink,
            stderr=sink,
        )
    return Server(url=f"http://127.0.0.1:{port}", log=log, process=process)


def _wait_ready(server: Server, deadline: float) -> None:
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"mailkeys serve exited:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"mailkeys serve did not become ready:\n{server.output()}")
        time.sleep(0.05)


def _stop(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def serve_together(
    workdir: Path, count: int, *args: str, wall_clock: float | None = None, **env: str
) -> Iterator[list[Server]]:
    """Run `count` servers, started at once, until the block ends.

    They share `workdir` and the configured database, so start several only on a migrated
    database (a server migrates a new SQLite file itself as it starts; two would race). `wall_clock`
    pins their wall clock at that instant (seconds since the epoch) for tests of one-minute
    windows; only a single-worker server honours it.
    """
    if wall_clock is not None and "--workers" in args:
        raise ValueError("a pinned wall clock holds in a single-worker server only")
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(_start(workdir, args, wall_clock, env))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for server in servers:
            _wait_ready(server, deadline)
        yield servers
    finally:
        _stop(servers)


@contextmanager
def serve(
    workdir: Path, *args: str, wall_clock: float | None = None, **env: str
) -> Iterator[Server]:
    """Run `mailkeys serve` until the block ends; fail with its output if it does not start."""
    with serve_together(workdir, 1, *args, wall_clock=wall_clock, **env) as (server,):
        yield server


@contextmanager
def serve_on(workdir: Path, port: int, **env: str) -> Iterator[Server]:
    """`serve` on a port chosen beforehand (for a URL another server must know first)."""
    server = _start(workdir, (), None, env, port)
    try:
        _wait_ready(server, time.monotonic() + START_TIMEOUT_SECONDS)
        yield server
    finally:
        _stop([server])
