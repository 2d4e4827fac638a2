"""Start `mailkeys serve` as a real process on a free port, for tests that go over HTTP."""

from __future__ import annotations

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

from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN


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


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: its own SQLite file, cheap argon2, known tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILKEYS_")}
    env.update(
        MAILKEYS_DATABASE_URL=f"sqlite://{workdir / 'mailkeys.sqlite3'}?busy_timeout=5000",
        MAILKEYS_OPERATOR_TOKEN=OPERATOR_TOKEN,
        MAILKEYS_GATEWAY_TOKEN=GATEWAY_TOKEN,
        MAILKEYS_ARGON2_TIME_COST="1",
        MAILKEYS_ARGON2_MEMORY_KIB="8",
    )
    env.update(extra)
    return env


@contextmanager
def serve(workdir: Path, *args: str, **env: str) -> Iterator[Server]:
    """Run `mailkeys serve` until the block ends; fail with its output if it does not start."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    command = [sys.executable, "-m", "mailkeys.cli", "serve", "--port", str(port), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=workdir, env=server_env(workdir, **env), stdout=sink, stderr=sink
        )
    server = Server(url=f"http://127.0.0.1:{port}", log=log, process=process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mailkeys serve exited:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mailkeys serve did not become ready:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
