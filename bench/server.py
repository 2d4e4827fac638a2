"""A real `mailkeys serve` process for the benchmark, and the CLI call that makes a first key."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from bench.common import mailkeys_command, rss_kib


@dataclass(frozen=True)
class FirstKey:
    """What `mailkeys team create` printed."""

    team_id: str
    key_id: str
    token: str


def create_team(workdir: Path, env: Mapping[str, str], name: str) -> FirstKey:
    """Run `mailkeys team create NAME` and read its output (the token is printed once)."""
    completed = subprocess.run(
        [*mailkeys_command(), "team", "create", name],
        cwd=workdir,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"team create failed:\n{completed.stdout}\n{completed.stderr}")
    fields: dict[str, str] = {}
    for line in completed.stdout.splitlines():
        label, sep, value = line.partition(":")
        if sep:
            fields[label.strip()] = value.strip()
    return FirstKey(
        team_id=fields["team id"], key_id=fields["key id"].split()[0], token=fields["key"]
    )


class Server:
    """`mailkeys serve --workers N` on 127.0.0.1 in `workdir`, stopped on exit."""

    def __init__(self, workdir: Path, env: Mapping[str, str], port: int, workers: int = 1) -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.command = [
            *mailkeys_command(),
            # The defaults, request log lines included (written to `log_path`): a figure
            # measured with logging turned down would not be what an operator gets.
            *("serve", "--port", str(port), "--workers", str(workers)),
        ]
        self.log_path = workdir / f"serve-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (with one worker, uvicorn serves in this very process)."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def rss_kib(self) -> int:
        """The server's resident set size."""
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the server has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self, timeout: float = 60.0) -> float:
        """Start the process and wait for /readyz; returns the seconds it took."""
        started = time.perf_counter()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = started + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"the server exited:\n{self.log()}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the server was not ready within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Ask uvicorn to shut down (SIGINT), then insist."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
