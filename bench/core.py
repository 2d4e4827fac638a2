"""The core benchmark of mailkeys on the embedded default (SQLite): prints figures and targets.

    python -m bench.core            # full run, a few minutes
    python -m bench.core --quick    # about a minute

(a) requests/s of an authenticated `{ viewer { team { id } } }` against an unauthenticated
    `{ __typename }`, on the same `mailkeys serve --workers 1` process; target ratio >= 0.6.
(b) one authorization decision (`policy.authorize`) with 1,000 and 1,000,000 stored keys,
    each size in a fresh process: median <= 10 us and 1M/1k <= 1.2; with the policy load
    time, the RSS after start-up, the key lookup by primary key, and a real server's start.
(c) a cold and a warm authentication of one key with the default argon2 parameters, and how
    many argon2 verifications were paid.

Only 127.0.0.1 is contacted; everything is written under one temporary directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO, base_env, free_port, load_average, run_module
from bench.keys_db import database_url
from bench.load import LoadResult, Request, run_load, wrk_path, wrk_version
from bench.server import Server, create_team

AUTHENTICATED = "{ viewer { team { id } } }"
UNAUTHENTICATED = "{ __typename }"
RATE_LIMIT = "100000000"


@dataclass(frozen=True)
class Figure:
    """One line of the summary: a measured value, its target, and whether it meets it."""

    label: str
    value: str
    target: str = "-"
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        """PASS, MISS, or `info` for a figure without a target."""
        if self.ok is None:
            return "info"
        return "PASS" if self.ok else "MISS"


@dataclass(frozen=True)
class Options:
    """How long and how hard to measure."""

    quick: bool
    generator: str
    connections: int
    warmup: int
    # wrk takes whole seconds; the rounds interleave the two queries against drift.
    round_seconds: int
    rounds: int
    small_keys: int
    big_keys: int
    decisions: int
    lookups: int
    repeats: int


def say(text: str = "") -> None:
    """Print a line now (the run is long; show progress as it goes)."""
    print(text, flush=True)


def _git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "mailkeys"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision + (" (mailkeys/ modified)" if dirty else "")


# --------------------------------------------------------------------------- (a) HTTP


def _check(client: httpx.Client, request: Request, authenticated: bool) -> str:
    """Send the request a few times; each answer must be 200 and the same correct body."""
    seen: set[bytes] = set()
    for _ in range(5):
        response = client.post(request.url, content=request.body, headers=request.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{request.body}: HTTP {response.status_code}: {response.text}")
        body = response.json()
        if "errors" in body:
            raise RuntimeError(f"{request.body}: errors {body['errors']}")
        if authenticated and response.headers.get("x-ratelimit-limit") != RATE_LIMIT:
            raise RuntimeError(f"unexpected rate-limit headers: {dict(response.headers)}")
        seen.add(response.content)
    if len(seen) != 1:
        raise RuntimeError(f"{request.body}: answers differ: {seen}")
    return seen.pop().decode()


def _report_server_errors(log: str) -> None:
    """Summarise exceptions in the server log by type; show the first unexpected one whole."""
    tracebacks = log.split("Traceback (most recent call last):")[1:]
    if not tracebacks:
        say("  server log: no exception")
        return
    kinds: dict[str, int] = {}
    for text in tracebacks:
        # The exception line is the first one after the indented frames.
        lines = [ln for ln in text.splitlines() if ln.strip()]
        kind = next((ln for ln in lines if not ln.startswith(" ")), "?").strip()
        kinds[kind] = kinds.get(kind, 0) + 1
    listed = ", ".join(f"{count} x {kind}" for kind, count in kinds.items())
    say(f"  server log: {listed}")
    if set(kinds) == {"starlette.requests.ClientDisconnect"}:
        say("    (the load generator closing its connections at the end of each run)")
        return
    say("  first traceback:" + tracebacks[0])


@dataclass(frozen=True)
class Measured:
    """A load result and the server CPU time it cost."""

    load: LoadResult
    cpu_seconds: float

    @property
    def cpu_us_per_request(self) -> float:
        """Server CPU per completed request."""
        return self.cpu_seconds / max(self.load.requests, 1) * 1e6

    @property
    def busy(self) -> float:
        """Share of one CPU the server used: near 1.0 means it was the bottleneck."""
        return self.cpu_seconds / self.load.seconds


def _run(options: Options, server: Server, request: Request, seconds: int) -> Measured:
    before = server.cpu_seconds()
    load = run_load(options.generator, request, seconds, options.connections)
    return Measured(load, server.cpu_seconds() - before)


def _measure_pair(
    options: Options, server: Server, anonymous: Request, authenticated: Request
) -> tuple[Measured, Measured]:
    say(f"  warm-up: {options.warmup} s each")
    _run(options, server, anonymous, options.warmup)
    _run(options, server, authenticated, options.warmup)
    anon_runs: list[Measured] = []
    auth_runs: list[Measured] = []
    seconds = options.round_seconds
    for number in range(1, options.rounds + 1):
        # Interleaved, so that drift (CPU frequency, neighbours) hits both alike.
        anon = _run(options, server, anonymous, seconds)
        auth = _run(options, server, authenticated, seconds)
        say(
            f"  round {number}/{options.rounds} ({seconds} s each): "
            f"__typename {anon.load.rate:6.1f} req/s, {anon.cpu_us_per_request:5.0f} us CPU/req, "
            f"p50 {anon.load.p50_ms:.1f} ms, errors {anon.load.errors} | "
            f"viewer {auth.load.rate:6.1f} req/s, {auth.cpu_us_per_request:5.0f} us CPU/req, "
            f"p50 {auth.load.p50_ms:.1f} ms, errors {auth.load.errors}"
        )
        anon_runs.append(anon)
        auth_runs.append(auth)
    return _combine(anon_runs), _combine(auth_runs)


def _combine(runs: list[Measured]) -> Measured:
    requests = sum(r.load.requests for r in runs)
    seconds = sum(r.load.seconds for r in runs)
    load = LoadResult(
        requests=requests,
        seconds=seconds,
        rate=sum(r.load.rate * r.load.seconds for r in runs) / seconds,
        errors=sum(r.load.errors for r in runs),
        p50_ms=max(r.load.p50_ms for r in runs),
        p99_ms=max(r.load.p99_ms for r in runs),
    )
    return Measured(load, sum(r.cpu_seconds for r in runs))


def section_a(options: Options, tmp: Path) -> list[Figure]:
    """Authenticated against unauthenticated throughput on one server process."""
    say("(a) HTTP throughput, one uvicorn worker")
    workdir = tmp / "serve"
    workdir.mkdir()
    env = base_env(
        MAILKEYS_DATABASE_URL="sqlite://mailkeys.sqlite3?busy_timeout=5000",
        MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
        MAILKEYS_RATE_LIMIT_INFRASTRUCTURE=RATE_LIMIT,
    )
    first = create_team(workdir, env, "Bench")
    say(f"  `mailkeys team create Bench` -> team {first.team_id}, key {first.key_id}")
    with Server(workdir, env, free_port()) as server:
        started = server.start()
        say(f"  `{shlex.join(server.command)}` ready in {started:.2f} s (pid {server.pid})")
        url = f"{server.url}/graphql"
        json_headers = {"Content-Type": "application/json"}
        anonymous = Request(url, f'{{"query": "{UNAUTHENTICATED}"}}', json_headers, "")
        authenticated = Request(
            url,
            f'{{"query": "{AUTHENTICATED}"}}',
            {**json_headers, "Authorization": f"Bearer {first.token}"},
            "",
        )
        with httpx.Client(timeout=30) as client:
            anonymous = Request(
                url, anonymous.body, anonymous.headers, _check(client, anonymous, False)
            )
            authenticated = Request(
                url, authenticated.body, authenticated.headers, _check(client, authenticated, True)
            )
            if first.team_id not in authenticated.expected:
                raise RuntimeError(f"viewer answered {authenticated.expected}")
            say(f"  checked: {UNAUTHENTICATED} -> 200 {anonymous.expected}")
            say(f"  checked: {AUTHENTICATED} -> 200 {authenticated.expected}")
            say(f"  load: {options.generator}, {options.connections} connections, keep-alive")
            anon, auth = _measure_pair(options, server, anonymous, authenticated)
            # Still correct after the load (not rate limited, not failing).
            _check(client, anonymous, False)
            _check(client, authenticated, True)
            rss = server.rss_kib()
        _report_server_errors(server.log())
    ratio = auth.load.rate / anon.load.rate
    cpu_ratio = anon.cpu_us_per_request / auth.cpu_us_per_request
    valid = anon.load.errors == 0 and auth.load.errors == 0
    for name, result in (("__typename (no credential)", anon), ("viewer (Bearer key)", auth)):
        say(
            f"  {name:<27} {result.load.rate:7.1f} req/s over {result.load.seconds:.1f} s, "
            f"{result.load.requests} requests, {result.load.errors} errors, "
            f"p50 <= {result.load.p50_ms:.1f} ms, p99 <= {result.load.p99_ms:.1f} ms; "
            f"server CPU {result.cpu_us_per_request:.0f} us/request, busy {result.busy:.0%}"
        )
    say(f"  ratio viewer / __typename:  {ratio:.3f} (target >= 0.60)")
    say(f"  same ratio from server CPU per request: {cpu_ratio:.3f} (less sensitive to neighbours)")
    say(f"  server RSS after the load: {rss / 1024:.0f} MiB")
    if not valid:
        say("  some responses were wrong: the rates above are not valid")
    return [
        Figure("(a) __typename, no credential", f"{anon.load.rate:.1f} req/s"),
        Figure("(a) viewer { team { id } }, Bearer key", f"{auth.load.rate:.1f} req/s"),
        Figure("(a) ratio viewer / __typename", f"{ratio:.3f}", ">= 0.60", ratio >= 0.6 and valid),
        Figure("(a) same ratio from server CPU/request", f"{cpu_ratio:.3f}"),
    ]


# --------------------------------------------------------------------------- (b) authorization


def _server_start(tmp: Path, db: Path) -> tuple[float, int]:
    """Seconds from process start to /readyz, and RSS then, for a server on `db`."""
    workdir = tmp / f"serve-{db.stem}"
    workdir.mkdir()
    env = base_env(
        MAILKEYS_DATABASE_URL=database_url(db),
        MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
    )
    with Server(workdir, env, free_port()) as server:
        seconds = server.start()
        return seconds, server.rss_kib()


def section_b(options: Options, tmp: Path) -> list[Figure]:
    """Decision cost, start-up and memory at two key counts."""
    say("(b) authorization and start-up at two key counts, each in a fresh process")
    results: dict[int, dict[str, Any]] = {}
    for keys in (options.small_keys, options.big_keys):
        db = tmp / f"keys-{keys}.sqlite3"
        built = run_module("bench.keys_db", ["--db", str(db), "--keys", str(keys)], timeout=900)
        say(
            f"  built {built['keys']:,} keys in {built['teams']:,} teams "
            f"in {built['seconds']:.1f} s ({built['bytes'] / 2**20:.0f} MiB file)"
        )
        measured = run_module(
            "bench.authz",
            [
                *("--db", str(db)),
                *("--decisions", str(options.decisions)),
                *("--lookups", str(options.lookups)),
            ],
            timeout=600,
        )
        measured["server_start_s"], measured["server_rss_kib"] = _server_start(tmp, db)
        results[keys] = measured
        say(
            f"  {keys:>9,} keys: decision {measured['decision_median_us']:.2f} us "
            f"(median of {measured['decisions']:,} in batches of 1,000; least batch "
            f"{measured['decision_least_us']:.2f} us; CPU-time median "
            f"{measured['decision_cpu_median_us']:.2f} us; a denial "
            f"{measured['denial_median_us']:.2f} us)"
            f" | policy load {measured['policy_load_s'] * 1e3:.0f} ms "
            f"(rebuild: {measured['policy_rebuild_cpu_s'] * 1e3:.0f} ms CPU, least of 7)"
            f" | ORM init + migration check {measured['orm_init_s'] * 1e3:.0f} ms"
            f" | RSS after load {measured['rss_loaded_kib'] / 1024:.1f} MiB"
            f" | PK lookup {measured['lookup_median_us']:.0f} us "
            f"(median of {measured['lookups']:,})"
            f" | server ready in {measured['server_start_s']:.2f} s, "
            f"RSS {measured['server_rss_kib'] / 1024:.1f} MiB"
        )
        db.unlink()
    small, big = results[options.small_keys], results[options.big_keys]
    s_label, b_label = _count_label(options.small_keys), _count_label(options.big_keys)
    figures: list[Figure] = []

    def both(label: str, field: str, show: Callable[[float], str], limit: float | None) -> None:
        for count_label, result in ((s_label, small), (b_label, big)):
            value = float(result[field])
            ok = None if limit is None else value <= limit
            target = "-" if limit is None else f"<= {show(limit)}"
            figures.append(Figure(f"(b) {label}, {count_label} keys", show(value), target, ok))

    def ratio(label: str, field: str, limit: float | None) -> None:
        value = float(big[field]) / float(small[field])
        ok = None if limit is None else value <= limit
        target = "-" if limit is None else f"<= {limit:.2f}"
        figures.append(Figure(f"(b) {label}, {b_label}/{s_label}", f"{value:.3f}", target, ok))

    def us(value: float) -> str:
        return f"{value:.2f} us"

    def ms(value: float) -> str:
        return f"{value * 1e3:.0f} ms"

    def mib(value: float) -> str:
        return f"{value / 1024:.1f} MiB"

    both("authorize() median", "decision_median_us", us, 10.0)
    ratio("authorize() median", "decision_median_us", 1.2)
    # The same decisions timed in the thread's CPU time: what the ratio is when other
    # processes on the machine preempt the benchmark.
    both("authorize() CPU-time median", "decision_cpu_median_us", us, None)
    ratio("authorize() CPU-time median", "decision_cpu_median_us", 1.2)
    both("policy load", "policy_load_s", ms, None)
    both("policy rebuild CPU time, least of 7", "policy_rebuild_cpu_s", ms, None)
    ratio("policy rebuild CPU time, least of 7", "policy_rebuild_cpu_s", 1.2)
    both("RSS after ORM init + policy load", "rss_loaded_kib", mib, None)
    ratio("RSS after ORM init + policy load", "rss_loaded_kib", 1.2)
    both("key lookup by primary key, median", "lookup_median_us", lambda v: f"{v:.0f} us", None)
    ratio("key lookup by primary key, median", "lookup_median_us", None)
    both("server start to /readyz", "server_start_s", lambda v: f"{v:.2f} s", None)
    ratio("server start to /readyz", "server_start_s", None)
    both("server RSS when ready", "server_rss_kib", mib, None)
    ratio("server RSS when ready", "server_rss_kib", 1.2)
    return figures


def _count_label(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000 and count % 1_000 == 0:
        return f"{count // 1_000}k"
    return str(count)


# --------------------------------------------------------------------------- (c) authentication


def section_c(options: Options, tmp: Path) -> list[Figure]:
    """Cold and warm authentication with the default argon2 parameters."""
    say("(c) authentication of one key, in-process, default argon2 parameters")
    result = run_module(
        "bench.authn",
        ["--db", str(tmp / "authn.sqlite3"), "--repeats", str(options.repeats)],
        timeout=300,
    )
    a = result["argon2"]
    paid = result["verifications_cold"] + result["verifications_warm"]
    say(
        f"  argon2id t={a['time_cost']} m={a['memory_cost_kib']} KiB p={a['parallelism']}: "
        f"one verify {result['argon2_verify_median_ms']:.1f} ms (median of 5, direct call)"
    )
    say(
        f"  cold (first call): {result['cold_ms']:.1f} ms, "
        f"{result['verifications_cold']} argon2 verification(s)"
    )
    say(
        f"  warm (cache hit):  {result['warm_median_us']:.0f} us median of "
        f"{result['warm_calls']:,} calls, {result['verifications_warm']} argon2 verification(s)"
    )
    say(
        f"  forged token (real key id, wrong secret, valid checksum): "
        f"{result['forged_median_ms']:.1f} ms each, "
        f"{result['verifications_forged']} argon2 verifications for {result['forged_calls']} calls"
    )
    calls = 1 + result["warm_calls"]
    return [
        Figure("(c) cold authentication (pays argon2)", f"{result['cold_ms']:.1f} ms"),
        Figure("(c) warm authentication, median", f"{result['warm_median_us']:.0f} us"),
        Figure(
            f"(c) argon2 verifications for {calls:,} authentications",
            str(paid),
            "1",
            paid == 1,
        ),
        Figure(
            "(c) forged token (known key id), per call",
            f"{result['forged_median_ms']:.1f} ms",
        ),
    ]


# --------------------------------------------------------------------------- main


def _options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.core", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    parser.add_argument(
        "--load-generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="wrk if installed (auto), or the Python fallback",
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--big-keys", type=int, default=1_000_000)
    parser.add_argument("--small-keys", type=int, default=1_000)
    args = parser.parse_args(argv)
    generator = args.load_generator
    if generator == "auto":
        generator = "wrk" if wrk_path() else "python"
    if generator == "wrk" and wrk_path() is None:
        parser.error("wrk is not installed (apt-get install wrk), use --load-generator python")
    return Options(
        quick=args.quick,
        generator=generator,
        connections=args.connections,
        warmup=1 if args.quick else 3,
        round_seconds=3 if args.quick else 2,
        rounds=1 if args.quick else 5,
        small_keys=args.small_keys,
        big_keys=args.big_keys,
        decisions=50_000 if args.quick else 200_000,
        lookups=500 if args.quick else 2_000,
        repeats=500 if args.quick else 2_000,
    )


def main(argv: list[str] | None = None) -> int:
    """Run all three sections and print the summary."""
    options = _options(argv)
    arguments = sys.argv[1:] if argv is None else argv
    command = shlex.join([sys.executable, "-m", "bench.core", *arguments])
    say("mailkeys core benchmark")
    say(f"reproduce: cd {shlex.quote(str(REPO))} && {command}")
    generator = (
        f"wrk ({wrk_version()}, 1 thread)"
        if options.generator == "wrk"
        else "Python asyncio sockets (bench.pyload, 2 processes; wrk not used)"
    )
    say(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"mailkeys at {_git_revision()}; load generator: {generator}"
    )
    say(f"mode: {'quick' if options.quick else 'full'}; load average at start {load_average()}")
    say()
    started = time.perf_counter()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="mailkeys-bench-") as directory:
        tmp = Path(directory)
        for section in (section_a, section_b, section_c):
            figures += section(options, tmp)
            say(f"  (load average now {load_average()})")
            say()
    _summary(figures)
    say(f"\ntotal time {time.perf_counter() - started:.0f} s")
    return 0


def _summary(figures: list[Figure]) -> None:
    width = max(len(f.label) for f in figures)
    value_width = max(len(f.value) for f in figures)
    target_width = max(len("target"), *(len(f.target) for f in figures))
    say("summary")
    say(f"{'figure':<{width}}  {'value':>{value_width}}  {'target':<{target_width}}  result")
    say("-" * (width + value_width + target_width + 12))
    for figure in figures:
        say(
            f"{figure.label:<{width}}  {figure.value:>{value_width}}  "
            f"{figure.target:<{target_width}}  {figure.verdict}"
        )
    misses = [f for f in figures if f.ok is False]
    say(f"{len(misses)} of {sum(f.ok is not None for f in figures)} targets missed")


if __name__ == "__main__":
    sys.exit(main())
