"""PostgreSQL databases the tests make and always drop again.

The PostgreSQL run of the suite (MAILKEYS_TEST_DATABASE_URL, see .ci/run) makes one database
for the session with the models' schema and empties it before each test, instead of making
and leaving a database per test: creating a database costs PostgreSQL a checkpoint, and a
shared server should not keep thousands of them.
"""

from __future__ import annotations

import asyncio
import uuid
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


async def _generate_schema(url: str) -> None:
    async with orm_on(url) as context:
        await context.generate_schemas(safe=False)


@contextmanager
def session_database(url_template: str) -> Iterator[str]:
    """A new database with the models' schema, dropped when the block ends; yields its URL.

    `url_template` names the server; its database name, with any `{}` in it replaced by a
    random suffix, is the new database's.
    """
    name = url_template.rsplit("/", 1)[1].split("?")[0]
    name = name.format(uuid.uuid4().hex[:12]) if "{}" in name else f"{name}_{uuid.uuid4().hex[:12]}"
    url = database_url(url_template, name)
    asyncio.run(admin(url, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(_generate_schema(url))
        yield url
    finally:
        asyncio.run(admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
