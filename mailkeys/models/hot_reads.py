"""Hand-written reads for the hot paths: one statement, no model instances.

Building Tortoise model instances costs more than the query itself (about 0.6 ms a row with
a join, against 0.13 ms for the statement), and the requests served most (authentication,
the gateways' check, a send) pay it every time. These helpers run one hand-written SELECT and
hand back plain rows; the callers turn them into small frozen records.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from functools import lru_cache
from typing import Any

from tortoise import Tortoise


def stored_time(value: Any) -> datetime | None:
    """A stored timestamp as a datetime, whichever engine read it."""
    # SQLite hands back the ISO text Tortoise stored; asyncpg hands back datetimes.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def stored_json(value: Any) -> Any:
    """A stored JSON value, whichever engine read it (SQLite: text; asyncpg: decoded)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


_READERS: dict[str, sqlite3.Connection] = {}


def _sqlite_reader(connection: Any) -> sqlite3.Connection | None:
    """A synchronous read-only connection to the same SQLite file, or None.

    aiosqlite runs every statement in its worker thread, and the round trip costs more than
    a primary-key read itself (about 100 us against 20). These reads are short and indexed,
    so on the embedded default they run on the event loop; the file is in WAL mode, so a
    reader never waits for a writer and sees every committed revocation on its next read.
    """
    filename = getattr(connection, "filename", None)
    if connection.capabilities.dialect != "sqlite" or not filename or filename == ":memory:":
        return None
    reader = _READERS.get(filename)
    if reader is None:
        reader = sqlite3.connect(filename, timeout=5, check_same_thread=False)
        reader.execute("PRAGMA query_only = 1")
        reader.row_factory = sqlite3.Row
        _READERS[filename] = reader
    return reader


@lru_cache(maxsize=64)
def _placed(sql: str, postgres: bool) -> str:
    """`sql` with its `{first}`/`{second}`/`{third}`/`{param}` fields as the engine's
    placeholders (worked out once per statement, not on every request)."""
    if postgres:
        return sql.format(param="$1", first="$1", second="$2", third="$3")
    return sql.format(param="?", first="?", second="?", third="?")


async def first_row(sql: str, values: list[str]) -> dict[str, Any] | None:
    """The first row of a hand-written read; `sql` names its placeholders `{first}`,
    `{second}`, `{third}` (or `{param}` for a single one), in the order of `values`."""
    connection = Tortoise.get_connection("default")
    reader = _sqlite_reader(connection)
    if reader is not None:
        found = reader.execute(_placed(sql, False), values).fetchone()
        return dict(found) if found is not None else None
    rows = await _through_tortoise(connection, sql, values)
    return rows[0] if rows else None


async def all_rows(sql: str, values: list[str]) -> list[dict[str, Any]]:
    """Every row of a hand-written read (placeholders as for `first_row`)."""
    connection = Tortoise.get_connection("default")
    reader = _sqlite_reader(connection)
    if reader is not None:
        return [dict(row) for row in reader.execute(_placed(sql, False), values).fetchall()]
    return await _through_tortoise(connection, sql, values)


async def _through_tortoise(connection: Any, sql: str, values: list[str]) -> list[dict[str, Any]]:
    postgres = connection.capabilities.dialect == "postgres"
    rows: list[dict[str, Any]] = await connection.execute_query_dict(_placed(sql, postgres), values)
    return rows
