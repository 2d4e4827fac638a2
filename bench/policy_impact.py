"""How long a policy plan's impact takes over 10,000 teams x 100 keys, and what decisions cost.

    python -m bench.policy_impact [--teams 10000] [--keys-per-team 100] [--database FILE]

Bulk-inserts teams and keys into a temporary SQLite file (raw SQL, executemany, one
transaction; every key shares one argon2 hash, which the impact never reads), then times,
for two policy changes: building the proposed snapshot, the impact summary (SQL GROUP BY
per configuration), the first and a later page of affected credentials, and the first page
of affected teams. Last, the cost of one decision before and after a policy change, and of
a worker's reload from the stored decision table.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tortoise import Tortoise
from tortoise.fields.data import JSON_DUMPS

from mailkeys import policy
from mailkeys.models import MODEL_MODULES
from mailkeys.policy import Actor, CredentialKind
from mailkeys.policy.compile import (
    build_snapshot,
    decisions_fingerprint,
    decisions_of,
    snapshot_from_decisions,
)
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.vocabulary import MAILBOX_PERMISSIONS
from mailkeys.resolvers.policy_plans import affected_credentials, affected_teams, impact_of
from mailkeys.tokens import SecretHasher

T = TypeVar("T")
MODEL = shipped_model_text()
SHIPPED = shipped_policy_text()
# as key creation stores them: sorted
EVERY_MAILBOX_PERMISSION = sorted(MAILBOX_PERMISSIONS)

# What one team's 100 keys hold (scaled for other sizes): (type, preset, permissions, share)
MIX: list[tuple[str, str | None, list[str], int]] = [
    ("infrastructure", "root:full", [], 5),
    ("infrastructure", "root:readonly", [], 35),
    ("infrastructure", "root:provider_admin", [], 10),
    ("infrastructure", "root:billing_admin", [], 5),
    ("infrastructure", "root:webhook_admin", [], 5),
    ("sending", None, ["email.send"], 15),
    ("sending", None, ["email.send", "mailbox.read"], 10),
    ("mailbox", None, EVERY_MAILBOX_PERMISSION, 15),
]
CHANGES = {
    "Read Only may create keys (p, root:readonly, key.create, team)": (
        SHIPPED + "p, root:readonly, key.create, team\n"
    ),
    "sending keys may no longer read mailboxes (- p, kind:sending, mailbox.read, mailbox)": (
        SHIPPED.replace("p, kind:sending, mailbox.read, mailbox\n", "")
    ),
}


def insert(path: Path, teams: int, keys_per_team: int) -> int:
    """Bulk-insert with the standard library: one transaction, executemany."""
    now = datetime.now(UTC).isoformat(" ")
    secret_hash = SecretHasher(1, 8, 1).hash("smx_root_bench")
    shares = sum(share for *_, share in MIX)
    plan = [
        (type_, preset, JSON_DUMPS(permissions), max(1, share * keys_per_team // shares))
        for type_, preset, permissions, share in MIX
    ]
    connection = sqlite3.connect(path)
    inserted = 0
    try:
        with connection:
            connection.executemany(
                "INSERT INTO team (id, name, created_at) VALUES (?, ?, ?)",
                ((f"team_{t:06d}", f"Team {t}", now) for t in range(teams)),
            )

            def rows() -> object:
                nonlocal inserted
                for t in range(teams):
                    for type_, preset, permissions, count in plan:
                        for _ in range(count):
                            key_id = f"k{inserted:09d}"
                            inserted += 1
                            yield (
                                key_id, f"team_{t:06d}", type_, "", preset, permissions,
                                None, None, None, "[]", secret_hash,
                                f"smx_root_{key_id}_...abcd", now, "bench", key_id,
                            )  # fmt: skip

            connection.executemany(
                "INSERT INTO api_key (id, team_id, type, name, preset, permissions, mailbox_id, "
                "mailbox_ids, send_scope_mode, send_scope_ids, secret_hash, display_token, "
                "created_at, created_by, slot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?)",
                rows(),  # type: ignore[arg-type]  # a generator of row tuples
            )
    finally:
        connection.close()
    return inserted


async def timed(label: str, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    result = await work()
    print(f"  {label:<44} {time.perf_counter() - started:8.2f} s")
    return result


def decision_cost(snapshot: policy.PolicySnapshot) -> float:
    """Median microseconds of one authorize() over a few permissions, with `snapshot` live."""
    policy.install(snapshot)
    actor = Actor(
        kind=CredentialKind.INFRASTRUCTURE,
        credential_id="k1",
        team_id="team_000001",
        preset="root:readonly",
    )
    rounds = []
    for _ in range(5):
        n = 20_000
        rounds.append(timeit.timeit(lambda: policy.authorize(actor, "key.read"), number=n) / n)
    return statistics.median(rounds) * 1e6


async def main(teams: int, keys_per_team: int, database: Path | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailkeys-bench-"))
    try:
        await run(database or workdir / "impact.sqlite3", teams, keys_per_team)
    finally:
        shutil.rmtree(workdir)


async def run(path: Path, teams: int, keys_per_team: int) -> None:
    url = f"sqlite://{path}"
    print(f"database: {path}")
    await Tortoise.init(db_url=url, modules={"models": MODEL_MODULES})
    await Tortoise.generate_schemas(safe=True)
    await Tortoise.close_connections()

    started = time.perf_counter()
    keys = insert(path, teams, keys_per_team)
    print(f"inserted {teams:,} teams and {keys:,} keys in {time.perf_counter() - started:.1f} s")

    await Tortoise.init(db_url=url, modules={"models": MODEL_MODULES})
    try:
        live = build_snapshot(MODEL, SHIPPED, 1)
        policy.install(live)
        for title, rules in CHANGES.items():
            print(f"\n{title}")
            started = time.perf_counter()
            proposed = await asyncio.to_thread(build_snapshot, MODEL, rules, 2)
            print(f"  {'build the proposed snapshot (Casbin)':<44} "
                  f"{time.perf_counter() - started:8.2f} s")  # fmt: skip
            impact = await timed(
                "impact summary (GROUP BY, distinct teams)",
                lambda: impact_of(live, proposed),  # noqa: B023
            )
            first = await timed(
                "first page of 100 affected credentials",
                lambda: affected_credentials(impact, 100, None),  # noqa: B023
            )
            await timed(
                "next page of 100 affected credentials",
                lambda: affected_credentials(impact, 100, first.cursors[-1]),  # noqa: B023
            )
            await timed(
                "first page of 100 affected teams",
                lambda: affected_teams(impact, 100, None),  # noqa: B023
            )
            print(
                f"  -> {impact.credentials_affected:,} of {impact.credentials_considered:,} "
                f"credentials in {impact.teams_affected:,} teams; "
                + ", ".join(
                    f"{c.permission} +{c.gained_by:,}/-{c.lost_by:,}" for c in impact.permissions
                )
            )
    finally:
        await Tortoise.close_connections()

    changed = build_snapshot(MODEL, next(iter(CHANGES.values())), 2)
    print("\ndecisions")
    print(f"  authorize() before the change               {decision_cost(live):8.2f} us")
    print(f"  authorize() after the change                {decision_cost(changed):8.2f} us")
    started = time.perf_counter()
    build_snapshot(MODEL, SHIPPED, 3)
    built = time.perf_counter() - started
    stored, fingerprint = decisions_of(changed), decisions_fingerprint(MODEL)
    started = time.perf_counter()
    snapshot_from_decisions(MODEL, SHIPPED, 3, stored, fingerprint)
    loaded = time.perf_counter() - started
    print(f"  reload by asking Casbin everything          {built * 1000:8.1f} ms")
    print(f"  reload from the stored decision table       {loaded * 1000:8.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=10_000)
    parser.add_argument("--keys-per-team", type=int, default=100)
    parser.add_argument("--database", type=Path, help="SQLite file to use (default: a temp one)")
    args = parser.parse_args()
    asyncio.run(main(args.teams, args.keys_per_team, args.database))
