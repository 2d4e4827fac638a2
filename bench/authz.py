"""Authorization cost at one database size, measured in a fresh process.

Run as `python -m bench.authz --db PATH` against a file made by `bench.keys_db`. Reports the
time to initialise the ORM and to load the policy, the RSS right after (the start-up state of
a process), the median primary-key lookup of a key as authentication does it, and the median
`policy.authorize()` decision for an actor built from a stored key row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import time
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from bench.common import emit, median, rss_kib
from bench.keys_db import database_url
from mailkeys import policy
from mailkeys.auth.keys import actor_for_key
from mailkeys.errors import PermissionDeniedError
from mailkeys.models import ApiKey
from mailkeys.models.database import apply_migrations, orm_config
from mailkeys.models.key_facts import KeyFacts, fetch_key_facts
from mailkeys.policy.files import read_text, shipped_model_text, shipped_policy_text
from mailkeys.resolvers.policy_versions import install_live_policy
from mailkeys.settings import Settings


async def _lookup(key_id: str) -> KeyFacts | None:
    # Exactly the read of the authentication hot path (resolvers/authentication.py).
    return await fetch_key_facts(key_id)


async def _sample_ids(count: int) -> list[str]:
    """`count` ids of stored keys, drawn at random (with replacement) over the whole table."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect != "sqlite":  # PostgreSQL: sample the table
        rows = await connection.execute_query_dict(
            f"SELECT id FROM api_key ORDER BY random() LIMIT {int(count)}"  # noqa: S608  # an int
        )
        return random.choices([str(r["id"]) for r in rows], k=count)
    (row,) = await connection.execute_query_dict("SELECT max(rowid) AS n FROM api_key")
    top = int(row["n"])
    rowids = ", ".join(str(random.randint(1, top)) for _ in range(count))
    rows = await connection.execute_query_dict(
        f"SELECT id FROM api_key WHERE rowid IN ({rowids})"  # noqa: S608  # integers only
    )
    return random.choices([str(r["id"]) for r in rows], k=count)


def _time_decisions(
    actor: policy.Actor, permission: str, resource: policy.Resource, batches: int, batch: int
) -> tuple[float, float, float]:
    """Per allowed decision, in ns: the median over batches of wall time (perf_counter_ns),
    the least batch, and the median of the thread's CPU time (blind to preemption by others)."""
    authorize = policy.authorize
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(batches):
        cpu_started = time.thread_time_ns()
        started = time.perf_counter_ns()
        for _ in range(batch):
            authorize(actor, permission, resource)
        wall.append((time.perf_counter_ns() - started) / batch)
        cpu.append((time.thread_time_ns() - cpu_started) / batch)
    return median(wall), min(wall), median(cpu)


def _time_denials(actor: policy.Actor, permission: str, resource: policy.Resource) -> float:
    """Median time of a denied decision (it raises), in ns."""
    samples: list[float] = []
    for _ in range(2_000):
        started = time.perf_counter_ns()
        with contextlib.suppress(PermissionDeniedError):
            policy.authorize(actor, permission, resource)
        samples.append(time.perf_counter_ns() - started)
    return median(samples)


async def measure(url: str, decisions: int, lookups: int) -> dict[str, Any]:
    """Everything this process reports, as a JSON-able dict."""
    settings = Settings(database_url=url)
    rss_before = rss_kib()
    started = time.perf_counter()
    await Tortoise.init(config=orm_config(settings))
    await apply_migrations()
    orm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await install_live_policy(settings)
    policy_seconds = time.perf_counter() - started
    gc.collect()
    rss_loaded = rss_kib()
    try:
        # A policy rebuild, repeated: the steady cost of (re)loading without first-call effects,
        # in CPU time and the least of several, so that other processes on the machine do not
        # blur a comparison between database sizes.
        model_text = read_text(settings.policy_model_path, shipped_model_text())
        policy_text = read_text(settings.policy_path, shipped_policy_text())
        rebuilds = []
        for version in range(2, 9):
            started = time.process_time()
            policy.build_snapshot(model_text, policy_text, version)
            rebuilds.append(time.process_time() - started)

        ids = await _sample_ids(lookups + 100)
        for key_id in ids[:100]:  # warm the connection and the statement path
            await _lookup(key_id)
        lookup_ns: list[int] = []
        for key_id in ids[100:]:
            started_ns = time.perf_counter_ns()
            key = await _lookup(key_id)
            lookup_ns.append(time.perf_counter_ns() - started_ns)
            if key is None:
                raise RuntimeError(f"key {key_id} not found")

        full = await ApiKey.filter(preset="root:full").select_related("mailbox").first()
        readonly = await ApiKey.filter(preset="root:readonly").select_related("mailbox").first()
        if full is None or readonly is None:
            raise RuntimeError("the database has no root:full or root:readonly key")
        actor = actor_for_key(full)
        resource = policy.Resource(team_id=actor.team_id)
        policy.authorize(actor, "key.read", resource)  # must allow, else we time errors
        reader = actor_for_key(readonly)
        if policy.is_allowed(reader, "key.create", policy.Resource(team_id=reader.team_id)):
            raise RuntimeError("root:readonly may create keys: the policy is not the shipped one")
        batch = 1_000
        decision_ns, least_ns, cpu_ns = _time_decisions(
            actor, "key.read", resource, decisions // batch, batch
        )
        denial_ns = _time_denials(reader, "key.create", policy.Resource(team_id=reader.team_id))
        key_count = await ApiKey.all().count()
        team_count = await ApiKey.all().distinct().values_list("team_id", flat=True)
        return {
            "keys": key_count,
            "teams": len(team_count),
            "orm_init_s": orm_seconds,
            "policy_load_s": policy_seconds,
            "policy_rebuild_cpu_s": min(rebuilds),
            "rss_before_kib": rss_before,
            "rss_loaded_kib": rss_loaded,
            "rss_end_kib": rss_kib(),
            "lookup_median_us": median(lookup_ns) / 1_000,
            "lookups": len(lookup_ns),
            "decision_median_us": decision_ns / 1_000,
            "decision_least_us": least_ns / 1_000,
            "decision_cpu_median_us": cpu_ns / 1_000,
            "decisions": (decisions // batch) * batch,
            "denial_median_us": denial_ns / 1_000,
        }
    finally:
        await Tortoise.close_connections()


def main() -> None:
    """Command line; prints one result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, help="a SQLite file built by bench.keys_db")
    parser.add_argument("--url", help="or a database URL (PostgreSQL)")
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    url = args.url or database_url(args.db)
    emit(asyncio.run(measure(url, args.decisions, args.lookups)))


if __name__ == "__main__":
    main()
