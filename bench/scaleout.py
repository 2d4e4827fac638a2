"""The scale-out benchmark: PostgreSQL + Redis, one worker against two, and the core figures.

    python -m bench.scaleout            # full run, about two minutes
    python -m bench.scaleout --quick    # about a minute

(a) requests/s of an authenticated `{ viewer { team { id } } }` on `mailkeys serve
    --workers 1` and on `--workers 2`, in the same run, on a fresh PostgreSQL database with
    Redis rate limits; target: two workers >= 1.6 x one on this 2-core machine. The load
    generator runs on the same two cores, which caps what a second worker can add.
(b) one authorization decision and the per-request key read on PostgreSQL (1,000 keys).
(c) a cold and a warm authentication of one key on PostgreSQL, default argon2.

Needs PostgreSQL (postgres@127.0.0.1:5432, trust) and Redis (127.0.0.1:6379); only 127.0.0.1
is contacted, and the temporary database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.common import (
    base_env,
    free_port,
    load_average,
    mailkeys_command,
    postgres_database,
    run_module,
)
from bench.core import AUTHENTICATED, RATE_LIMIT, Figure, _check, _summary, say
from bench.load import Request, run_load, wrk_path
from bench.server import Server, create_team

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _add_keys(url: str, team_id: str, count: int) -> None:
    """Store `count` more keys (sharing the first key's hash), for the decision figures."""
    connection = await asyncpg.connect(url)
    try:
        secret_hash = await connection.fetchval("SELECT secret_hash FROM api_key LIMIT 1")
        now = datetime.now(UTC)
        rows = [(f"b{uuid.uuid4().hex[:15]}", team_id, secret_hash, now) for _ in range(count)]
        await connection.executemany(
            "INSERT INTO api_key (id, team_id, type, name, preset, permissions, send_scope_ids,"
            " secret_hash, display_token, created_at, created_by, slot_id)"
            " VALUES ($1, $2, 'infrastructure', 'bench', 'root:readonly', '[]', '[]', $3,"
            " 'smx_root_bench', $4, 'bench', $1)",
            rows,
        )
    finally:
        await connection.close()


def _throughput(
    workdir: Path, env: dict[str, str], token: str, workers: int, seconds: int
) -> float:
    """Requests/s of the authenticated viewer query on `--workers N`."""
    with Server(workdir, env, free_port(), workers=workers) as server:
        server.start()
        url = f"{server.url}/graphql"
        request = Request(
            url,
            f'{{"query": "{AUTHENTICATED}"}}',
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            "",
        )
        with httpx.Client(timeout=30) as client:
            request = Request(url, request.body, request.headers, _check(client, request, True))
        generator = "wrk" if wrk_path() else "python"
        run_load(generator, request, 3, 16)  # warm every worker's cache and connections
        result = run_load(generator, request, seconds, 16)
        if result.errors:
            raise RuntimeError(f"{result.errors} wrong answers with {workers} worker(s)")
        say(
            f"  --workers {workers}: {result.rate:7.1f} req/s over {result.seconds:.1f} s, "
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms ({generator})"
        )
        return result.rate


def run(quick: bool) -> list[Figure]:
    """Every section; returns the summary's figures."""
    seconds = 5 if quick else 15
    with postgres_database() as url, tempfile.TemporaryDirectory(prefix="mailkeys-scale-") as raw:
        workdir = Path(raw)
        env = base_env(
            MAILKEYS_DATABASE_URL=url,
            MAILKEYS_REDIS_URL=REDIS_URL,
            MAILKEYS_REDIS_PREFIX=f"mk-bench-{uuid.uuid4().hex}:",
            MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
            MAILKEYS_RATE_LIMIT_INFRASTRUCTURE=RATE_LIMIT,
        )
        subprocess.run(
            [*mailkeys_command(), "migrate"], cwd=workdir, env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        first = create_team(workdir, env, "Bench")
        say("(a) authenticated requests/s on PostgreSQL + Redis, one and two workers")
        one = _throughput(workdir, env, first.token, 1, seconds)
        two = _throughput(workdir, env, first.token, 2, seconds)
        scaling = two / one
        say(f"  two workers / one: {scaling:.2f} (target >= 1.60)")
        asyncio.run(_add_keys(url, first.team_id, 999))
        say("(b) decision and key read on PostgreSQL, 1,000 keys")
        authz = run_module(
            "bench.authz",
            ["--url", url, "--decisions", "50000" if quick else "200000", "--lookups", "1000"],
            timeout=600,
            env=env,
        )
        say(
            f"  decision median {authz['decision_median_us']:.2f} us; "
            f"key read (hot path) median {authz['lookup_median_us']:.0f} us"
        )
        say("(c) authentication on PostgreSQL, default argon2")
        authn = run_module("bench.authn", ["--url", url, "--repeats", "1000"], timeout=600, env=env)
        say(
            f"  cold {authn['cold_ms']:.1f} ms ({authn['verifications_cold']} argon2), "
            f"warm median {authn['warm_median_us']:.0f} us "
            f"({authn['verifications_warm']} argon2 for {authn['warm_calls']} calls)"
        )
    return [
        Figure("(a) viewer req/s, 1 worker", f"{one:.1f} req/s"),
        Figure("(a) viewer req/s, 2 workers", f"{two:.1f} req/s"),
        Figure("(a) 2 workers / 1 worker", f"{scaling:.2f}", ">= 1.60", scaling >= 1.6),
        Figure(
            "(b) authorize() median, PostgreSQL",
            f"{authz['decision_median_us']:.2f} us",
            "<= 10.00 us",
            authz["decision_median_us"] <= 10,
        ),
        Figure("(b) key read (hot path), median", f"{authz['lookup_median_us']:.0f} us"),
        Figure("(c) cold authentication", f"{authn['cold_ms']:.1f} ms"),
        Figure("(c) warm authentication, median", f"{authn['warm_median_us']:.0f} us"),
        Figure(
            "(c) argon2 verifications when warm",
            str(authn["verifications_warm"]),
            "0",
            authn["verifications_warm"] == 0,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    options = parser.parse_args(argv)
    say("mailkeys scale-out benchmark (PostgreSQL + Redis)")
    say("reproduce: python -m bench.scaleout" + (" --quick" if options.quick else ""))
    say(f"load average at start {load_average()}")
    figures = run(options.quick)
    _summary(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
