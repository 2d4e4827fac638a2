"""What anonymous introspection costs the server, and what it does to an authenticated caller.

Run as `python -m bench.introspection` (about half a minute). It starts a real `mailkeys serve`
(one worker, SQLite in a temporary directory, default settings), makes a team with
`mailkeys team create`, then measures:

1. the server's CPU time per full introspection (graphql-core's standard introspection query,
   what GraphiQL and code generators send), over `--introspections` queries sent one at a time
   with the team's key, and the size of one answer;
2. the median latency of an authenticated `{ viewer { team { id } } }`, alone;
3. the same median while `--loops` anonymous clients (in another process, so that their own
   CPU does not slow this one down) send the introspection query back to back for
   `--seconds`, and what status codes those anonymous clients got.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from graphql import get_introspection_query

from bench.common import RESULT_MARKER, base_env, emit, free_port, load_average, median
from bench.server import Server, create_team

INTROSPECTION = json.dumps({"query": get_introspection_query(descriptions=True)})
AUTHENTICATED = json.dumps({"query": "{ viewer { team { id } } }"})
JSON_HEADERS = {"content-type": "application/json"}


def _cpu_per_introspection(server: Server, token: str, count: int) -> dict[str, Any]:
    headers = {**JSON_HEADERS, "authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30) as client:
        first = client.post(f"{server.url}/graphql", content=INTROSPECTION, headers=headers)
        first.raise_for_status()
        before = server.cpu_seconds()
        started = time.perf_counter()
        for _ in range(count):
            client.post(f"{server.url}/graphql", content=INTROSPECTION, headers=headers)
        wall = time.perf_counter() - started
        used = server.cpu_seconds() - before
    return {
        "introspection_bytes": len(first.content),
        "introspection_cpu_ms": round(used / count * 1000, 3),
        "introspection_wall_ms": round(wall / count * 1000, 3),
    }


def _authenticated_median(url: str, token: str, seconds: float) -> tuple[float, int]:
    headers = {**JSON_HEADERS, "authorization": f"Bearer {token}"}
    samples: list[float] = []
    with httpx.Client(timeout=30) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = client.post(f"{url}/graphql", content=AUTHENTICATED, headers=headers)
            samples.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"the authenticated request failed: {response.status_code}")
            # About 5 requests a second: far below the key's own rate limit.
            time.sleep(0.2)
    return round(median(samples) * 1000, 3), len(samples)


async def _anonymous_loops(url: str, loops: int, seconds: float) -> dict[str, Any]:
    statuses: collections.Counter[int] = collections.Counter()
    deadline = time.perf_counter() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            response = await client.post(
                f"{url}/graphql", content=INTROSPECTION, headers=JSON_HEADERS
            )
            statuses[response.status_code] += 1
            if response.status_code == 429:
                # A well-behaved client waits; a hostile one does not. Be hostile, cheaply.
                await asyncio.sleep(0.01)

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(loop(client) for _ in range(loops)))
    return {"anonymous_statuses": {str(k): v for k, v in sorted(statuses.items())}}


def _start_anonymous_load(url: str, loops: int, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.introspection", "--anonymous-load", url),
            *("--loops", str(loops), "--seconds", str(seconds)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def _result_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, _ = process.communicate(timeout=120)
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise RuntimeError(f"the anonymous load printed no result:\n{stdout}")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, measure, stop it."""
    with tempfile.TemporaryDirectory(prefix="mailkeys-bench-") as tmp:
        workdir = Path(tmp)
        env = base_env(MAILKEYS_DATABASE_URL=f"sqlite://{workdir / 'bench.sqlite3'}")
        with Server(workdir, env, free_port()) as server:
            server.start()
            key = create_team(workdir, env, "Bench")
            result: dict[str, Any] = {"load_average_before": load_average()}
            result.update(_cpu_per_introspection(server, key.token, args.introspections))
            alone, alone_count = _authenticated_median(server.url, key.token, args.seconds / 2)
            result["authenticated_median_ms_alone"] = alone
            result["authenticated_samples_alone"] = alone_count
            load = _start_anonymous_load(server.url, args.loops, args.seconds)
            time.sleep(1)  # let the loops get going
            loaded, loaded_count = _authenticated_median(server.url, key.token, args.seconds - 2)
            result.update(_result_of(load))
            result["anonymous_loops"] = args.loops
            result["authenticated_median_ms_under_load"] = loaded
            result["authenticated_samples_under_load"] = loaded_count
    return result


def main() -> None:
    """Parse arguments; run the benchmark, or (as a child process) the anonymous load."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--introspections", type=int, default=100)
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--anonymous-load", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.anonymous_load:
        emit(asyncio.run(_anonymous_loops(args.anonymous_load, args.loops, args.seconds)))
        return
    result = measure(args)
    emit(result)
    print(json.dumps(result, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
