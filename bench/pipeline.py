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
import os
import platform
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    free_port,
    load_average,
    mailkeys_command,
    postgres_database,
    tree_cpu_seconds,
)
from bench.load import run_wrk, wrk_path, wrk_version
from bench.pipeline_figures import RATIO_OF, Figure, Measured, baseline_figures, mailkeys_figures
from bench.pipeline_servers import (
    CONNECTIONS,
    PG,
    PG_TWO,
    REDIS_URL,
    Baseline,
    Credentials,
    mailkeys_env,
    prepare,
    say,
)
from bench.server import Server, create_team

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


def sqlite_server(workdir: Path) -> tuple[Server, Credentials, dict[str, float]]:
    env = mailkeys_env("sqlite://mailkeys.sqlite3?busy_timeout=5000")
    first = create_team(workdir, env, "Bench")
    server = Server(workdir, env, free_port())
    startup = {"start_seconds": server.start()}
    startup["rss_after_start_kib"] = server.rss_kib()
    return server, prepare(server.url, first.token), startup


def postgres_server(workdir: Path, url: str, workers: int) -> tuple[Server, Credentials]:
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
            sqlite, sqlite_keys, startup = sqlite_server(workdir / "sqlite")
            stack.callback(sqlite.stop)
            figures = [
                *baseline_figures(starlette, strawberry),
                *mailkeys_figures(sqlite.url, sqlite_keys, pid=sqlite.pid),
            ]
            if not options.sqlite_only:
                pg = stack.enter_context(postgres_database())
                postgres, postgres_keys = postgres_server(workdir / "pg", pg, 1)
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
    server, keys = postgres_server(workdir, url, 2)
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
