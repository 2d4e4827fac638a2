"""Migrations describe exactly the models, and apply cleanly to both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from mailkeys.models.database import AUTHORING_CONFIG


@pytest.fixture
async def authoring() -> AsyncIterator[TortoiseContext]:
    async with TortoiseContext() as ctx:
        await ctx.init(config=AUTHORING_CONFIG)
        yield ctx


async def test_migrations_match_the_models(authoring: TortoiseContext) -> None:
    assert authoring.apps is not None
    apps = {"models": dict(AUTHORING_CONFIG["apps"]["models"])}

    changes = await MigrationAutodetector(authoring.apps, apps).changes()

    assert not changes, "models changed without a migration: run scripts/makemigrations"
