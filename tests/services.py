"""Private PostgreSQL and Redis servers, for tests that stop, kill and restart them.

The machine's own PostgreSQL (5432) and Redis (6379) serve other work on this host, so a test
never stops them: a fault is injected into a server of the test's own, on a free 127.0.0.1
port, whose files live in a temporary directory. Each one is killed and its directory removed
when its `with` block ends, whatever happened inside.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.served import free_port

POSTGRES_USER = "postgres"  # initdb refuses to run as root; the cluster runs as this user


def answers(port: int) -> bool:
    """True if something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for_port(port: int, up: bool = True, timeout: float = 30) -> None:
    """Block until 127.0.0.1:`port` accepts connections (or, with up=False, refuses them)."""
    deadline = time.monotonic() + timeout
    while answers(port) is not up:
        if time.monotonic() > deadline:
            state = "nothing listens" if up else "something still listens"
            raise TimeoutError(f"{state} on 127.0.0.1:{port}")
        time.sleep(0.05)


def postgres_binary(name: str) -> str | None:
    """The path of a PostgreSQL server program (`initdb`, `pg_ctl`), or None."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def missing_programs() -> list[str]:
    """The programs the private servers need that this machine lacks."""
    missing = [name for name in ("initdb", "pg_ctl") if postgres_binary(name) is None]
    missing += [name for name in ("redis-server",) if shutil.which(name) is None]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    return missing


def _as_cluster_owner() -> list[str]:
    """The command prefix that runs PostgreSQL's programs as a user they accept."""
    return ["runuser", "-u", POSTGRES_USER, "--"] if os.geteuid() == 0 else []


def _private_directory(prefix: str, owner: str | None) -> Path:
    # Not under pytest's tmp_path: its parent is private to root, and the cluster's owner
    # must reach this directory.
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if owner is not None:
        account = pwd.getpwnam(owner)
        os.chown(directory, account.pw_uid, account.pw_gid)
    return directory


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own: `initdb` in a temporary directory, `pg_ctl`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = _private_directory(
            "mailkeys-pg-", POSTGRES_USER if os.geteuid() == 0 else None
        )
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self._initdb = postgres_binary("initdb") or "initdb"
        self._pg_ctl = postgres_binary("pg_ctl") or "pg_ctl"

    def url(self, database: str = "postgres") -> str:
        """The URL of one of its databases (trust authentication, user postgres)."""
        return f"postgres://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*_as_cluster_owner(), *command], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n{self.output()}"
            )

    def output(self) -> str:
        """What the server logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def create(self) -> None:
        """Make the cluster's files (fast: no fsync, as tests need no durability)."""
        self._run(
            self._initdb, "--pgdata", str(self.data), "--username", POSTGRES_USER,
            "--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-k {self.directory} -c listen_addresses=127.0.0.1 -p {self.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self._pg_ctl, "start", "--pgdata", str(self.data), "--log", str(self.log),
            "--wait", "--timeout", "60", "-o", options,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the server as an administrator would (`fast`: clients are disconnected)."""
        self._run(self._pg_ctl, "stop", "--pgdata", str(self.data), "--mode", "fast", "--wait")
        wait_for_port(self.port, up=False)

    def running(self) -> bool:
        """True while the server accepts connections."""
        return answers(self.port)

    def ensure_running(self) -> None:
        """Start the server if a test left it stopped."""
        if not self.running():
            self.start()

    def kill(self) -> None:
        """Take the server down now, however it is (for cleanup)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        subprocess.run(
            [*_as_cluster_owner(), self._pg_ctl, "stop", "--pgdata", str(self.data),
             "--mode", "immediate", "--wait", "--timeout", "10"],
            capture_output=True, check=False,
        )  # fmt: skip
        if pid_file.exists():  # pg_ctl could not stop it: the postmaster's pid is line 1
            with suppress(ProcessLookupError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    def remove(self) -> None:
        """Kill the server and delete its files."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A `redis-server` of the test's own that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = _private_directory("mailkeys-redis-", None)
        self.log = self.directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                    "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                ],
                stdout=sink,
                stderr=sink,
            )  # fmt: skip
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server (it keeps nothing to lose) and wait until its port is free."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        wait_for_port(self.port, up=False)

    def running(self) -> bool:
        """True while the server accepts connections."""
        return self.process is not None and self.process.poll() is None and answers(self.port)

    def ensure_running(self) -> None:
        """Start the server if a test left it stopped."""
        if not self.running():
            if self.process is not None:
                self.stop()
            self.start()

    def remove(self) -> None:
        """Kill the server and delete its directory."""
        try:
            if self.process is not None:
                self.process.kill()
                self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A new, running PostgreSQL cluster, removed when the block ends."""
    cluster = PrivatePostgres()
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A new, running Redis, removed when the block ends."""
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.remove()
