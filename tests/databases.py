"""The database of the PostgreSQL run of the suite (MAILKEYS_TEST_DATABASE_URL, see .ci/run).

A run claims one of a few databases on that server (`mailkeys_test_session_<slot>`, one slot
per run going on at once, claimed with a lock file), gives it the models' schema afresh and
empties it before each test. It leaves the database for the next run instead of dropping it:
on a server shared with other work, DROP DATABASE waits for a checkpoint of everything, which
took minutes here; and a database per test, as tortoise_test_context makes them, is thousands
left behind.
"""

from __future__ import annotations

import asyncio
import fcntl
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import generate_config
from tortoise.context import TortoiseContext
from tortoise.warnings import TortoiseLoopSwitchWarning

from mailkeys.models import MODEL_MODULES


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def admin(server_url: str, sql: str) -> None:
    """Run one statement on the server's `postgres` database (CREATE / DROP DATABASE)."""
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def orm_on(url: str, create: bool = False) -> AsyncIterator[TortoiseContext]:
    """Tortoise on `url` for the block, in a context of its own (as tortoise_test_context)."""
    with warnings.catch_warnings():
        # each test runs in its own event loop, and Tortoise says so
        warnings.filterwarnings("ignore", category=TortoiseLoopSwitchWarning)
        async with TortoiseContext() as context:
            config = generate_config(url, app_modules={"models": MODEL_MODULES})
            await context.init(config=config, _create_db=create, use_tz=True, timezone="UTC")
            yield context


SLOTS = 16


@contextmanager
def _claimed_slot() -> Iterator[int]:
    """The first slot no other run on this machine holds, held until the block ends."""
    for slot in range(SLOTS):
        lock = open(f"{tempfile.gettempdir()}/mailkeys-test-database-{slot}.lock", "w")  # noqa: SIM115  # held open: the lock lasts as long as the file
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            yield slot
        finally:
            lock.close()  # and the lock with it
        return
    raise RuntimeError(f"all {SLOTS} test database slots are taken by other runs")


async def _fresh_schema(url: str, name: str) -> None:
    connection = await asyncpg.connect(database_url(url, "postgres"))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    connection = await asyncpg.connect(url)
    try:  # whatever an earlier run (of other models, perhaps) left there goes
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
    async with orm_on(url) as context:
        await context.generate_schemas(safe=False)


@contextmanager
def session_database(url_template: str) -> Iterator[str]:
    """This run's database, with the models' schema and nothing else; yields its URL.

    `url_template` names the server and the database: a `{}` in its name becomes
    `session_<slot>`, else `_<slot>` is appended.
    """
    with _claimed_slot() as slot:
        name = url_template.rsplit("/", 1)[1].split("?")[0]
        name = name.format(f"session_{slot}") if "{}" in name else f"{name}_{slot}"
        url = database_url(url_template, name)
        asyncio.run(_fresh_schema(url, name))
        yield url


def _children_first(context: TortoiseContext) -> list[str]:
    """The models' tables, each before the tables its rows point to (foreign keys)."""
    apps: Any = context.apps  # Tortoise's model metadata is typed loosely
    models: list[Any] = [model for app in apps.values() for model in app.values()]
    points_to: dict[str, set[str]] = {
        model._meta.db_table: {
            model._meta.fields_map[name].related_model._meta.db_table
            for name in model._meta.fk_fields | model._meta.o2o_fields
        }
        - {model._meta.db_table}
        for model in models
    }
    ordered: list[str] = []

    def visit(table: str, seen: frozenset[str]) -> None:
        if table in ordered or table in seen:
            return
        for child in sorted(t for t, targets in points_to.items() if table in targets):
            visit(child, seen | {table})
        ordered.append(table)

    for table in sorted(points_to):
        visit(table, frozenset())
    return ordered


async def empty_tables(context: TortoiseContext) -> None:
    """Delete every row of every table of the models, in one transaction.

    DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes every table a new file
    that the commit has to sync.
    """
    connection: Any = context.connections.get("default")
    tables = _children_first(context)  # names of the models, not input
    deletes = "".join(f"DELETE FROM {table};" for table in tables)  # noqa: S608
    await connection.execute_script(f"BEGIN;{deletes}COMMIT;")
