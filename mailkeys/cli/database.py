"""The configured database and the live policy, for the length of one command."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from mailkeys.models.database import connected, ready_database
from mailkeys.resolvers.policy_versions import install_live_policy
from mailkeys.settings import Settings


@contextlib.asynccontextmanager
async def command_database(settings: Settings) -> AsyncIterator[None]:
    """As for `mailkeys serve`: the embedded SQLite file is migrated, a scale-out database
    that is behind is refused (DatabaseBehindError), and the live policy is installed."""
    async with connected(settings):
        await ready_database(settings)
        await install_live_policy(settings)
        yield
