"""The upgrade to DNS-verified domains (migration 0004) on data written before it.

Before it, `domainVerify` marked a domain verified without a look at DNS. After it: a name
one team marked verified stays verified, flagged for re-verification; a name several teams
marked verified is verified for none of them; nothing else changes (docs/domains.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from tortoise.backends.base.config_generator import generate_config
from tortoise.context import TortoiseContext
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from mailkeys.models.database import MIGRATIONS_MODULE, MODEL_MODULES
from tests.conftest import TEST_DATABASE_URL

BEFORE = "0003_policy_versions"


@pytest.fixture
async def database() -> AsyncIterator[TortoiseContext]:
    """An empty database of the test engine, with no tables yet."""
    config = generate_config(TEST_DATABASE_URL, app_modules={"models": MODEL_MODULES}, testing=True)
    config["apps"]["models"]["migrations"] = MIGRATIONS_MODULE
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, _create_db=True)
        yield ctx


def _executor(ctx: TortoiseContext) -> MigrationExecutor:
    apps = {"models": {"models": MODEL_MODULES, "migrations": MIGRATIONS_MODULE}}
    return MigrationExecutor(ctx.connections.get("default"), apps)


async def test_domains_verified_before_dns_checks_are_carried_over_safely(
    database: TortoiseContext,
) -> None:
    # given a database at the previous migration, with domains as the old code left them
    await _executor(database).migrate([MigrationTarget("models", BEFORE)])
    connection = database.connections.get("default")
    for team in ("team_a", "team_b", "team_c", "team_d"):
        await connection.execute_query(
            f"INSERT INTO team (id, name, created_at) VALUES ({_params(connection, 3)})",  # noqa: S608
            [team, team, _time(connection, "2026-11-01T00:00:00+00:00")],
        )
    rows = [
        ("dom_1", "team_a", "contested.example", "2026-11-02T00:00:00+00:00"),
        ("dom_2", "team_b", "contested.example", "2026-11-03T00:00:00+00:00"),
        ("dom_3", "team_c", "unique.example", "2026-11-04T00:00:00+00:00"),
        ("dom_4", "team_d", "unique.example", None),  # added, never verified
        ("dom_5", "team_d", "pending.example", None),
    ]
    columns = "id, team_id, name, verification_record, verified_at, created_at"
    insert_domain = f"INSERT INTO domain ({columns}) VALUES ({_params(connection, 6)})"  # noqa: S608
    for row in rows:
        await connection.execute_query(
            insert_domain,
            [
                *row[:3],
                "mailkeys-verify=x",
                _time(connection, row[3]),
                _time(connection, "2026-11-01T00:00:00+00:00"),
            ],
        )

    # when the upgrade runs
    await _executor(database).migrate()

    # then
    _, found = await connection.execute_query(
        "SELECT id, verified_at, verified_name, reverification_required FROM domain ORDER BY id"
    )
    state = {row["id"]: _state(row) for row in found}
    assert state == {
        "dom_1": (False, None, False),  # several teams claimed it: none holds it
        "dom_2": (False, None, False),
        "dom_3": (True, "unique.example", True),  # one team claimed it: kept, flagged
        "dom_4": (False, None, False),
        "dom_5": (False, None, False),
    }


def _state(row: Any) -> tuple[bool, str | None, bool]:
    return (
        row["verified_at"] is not None,
        row["verified_name"],
        bool(row["reverification_required"]),
    )


def _time(connection: Any, value: str | None) -> Any:
    """A timestamp as the driver takes it: text for SQLite, a datetime for asyncpg."""
    if value is None or connection.capabilities.dialect != "postgres":
        return value
    return datetime.fromisoformat(value)


def _params(connection: Any, count: int) -> str:
    """Placeholders in the engine's style (the only thing formatted into the SQL above)."""
    if connection.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" for _ in range(count))
