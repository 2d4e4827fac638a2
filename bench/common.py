"""Small helpers shared by the benchmark modules: processes, memory, statistics, JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

REPO = Path(__file__).resolve().parent.parent
# A sub-benchmark prints one line starting with this marker; the rest of its output is chatter.
RESULT_MARKER = "BENCH-RESULT "


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size of a process in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants (uvicorn's workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:  # it ended meanwhile
            continue
        # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
        total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        pending += [int(child) for child in children]
    return total


def load_average() -> str:
    """The 1-minute load average, to tell whether something else competed for the CPUs."""
    return Path("/proc/loadavg").read_text().split()[0]


def median(values: Sequence[float]) -> float:
    """The median; a benchmark with no samples is a bug in the benchmark."""
    if not values:
        raise ValueError("no samples")
    return statistics.median(values)


def mailkeys_command() -> list[str]:
    """The `mailkeys` console script of this interpreter's environment (or the module)."""
    script = Path(sys.executable).parent / "mailkeys"
    if script.exists():
        return [str(script)]
    found = shutil.which("mailkeys")
    if found:
        return [found]
    return [sys.executable, "-m", "mailkeys.cli"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def emit(result: Mapping[str, Any]) -> None:
    """Print a sub-benchmark's result for the parent process to pick up."""
    print(RESULT_MARKER + json.dumps(result), flush=True)


def run_module(
    module: str,
    args: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run `python -m module args` in a fresh process and return the result it emitted."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or REPO,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise RuntimeError(
        f"{module} failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
    )


def base_env(**overrides: str) -> dict[str, str]:
    """This process's environment without MAILKEYS_* settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILKEYS_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(overrides)
    return env


POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


async def _postgres_admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark run (its URL), dropped afterwards."""
    name = f"mk_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
