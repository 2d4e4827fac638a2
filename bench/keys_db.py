"""Build a SQLite database holding N infrastructure keys spread over N/per_team teams.

Run as `python -m bench.keys_db --db PATH --keys N`. The schema comes from the project's
migrations (as `mailkeys migrate` makes it), and one team and one key are created through the
ORM; their stored rows are the templates for the bulk rows, so column formats (datetimes,
JSON, enums) are exactly what the ORM writes and reads. The bulk rows go in with `executemany`
in one transaction, with the secondary indexes dropped and rebuilt afterwards (the usual
bulk-load order). Every row shares one argon2 hash made with the default parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from bench.common import emit
from mailkeys.models import ApiKey, KeyType, Team
from mailkeys.models.database import apply_migrations, orm_config
from mailkeys.settings import Settings
from mailkeys.tokens import SecretHasher, issue_token

PRESETS = ("root:full", "root:readonly", "root:provider_admin", "root:billing_admin")
TEMPLATE_TEAM = "team_template000000"
_VARYING = ("id", "team_id", "name", "preset", "display_token", "created_at", "slot_id")


def database_url(path: Path) -> str:
    """The Tortoise URL of a SQLite file, with the busy timeout the service's default uses."""
    return f"sqlite://{path.resolve()}?busy_timeout=5000"


async def _create_templates(path: Path) -> None:
    settings = Settings(database_url=database_url(path))
    await Tortoise.init(config=orm_config(settings))
    try:
        await apply_migrations()
        argon2 = settings.argon2
        hasher = SecretHasher(argon2.time_cost, argon2.memory_cost_kib, argon2.parallelism)
        token = issue_token("smx_root_")
        await Team.create(id=TEMPLATE_TEAM, name="template")
        await ApiKey.create(
            id=token.key_id,
            team_id=TEMPLATE_TEAM,
            type=KeyType.INFRASTRUCTURE,
            name="template",
            preset="root:full",
            secret_hash=hasher.hash(token.token),
            display_token=token.display,
            created_at=datetime.now(UTC),
            created_by="operator",
            slot_id=token.key_id,
        )
    finally:
        await Tortoise.close_connections()


def random_ids(count: int) -> list[str]:
    """`count` random 16-character base62 ids (base64 with `+/` mapped to letters)."""
    raw = base64.b64encode(secrets.token_bytes(12 * count)).decode("ascii")
    raw = raw.translate(str.maketrans("+/", "xy"))
    return sorted(raw[i : i + 16] for i in range(0, 16 * count, 16))


def _template(db: sqlite3.Connection, table: str) -> tuple[list[str], dict[str, Any]]:
    cursor = db.execute(f'SELECT * FROM "{table}" LIMIT 1')  # noqa: S608  # fixed table names
    columns = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return columns, dict(zip(columns, row, strict=True))


def _insert_sql(table: str, columns: list[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608  # fixed names


def build(path: Path, keys: int, per_team: int) -> dict[str, Any]:
    """Create the database file with `keys` keys; returns what was built."""
    started = time.perf_counter()
    asyncio.run(_create_templates(path))
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # A throwaway file being filled: no journal, no fsync, a big cache for the index builds.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")
        team_columns, team_row = _template(db, "team")
        key_columns, key_row = _template(db, "api_key")
        indexes = [
            (name, sql)
            for name, sql in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name IN ('api_key', 'team') AND sql IS NOT NULL"
            )
        ]
        team_count = -(-keys // per_team)
        team_ids = [f"team_{i}" for i in random_ids(team_count)]
        key_ids = random_ids(keys)

        def team_rows() -> Iterator[tuple[Any, ...]]:
            for number, team_id in enumerate(team_ids):
                row = dict(team_row, id=team_id, name=f"Team {number}")
                yield tuple(row[c] for c in team_columns)

        created_prefix = str(key_row["created_at"])[:19]
        slots = {c: key_columns.index(c) for c in _VARYING}

        def key_rows() -> Iterator[tuple[Any, ...]]:
            row = [key_row[c] for c in key_columns]
            for number, key_id in enumerate(key_ids):
                row[slots["id"]] = key_id
                row[slots["team_id"]] = team_ids[number % team_count]
                row[slots["name"]] = f"key {number}"
                row[slots["preset"]] = PRESETS[number % len(PRESETS)]
                row[slots["display_token"]] = f"smx_root_{key_id}_…{key_id[-4:]}"
                row[slots["created_at"]] = f"{created_prefix}.{number % 1_000_000:06d}+00:00"
                row[slots["slot_id"]] = key_id
                yield tuple(row)

        db.execute("BEGIN")
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        db.execute("DELETE FROM api_key")
        db.execute("DELETE FROM team")
        db.executemany(_insert_sql("team", team_columns), team_rows())
        db.executemany(_insert_sql("api_key", key_columns), key_rows())
        for _, sql in indexes:
            db.execute(sql)
        db.execute("COMMIT")
        # Leave the file as the service expects it (Tortoise also asks for WAL on connect).
        db.execute("PRAGMA journal_mode=WAL")
        stored = db.execute("SELECT count(*) FROM api_key").fetchone()[0]
        teams = db.execute("SELECT count(*) FROM team").fetchone()[0]
    finally:
        db.close()
    return {
        "keys": stored,
        "teams": teams,
        "seconds": time.perf_counter() - started,
        "bytes": path.stat().st_size,
    }


def main() -> None:
    """Command line of the builder; prints one result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--keys", type=int, required=True)
    parser.add_argument("--per-team", type=int, default=100)
    args = parser.parse_args()
    emit(build(args.db, args.keys, args.per_team))


if __name__ == "__main__":
    main()
