"""The request pipeline, side by side with the baselines it is a ratio of (one run, one machine).

    python -m bench.pipeline            # 6 s per figure, two rounds, then 1 -> 2 workers on PG
    python -m bench.pipeline --quick    # 3 s per figure, one round

Every server runs one uvicorn worker on 127.0.0.1 and is started here: a bare Starlette JSON
route and a bare Strawberry app (ParserCache + ValidationCache) as the baselines, mailkeys on
SQLite (a temporary file), and mailkeys on PostgreSQL (a database created and dropped here) +
Redis (a key prefix of its own). Load is `wrk -t1 -c32`; every answer is checked, so an error
or a refusal counts as a failure rather than as a fast request. Each figure takes the better
of its rounds (rounds interleave, so drift hits every figure alike). Rate limits are raised
for the benchmark's credentials (they are still counted on every request: only the ceiling
moves), and nothing else is configured away from its default.

Then: memory of a mailkeys worker after start and after 100,000 requests, `mailkeys serve`'s
start-up time to its first answered request, and every mailkeys ratio again on PostgreSQL with
two workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import (
    REPO,
    base_env,
    free_port,
    load_average,
    mailkeys_command,
    tree_cpu_seconds,
)
from bench.load import LoadResult, Request, run_wrk, wrk_path, wrk_version
from bench.server import Server, create_team

CONNECTIONS = 32
RATE_LIMIT = "100000000"
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
GATEWAY_TOKEN = "bench-gateway-" + secrets.token_urlsafe(24)
PG = " (PG+Redis)"
PG_TWO = " (PG+Redis, 2 workers)"
TYPENAME = "{ __typename }"
VIEWER = "{ viewer { team { id } } }"
SEND = "mutation($input: EmailSendInput!) { emailSend(input: $input) { message { id status } } }"


def say(text: str = "") -> None:
    """Print a line now (the run takes minutes: show progress as it goes)."""
    print(text, flush=True)


# ----------------------------------------------------------------------------- servers


class Baseline:
    """`uvicorn bench.baselines:<app>` on a free port, one worker, no access log."""

    def __init__(self, app: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "uvicorn", f"bench.baselines:{app}"),
                *("--port", str(self.port), "--no-access-log", "--log-level", "warning"),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self._process.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{self.url}/json", json={}, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"bench.baselines:{app} did not start")

    def stop(self) -> None:
        """Terminate it."""
        self._process.terminate()
        self._process.wait(timeout=10)


@dataclass
class Credentials:
    """What the figures use: a Full Access key, a sending key and a mailbox password."""

    infrastructure: str
    sending: str
    password: str
    sender: str


def _graphql(
    client: httpx.Client, url: str, token: str, query: str, **variables: object
) -> dict[str, Any]:
    response = client.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"setup failed: {body}")
    data: dict[str, Any] = body["data"]
    return data


def prepare(url: str, first_key: str) -> Credentials:
    """A provider, a mailbox on the shared domain, a sending key and a mailbox password
    (each server its own address: two servers may share a database)."""
    sender = f"bench-{uuid.uuid4().hex[:8]}@mailkeys.example"
    with httpx.Client(timeout=30) as client:
        _graphql(
            client, url, first_key,
            "mutation { providerCreate(input: {name: \"ses\"}) { provider { id } } }",
        )  # fmt: skip
        mailbox = _graphql(
            client, url, first_key,
            "mutation($a: String!) { mailboxCreate(input: {address: $a}) { mailbox { id } } }",
            a=sender,
        )["mailboxCreate"]["mailbox"]["id"]  # fmt: skip
        sending = _graphql(
            client, url, first_key,
            "mutation { apiKeyCreate(input: {type: SENDING, name: \"bench\","
            " permissions: [\"email.send\"], sendScope: {mode: ALL}}) { secret } }",
        )["apiKeyCreate"]["secret"]  # fmt: skip
        password = _graphql(
            client, url, first_key,
            "mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, appName: \"b\"})"
            " { password } }",
            m=mailbox,
        )["mailboxPasswordCreate"]["password"]  # fmt: skip
    return Credentials(first_key, sending, password, sender)


def mailkeys_env(database_url: str, redis_url: str | None = None) -> dict[str, str]:
    """The service's defaults, but for where it stores and the benchmark's raised limits."""
    env = base_env(
        MAILKEYS_DATABASE_URL=database_url,
        MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
        MAILKEYS_GATEWAY_TOKEN=GATEWAY_TOKEN,
        MAILKEYS_RATE_LIMIT_INFRASTRUCTURE=RATE_LIMIT,
        MAILKEYS_RATE_LIMIT_MAILBOX=RATE_LIMIT,
    )
    if redis_url is not None:
        env["MAILKEYS_REDIS_URL"] = redis_url
        env["MAILKEYS_REDIS_PREFIX"] = f"mk-bench-{uuid.uuid4().hex}:"
    return env


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards."""
    name = f"mk_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One row of the table: what is loaded, and the row its ratio divides by."""

    key: str
    label: str
    request: Request
    baseline: str | None = None
    target: float | None = None
    p99_target_ms: float | None = None
    # The server process answering it (its CPU time per request is reported too).
    pid: int = 0


@dataclass
class Measured:
    """Every round of one figure; the better one is reported."""

    rounds: list[LoadResult] = field(default_factory=list)
    # The server's CPU time per answered request, each round: steadier than a rate on a
    # machine that does other work meanwhile.
    cpu_us: list[float] = field(default_factory=list)

    @property
    def best(self) -> LoadResult:
        """The round with the highest rate."""
        return max(self.rounds, key=lambda r: r.rate)


def _json_request(url: str, body: object, expected: str, token: str | None) -> Request:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Request(url, json.dumps(body, separators=(",", ":")), headers, expected)


def _expected(request: Request) -> str:
    """The body the request's answer has (sent twice: the second answer must equal the first)."""
    with httpx.Client(timeout=30) as client:
        answers = [
            client.post(request.url, content=request.body, headers=request.headers)
            for _ in range(2)
        ]
    for answer in answers:
        if answer.status_code != 200 or b'"errors"' in answer.content:
            raise RuntimeError(f"{request.url}: {answer.status_code} {answer.text[:300]}")
    if answers[0].text != answers[1].text:
        raise RuntimeError(f"{request.url} answers differently each time: {answers[0].text}")
    return answers[0].text


def _fixed(request: Request) -> Request:
    return Request(request.url, request.body, request.headers, _expected(request))


def _email(sender: str) -> dict[str, Any]:
    return {"from": sender, "to": ["rcpt@example.net"], "subject": "Hello", "text": "Hi there"}


def _send_request(url: str, token: str, sender: str) -> Request:
    """emailSend: every answer names a new message, so only its shape is compared."""
    request = _json_request(
        f"{url}/graphql", {"query": SEND, "variables": {"input": _email(sender)}}, "", token
    )
    with httpx.Client(timeout=30) as client:
        answer = client.post(request.url, content=request.body, headers=request.headers).json()
    if answer.get("errors") or answer["data"]["emailSend"]["message"]["status"] != "queued":
        raise RuntimeError(f"emailSend failed: {answer}")
    return Request(
        request.url, request.body, request.headers, '"status":"queued"', match="contains"
    )


# What each mailkeys row is a ratio of, as the targets put it (`viewer` of the same server).
RATIO_OF = {
    "typename": "strawberry",
    "viewer": "strawberry",
    "send": "viewer",
    "check": "starlette",
}
TARGETS = {"typename": 0.85, "viewer": 0.6, "send": 0.5, "check": 0.4}


def mailkeys_figures(
    url: str, credentials: Credentials, suffix: str = "", pid: int = 0
) -> list[Figure]:
    """The mailkeys rows for one server; `suffix` names its engine and workers in the table.

    The targets hold on the embedded default (no suffix); elsewhere the ratios are reported,
    and the PostgreSQL viewer is measured against the SQLite one.
    """
    graphql = f"{url}/graphql"
    check = {"address": credentials.sender, "secret": credentials.password, "protocol": "SMTP"}
    requests = {
        "typename": _fixed(_json_request(graphql, {"query": TYPENAME}, "", None)),
        "viewer": _fixed(_json_request(graphql, {"query": VIEWER}, "", credentials.infrastructure)),
        "send": _send_request(url, credentials.sending, credentials.sender),
        "check": _fixed(_json_request(f"{url}/v1/credentials/check", check, "", GATEWAY_TOKEN)),
    }
    labels = {
        "typename": "mailkeys { __typename }, no credential",
        "viewer": "mailkeys viewer with a key",
        "send": "mailkeys emailSend, sending key",
        "check": "mailkeys POST /v1/credentials/check",
    }
    figures = []
    for name, request in requests.items():
        baseline = RATIO_OF[name] + (suffix if name == "send" else "")
        target = TARGETS[name] if not suffix else None
        if suffix and name == "viewer":
            baseline, target = "viewer", 0.85
        figures.append(
            Figure(
                name + suffix,
                labels[name] + suffix,
                request,
                baseline,
                target,
                50.0 if name == "send" and not suffix else None,
                pid,
            )
        )
    return figures


def baseline_figures(starlette: Baseline, strawberry: Baseline) -> list[Figure]:
    """The two baselines' rows."""
    return [
        Figure(
            "starlette",
            "bare Starlette JSON route",
            _fixed(_json_request(f"{starlette.url}/json", {"a": 1}, "", None)),
            pid=starlette.pid,
        ),
        Figure(
            "strawberry",
            "bare Strawberry { __typename }, ParserCache + ValidationCache",
            _fixed(_json_request(f"{strawberry.url}/graphql", {"query": TYPENAME}, "", None)),
            "starlette",
            pid=strawberry.pid,
        ),
    ]


# ----------------------------------------------------------------------------- running


@dataclass
class Options:
    """How long and how hard to measure."""

    seconds: int
    rounds: int
    warmup: int
    requests_for_memory: int
    # While working on one part: only these mailkeys rows, SQLite only, no memory section.
    rows: tuple[str, ...] = ("typename", "viewer", "send", "check")
    sqlite_only: bool = False

    @property
    def partial(self) -> bool:
        """True when only part of the run was asked for."""
        return self.sqlite_only or len(self.rows) < len(RATIO_OF)


def measure(figures: list[Figure], options: Options) -> dict[str, Measured]:
    """Warm every figure, then run the rounds, each over every figure in turn."""
    for figure in figures:
        run_wrk(figure.request, options.warmup, CONNECTIONS)
    measured = {figure.key: Measured() for figure in figures}
    for number in range(options.rounds):
        say(f"  round {number + 1} of {options.rounds} (load average {load_average()})")
        for figure in figures:
            cpu_before = tree_cpu_seconds(figure.pid)
            result = run_wrk(figure.request, options.seconds, CONNECTIONS)
            cpu_us = (tree_cpu_seconds(figure.pid) - cpu_before) * 1e6 / max(1, result.requests)
            if result.errors:
                raise RuntimeError(f"{figure.label}: {result.errors} wrong answers")
            measured[figure.key].rounds.append(result)
            measured[figure.key].cpu_us.append(cpu_us)
            say(
                f"    {figure.label}: {result.rate:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                f"{cpu_us:,.0f} us CPU per request"
            )
    return measured


def table(figures: list[Figure], measured: dict[str, Measured]) -> list[bool]:
    """Print the side-by-side table; returns whether each target was met.

    The ratio is of rates (the target's measure); beside it, the same ratio of the server's
    CPU time per request (the baseline's over the row's), which other work on the machine
    disturbs far less.
    """
    verdicts = []
    say(
        f"| {'figure':<62} | {'req/s':>7} | {'p99 ms':>6} | {'CPU us':>6} | {'ratio':<24} "
        f"| {'CPU ratio':>9} | target |"
    )
    say(f"|{'-' * 64}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 26}|{'-' * 11}|--------|")
    for figure in figures:
        row = measured[figure.key]
        best, cpu = row.best, min(row.cpu_us)
        ratio, cpu_ratio, target = "", "", ""
        if figure.baseline is not None:
            value = best.rate / measured[figure.baseline].best.rate
            ratio = f"{value:.2f} x {figure.baseline}"
            cpu_ratio = f"{min(measured[figure.baseline].cpu_us) / cpu:.2f}"
            if figure.target is not None:
                met = value >= figure.target
                if figure.p99_target_ms is not None:
                    met = met and best.p99_ms <= figure.p99_target_ms
                    target = f">= {figure.target}, p99 <= {figure.p99_target_ms:.0f}"
                else:
                    target = f">= {figure.target}"
                target += " PASS" if met else " MISS"
                verdicts.append(met)
        say(
            f"| {figure.label:<62} | {best.rate:>7,.0f} | {best.p99_ms:>6.1f} | {cpu:>6,.0f} "
            f"| {ratio:<24} | {cpu_ratio:>9} | {target} |"
        )
    return verdicts


def _sqlite_server(workdir: Path) -> tuple[Server, Credentials, dict[str, float]]:
    env = mailkeys_env("sqlite://mailkeys.sqlite3?busy_timeout=5000")
    first = create_team(workdir, env, "Bench")
    server = Server(workdir, env, free_port())
    startup = {"start_seconds": server.start()}
    startup["rss_after_start_kib"] = server.rss_kib()
    return server, prepare(server.url, first.token), startup


def _postgres_server(workdir: Path, url: str, workers: int) -> tuple[Server, Credentials]:
    env = mailkeys_env(url, REDIS_URL)
    subprocess.run(
        [*mailkeys_command(), "migrate"], cwd=workdir, env=env, check=True, capture_output=True
    )
    first = create_team(workdir, env, "Bench")
    server = Server(workdir, env, free_port(), workers=workers)
    server.start()
    return server, prepare(server.url, first.token)


def memory(server: Server, figure: Figure, already: int, options: Options) -> dict[str, int]:
    """RSS after `already` requests, topped up to N and 2N requests (flat means no growth)."""
    rss = {}
    done = already
    for goal in (options.requests_for_memory, 2 * options.requests_for_memory):
        while done < goal:
            done += run_wrk(figure.request, options.seconds, CONNECTIONS).requests
        rss[f"rss_after_{goal}_kib"] = server.rss_kib()
    return rss


def restart_time(server: Server) -> float:
    """Seconds from `mailkeys serve` to its first answered request, on an existing database."""
    server.stop()
    return server.start()


def run(options: Options) -> None:
    """Everything, printed as it goes."""
    say(
        f"mailkeys request pipeline on {platform.node()}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {wrk_version()}, wrk -t1 -c{CONNECTIONS}, "
        f"{options.seconds} s per figure, {options.rounds} round(s), best round reported"
    )
    starlette, strawberry = Baseline("starlette_app"), Baseline("strawberry_app")
    try:
        with ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mk-pipe-")))
            for name in ("sqlite", "pg", "pg2"):
                (workdir / name).mkdir()
            sqlite, sqlite_keys, startup = _sqlite_server(workdir / "sqlite")
            stack.callback(sqlite.stop)
            figures = [
                *baseline_figures(starlette, strawberry),
                *mailkeys_figures(sqlite.url, sqlite_keys, pid=sqlite.pid),
            ]
            if not options.sqlite_only:
                pg = stack.enter_context(postgres_database())
                postgres, postgres_keys = _postgres_server(workdir / "pg", pg, 1)
                stack.callback(postgres.stop)
                figures += mailkeys_figures(postgres.url, postgres_keys, PG, postgres.pid)
            figures = [f for f in figures if _wanted(f, options.rows)]
            say("Main table: every server one worker")
            measured = measure(figures, options)
            say()
            verdicts = table(figures, measured)
            if options.partial:
                return
            served = sum(
                r.requests for f in figures if f.request.url.startswith(sqlite.url)
                for r in measured[f.key].rounds
            )  # fmt: skip
            viewer = next(f for f in figures if f.key == "viewer")
            rss = memory(sqlite, viewer, served, options)
            startup["restart_seconds"] = restart_time(sqlite)
            postgres.stop()
            say()
            say(f"mailkeys worker memory (SQLite): {startup['rss_after_start_kib'] / 1024:.0f} MiB "
                "after start, " + ", ".join(
                    f"{v / 1024:.0f} MiB after {k.split('_')[2]} requests" for k, v in rss.items()
                ))  # fmt: skip
            say(f"mailkeys serve to first answer: {startup['start_seconds']:.2f} s on a new "
                f"SQLite file (migrations included), {startup['restart_seconds']:.2f} s on an "
                "existing one")  # fmt: skip
            two_workers(workdir / "pg2", pg, measured, options)
    finally:
        starlette.stop()
        strawberry.stop()
    if not all(verdicts):
        say(f"{verdicts.count(False)} target(s) missed")


def _wanted(figure: Figure, rows: tuple[str, ...]) -> bool:
    name = figure.key.split(" ")[0]
    return (
        name not in RATIO_OF
        or name in rows
        or any(figure.key == RATIO_OF[row] + figure.key[len(name) :] for row in rows)
    )


def issue_ratio(name: str, suffix: str, rates: dict[str, float]) -> float:
    """Row `name` of the server named by `suffix`, divided as its target divides it."""
    baseline = RATIO_OF[name] + (suffix if name == "send" else "")
    return rates[name + suffix] / rates[baseline]


def two_workers(workdir: Path, url: str, measured: dict[str, Measured], options: Options) -> None:
    """Every PostgreSQL row again with `--workers 2`, against the same one-worker baselines."""
    server, keys = _postgres_server(workdir, url, 2)
    try:
        figures = mailkeys_figures(server.url, keys, PG_TWO, server.pid)
        say()
        say("PostgreSQL + Redis, 1 -> 2 workers (baselines: the one-worker runs above)")
        more = measure(figures, options)
    finally:
        server.stop()
    rates = {key: m.best.rate for key, m in {**measured, **more}.items()}
    say(
        f"| {'row':<10} | {'1 worker':>9} | {'2 workers':>9} | {'2/1':>5} | ratio, 1 -> 2 workers |"
    )
    say(f"|{'-' * 12}|{'-' * 11}|{'-' * 11}|{'-' * 7}|-----------------------|")
    for name in RATIO_OF:
        one, two = rates[name + PG], rates[name + PG_TWO]
        before, after = issue_ratio(name, PG, rates), issue_ratio(name, PG_TWO, rates)
        say(
            f"| {name:<10} | {one:>9,.0f} | {two:>9,.0f} | {two / one:>5.2f} "
            f"| {before:.2f} -> {after:.2f} x {RATIO_OF[name]:<10} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per figure, one round")
    parser.add_argument(
        "--rows", help=f"only these mailkeys rows (and what they divide by): {','.join(RATIO_OF)}"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="no PostgreSQL rows")
    args = parser.parse_args()
    if wrk_path() is None:
        sys.exit("bench.pipeline needs wrk (apt-get install wrk)")
    if args.quick:
        options = Options(seconds=3, rounds=1, warmup=1, requests_for_memory=100_000)
    else:
        options = Options(seconds=6, rounds=2, warmup=2, requests_for_memory=100_000)
    if args.rows:
        options.rows = tuple(args.rows.split(","))
    options.sqlite_only = args.sqlite_only
    run(options)


if __name__ == "__main__":
    main()
