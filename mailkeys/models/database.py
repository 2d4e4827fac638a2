"""Connecting to the database and keeping its schema in step with the models (migrations).

Schema changes are Tortoise 1.x migrations in `mailkeys/migrations` (Tortoise's own tool:
aerich calls itself legacy for 1.x). `mailkeys migrate` applies them; the server refuses to
start on a database that is behind. The embedded default (SQLite) is migrated by
`mailkeys serve` itself, so the quickstart needs no extra step. Why a database cannot be
used at all is `diagnosis`' to say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.executor import MigrationExecutor

from mailkeys.models.diagnosis import DatabaseUnusableError, check_url, explain, probe, safe_url
from mailkeys.outages import is_unavailable
from mailkeys.settings import Settings

# re-exported: storage callers ask here
__all__ = ["DatabaseUnusableError", "is_unavailable", "safe_url"]

MODEL_MODULES = ["mailkeys.models"]
MIGRATIONS_MODULE = "mailkeys.migrations"


def orm_config(settings: Settings) -> dict[str, Any]:
    """Tortoise configuration for the configured database."""
    return {
        "connections": {"default": _connection(settings.database_url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _connection(url: str) -> str | dict[str, Any]:
    """The URL as Tortoise takes it; on PostgreSQL, expanded to give the pool our reset."""
    if not url.startswith(("postgres://", "postgresql://")):
        return url
    config: dict[str, Any] = expand_db_url(url)
    config["credentials"]["reset"] = _keep_session
    return config


async def _keep_session(connection: object) -> None:
    """Nothing to undo when a connection goes back to the pool.

    asyncpg's default reset sends `RESET ALL`, `UNLISTEN *`, `CLOSE ALL` and an advisory
    unlock: a round trip on every release, a tenth of a PostgreSQL request's time. mailkeys
    never changes session state (no SET, LISTEN, cursors or session locks); an unfinished
    transaction is still rolled back by asyncpg before this is called.
    """


# For `python -m tortoise --config mailkeys.models.database.AUTHORING_CONFIG makemigrations`
# (scripts/makemigrations): migrations are derived from the models, not from a live database.
AUTHORING_CONFIG = orm_config(Settings(database_url="sqlite://:memory:"))


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[None]:
    """Tortoise on the configured database for the length of one command.

    Raises DatabaseUnusableError, saying why, if the database cannot be reached or opened
    at first, or stops answering (or is locked by another process) during the command.
    """
    url = settings.database_url
    check_url(url)
    await Tortoise.init(config=orm_config(settings))
    try:
        await probe(url)
        try:
            yield
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnusableError(explain(url, error)) from error
            raise
    finally:
        await Tortoise.close_connections()


def is_sqlite(settings: Settings) -> bool:
    """True for the embedded default."""
    return settings.database_url.startswith("sqlite")


def _executor() -> MigrationExecutor:
    apps = {"models": orm_config(Settings())["apps"]["models"]}
    return MigrationExecutor(Tortoise.get_connection("default"), apps)


async def pending_migrations() -> list[str]:
    """Names of the migrations not yet applied (Tortoise must be initialised)."""
    steps = await _executor().plan()
    return [step.migration.name for step in steps if not step.backward]


async def apply_migrations() -> list[str]:
    """Apply every pending migration; returns their names."""
    pending = await pending_migrations()
    if pending:
        await _executor().migrate()
    return pending


async def ready_database(settings: Settings) -> None:
    """Migrate the embedded default; refuse a scale-out database that is behind."""
    if is_sqlite(settings):
        await apply_migrations()
        return
    pending = await pending_migrations()
    if pending:
        raise DatabaseBehindError(pending, safe_url(settings.database_url))


class DatabaseBehindError(DatabaseUnusableError):
    """Raised when the database lacks migrations the code needs."""

    def __init__(self, pending: list[str], where: str | None = None) -> None:
        database = f"the database {where}" if where else "the database"
        super().__init__(
            f"{database} is behind: {len(pending)} migration(s) not applied "
            f"({', '.join(pending)}): run `mailkeys migrate`"
        )
        self.pending = pending
