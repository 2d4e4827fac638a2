"""The configured database for a command, and `mailkeys migrate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mailkeys.models.database import apply_migrations, connected, ready_database, safe_url
from mailkeys.resolvers.policy_versions import install_live_policy
from mailkeys.settings import Settings


@contextlib.asynccontextmanager
async def command_database(settings: Settings) -> AsyncIterator[None]:
    """As for `mailkeys serve`: the embedded SQLite file is migrated, a scale-out database
    that is behind is refused (DatabaseBehindError), and the live policy is installed. A
    database that cannot be used raises DatabaseUnusableError, which says why."""
    async with connected(settings):
        await ready_database(settings)
        await install_live_policy(settings)
        yield


async def _migrate(settings: Settings) -> list[str]:
    async with connected(settings):
        return await apply_migrations()


def migrate(args: argparse.Namespace) -> int:
    """Apply pending schema migrations."""
    settings = Settings.from_env()
    applied = asyncio.run(_migrate(settings))
    where = safe_url(settings.database_url)
    if applied:
        print(f"mailkeys: applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        print(f"mailkeys: {where} is up to date")
    return 0


def register(commands: Any) -> None:
    """Add `mailkeys migrate`."""
    migrate_parser = commands.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply pending schema migrations to the configured database "
        "(MAILKEYS_DATABASE_URL). The SQLite default is also migrated by `serve`.",
    )
    migrate_parser.set_defaults(handler=migrate)
