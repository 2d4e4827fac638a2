"""Policy versions in the database: seeding once, storing versions, reloading a worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from mailkeys import policy
from mailkeys.errors import PolicyVersionConflictError
from mailkeys.http.policy_reload import PolicyReloader, PollingWatcher
from mailkeys.models import PolicyChangeSource, PolicyVersion
from mailkeys.models import policy as stored
from mailkeys.policy.compile import build_snapshot, decisions_fingerprint, decisions_of
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.rules import diff_rules
from mailkeys.resolvers.policy_versions import load_version, reload_if_changed, seed_policy

MODEL = shipped_model_text()
SHIPPED = shipped_policy_text()
READONLY_CREATES = SHIPPED + "p, root:readonly, key.create, team\n"


async def store_next(expected: int, rules: str, author: str = "operator") -> PolicyVersion:
    snapshot = build_snapshot(MODEL, rules, expected + 1)
    async with stored.version_conflicts(expected), in_transaction():
        previous = await stored.get_version(expected)
        added, removed = diff_rules(previous.rules if previous else "", rules)
        return await stored.store_next_version(
            expected,
            rules=rules,
            created_at=datetime.now(UTC),
            author=author,
            message="test change",
            source=PolicyChangeSource.APPLY,
            added=added,
            removed=removed,
            decisions=decisions_of(snapshot),
            decisions_fingerprint=decisions_fingerprint(MODEL),
        )


async def test_seed_stores_version_one_once(db: None) -> None:
    assert await stored.live_version() is None

    assert await seed_policy(MODEL, SHIPPED) is True
    assert await seed_policy(MODEL, SHIPPED + "p, root:readonly, key.create, team\n") is False

    row = await stored.live_row()
    assert row.version == 1
    assert row.rules == SHIPPED
    assert row.source is PolicyChangeSource.SEED
    assert await PolicyVersion.all().count() == 1


async def test_concurrent_seeds_store_one_version(db: None) -> None:
    results = await asyncio.gather(*(seed_policy(MODEL, SHIPPED) for _ in range(5)))

    assert sorted(results) == [False, False, False, False, True]
    assert await PolicyVersion.all().count() == 1


async def test_live_policy_loads_from_stored_decisions(db: None) -> None:
    await seed_policy(MODEL, SHIPPED)

    snapshot = await load_version(MODEL, await stored.live_row())

    assert snapshot == build_snapshot(MODEL, SHIPPED, 1)


async def test_a_new_version_records_its_diff(db: None) -> None:
    await seed_policy(MODEL, SHIPPED)

    row = await store_next(1, READONLY_CREATES)

    assert row.version == 2
    assert row.base_version == 1
    assert row.added == ["p, root:readonly, key.create, team"]
    assert row.removed == []
    assert await stored.live_version() == 2


async def test_a_change_against_an_old_version_is_a_conflict(db: None) -> None:
    await seed_policy(MODEL, SHIPPED)
    await store_next(1, READONLY_CREATES)

    with pytest.raises(PolicyVersionConflictError) as conflict:
        await store_next(1, SHIPPED + "p, root:readonly, key.revoke, team\n")

    assert (conflict.value.expected, conflict.value.live) == (1, 2)
    assert await stored.live_version() == 2


async def test_concurrent_changes_against_one_version_store_one(db: None) -> None:
    await seed_policy(MODEL, SHIPPED)

    outcomes = await asyncio.gather(
        store_next(1, READONLY_CREATES, author="a"),
        store_next(1, SHIPPED + "p, root:readonly, key.revoke, team\n", author="b"),
        return_exceptions=True,
    )

    stored = [o for o in outcomes if isinstance(o, PolicyVersion)]
    refused = [o for o in outcomes if isinstance(o, PolicyVersionConflictError)]
    assert (len(stored), len(refused)) == (1, 1)
    assert await PolicyVersion.all().count() == 2


def test_diff_ignores_comments_order_and_spacing() -> None:
    before = "# a\np, root:full, *, team\np2, root:full, Full Access\n"
    after = "p2,root:full,Full Access\n\n# b\np, root:full, key.read, team\n"

    assert diff_rules(before, after) == (
        ["p, root:full, key.read, team"],
        ["p, root:full, *, team"],
    )


async def test_reloader_installs_a_newer_version_only(db: None) -> None:
    await seed_policy(MODEL, SHIPPED)
    assert await reload_if_changed(MODEL) is False  # version 1 is installed

    await store_next(1, READONLY_CREATES)

    assert await reload_if_changed(MODEL) is True
    assert policy.current().version == 2
    assert policy.is_allowed(readonly_key(), "key.create")
    assert await reload_if_changed(MODEL) is False


async def test_reloader_task_follows_the_live_version(db: None) -> None:
    await seed_policy(MODEL, SHIPPED)
    reloader = PolicyReloader(MODEL, PollingWatcher(0.02))
    reloader.start()
    try:
        await store_next(1, READONLY_CREATES)
        for _ in range(100):
            if policy.current().version == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await reloader.stop()

    assert policy.current().version == 2


async def test_a_version_that_cannot_load_keeps_the_installed_policy(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_policy(MODEL, SHIPPED)
    await store_next(1, READONLY_CREATES)
    # as if another deployment, with another vocabulary, had stored it
    await PolicyVersion.filter(version=2).update(
        rules=SHIPPED + "p, root:readonly, key.destroy, team\n", decisions=None
    )
    reloader = PolicyReloader(MODEL, PollingWatcher(0.01))
    reloader.start()
    try:
        with caplog.at_level(logging.ERROR, logger="mailkeys.policy"):
            for _ in range(100):
                if caplog.records:
                    break
                await asyncio.sleep(0.01)
    finally:
        await reloader.stop()

    assert policy.current().version == 1
    assert "could not reload" in caplog.records[0].getMessage()


def test_install_newer_never_goes_back() -> None:
    newer = build_snapshot(MODEL, READONLY_CREATES, 5)
    older = build_snapshot(MODEL, SHIPPED, 4)

    assert policy.install_newer(newer) is True
    assert policy.install_newer(older) is False
    assert policy.current().version == 5


def readonly_key() -> policy.Actor:
    return policy.Actor(
        kind=policy.CredentialKind.INFRASTRUCTURE,
        credential_id="key_1",
        team_id="team_A",
        preset="root:readonly",
    )
