"""The live policy in the database: seeding version 1, storing versions, reloading workers.

Every change is a new numbered row of `policy_version`; the highest number is live. Each
worker polls that number (one primary-key lookup) and, when it moved, loads the new
snapshot in a thread and swaps it whole, so a decision never sees a half-loaded policy. The
worker that stores a version installs it before it answers. When to look is a
`PolicyWatcher`'s business: polling is the default (and SQLite's only option); a PostgreSQL
LISTEN/NOTIFY or Redis watcher only has to return from `changed()` sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from tortoise.exceptions import IntegrityError, OperationalError

from mailkeys import clock
from mailkeys.errors import PolicyConfigurationError, PolicyVersionConflictError
from mailkeys.models import PolicyChangeSource, PolicyVersion
from mailkeys.policy.compile import (
    build_snapshot,
    decisions_fingerprint,
    decisions_of,
    snapshot_from_decisions,
)
from mailkeys.policy.decide import current, install_newer
from mailkeys.policy.files import read_text, shipped_model_text, shipped_policy_text
from mailkeys.policy.rules import diff_rules, normalize_rules_text
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.settings import Settings

log = logging.getLogger("mailkeys.policy")

SEED_AUTHOR = "seed"


def model_text_for(settings: Settings) -> str:
    """The Casbin model this process uses (`MAILKEYS_POLICY_MODEL`, else the shipped one)."""
    return read_text(settings.policy_model_path, shipped_model_text())


def seed_text_for(settings: Settings) -> str:
    """The rules that become version 1 (`MAILKEYS_POLICY_FILE`, else the shipped ones)."""
    return read_text(settings.policy_path, shipped_policy_text())


async def live_version() -> int | None:
    """The live version number: the largest primary key, one index lookup."""
    row = await PolicyVersion.all().order_by("-version").only("version").first()
    return row.version if row is not None else None


async def get_version(version: int) -> PolicyVersion | None:
    """One stored version."""
    return await PolicyVersion.filter(version=version).first()


async def live_row() -> PolicyVersion:
    """The live version's row; its absence is a configuration fault (seed first)."""
    row = await PolicyVersion.all().order_by("-version").first()
    if row is None:
        raise PolicyConfigurationError("no policy version is stored yet")
    return row


async def seed(model_text: str, rules_text: str) -> bool:
    """Store the rules as version 1 unless a version exists; True if this call stored it.

    Safe when several workers start at once: version numbers are the primary key, so all but
    one insert fail, and those workers simply load what the winner stored.
    """
    if await PolicyVersion.exists():
        return False
    rules_text = normalize_rules_text(rules_text)
    snapshot = await asyncio.to_thread(build_snapshot, model_text, rules_text, 1)
    try:
        await PolicyVersion.create(
            version=1,
            rules=rules_text,
            created_at=clock.now(),
            author=SEED_AUTHOR,
            message="Initial policy from the policy file",
            source=PolicyChangeSource.SEED,
            added=snapshot.rules,
            removed=[],
            decisions=decisions_of(snapshot),
            decisions_fingerprint=decisions_fingerprint(model_text),
        )
    except (IntegrityError, OperationalError):
        if await PolicyVersion.filter(version=1).exists():
            return False  # another worker seeded first
        raise
    log.info("policy: seeded version 1")
    return True


async def load_version(model_text: str, row: PolicyVersion) -> PolicySnapshot:
    """A stored version as a snapshot, built in a thread (CPU work)."""
    return await asyncio.to_thread(
        snapshot_from_decisions,
        model_text,
        row.rules,
        row.version,
        row.decisions,
        row.decisions_fingerprint,
    )


async def load_live(model_text: str) -> PolicySnapshot:
    """The live version as a snapshot."""
    return await load_version(model_text, await live_row())


async def insert_version(
    *,
    expected_version: int,
    snapshot: PolicySnapshot,
    rules_text: str,
    model_text: str,
    author: str,
    message: str,
    source: PolicyChangeSource,
    forced: bool = False,
) -> PolicyVersion:
    """Store `snapshot` as the version after `expected_version`.

    Call inside a transaction (with the change's audit event) wrapped in
    `version_conflicts`, and build `snapshot` with version `expected_version + 1`.

    Raises:
        PolicyVersionConflictError: the live version is not `expected_version`.
    """
    live = await live_version()
    if live != expected_version:
        raise PolicyVersionConflictError(expected_version, live)
    if snapshot.version != expected_version + 1:
        raise ValueError("the snapshot must carry the new version number")
    previous = await PolicyVersion.get(version=live)
    added, removed = diff_rules(previous.rules, rules_text)
    return await PolicyVersion.create(
        version=snapshot.version,
        rules=normalize_rules_text(rules_text),
        created_at=clock.now(),
        author=author,
        message=message,
        source=source,
        base_version=expected_version,
        forced=forced,
        added=added,
        removed=removed,
        decisions=decisions_of(snapshot),
        decisions_fingerprint=decisions_fingerprint(model_text),
    )


@asynccontextmanager
async def version_conflicts(expected_version: int) -> AsyncIterator[None]:
    """Turn a lost race for the next version number into PolicyVersionConflictError.

    PostgreSQL reports the loser as a duplicate key; SQLite may refuse its write with
    "database is locked" when another process committed meanwhile.
    """
    try:
        yield
    except IntegrityError as exc:
        raise PolicyVersionConflictError(expected_version, await live_version()) from exc
    except OperationalError as exc:
        live = await live_version()
        if live != expected_version:
            raise PolicyVersionConflictError(expected_version, live) from exc
        raise


class PolicyWatcher(Protocol):
    """Says when the live policy may have changed."""

    async def changed(self) -> None:
        """Return when the live version may differ from the installed one."""


class PollingWatcher:
    """Looks every `interval` seconds: the fallback everywhere, the mechanism on SQLite."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def changed(self) -> None:
        await asyncio.sleep(self.interval)


class PolicyReloader:
    """Keeps this worker's installed policy at the live version, in a background task."""

    def __init__(self, model_text: str, watcher: PolicyWatcher) -> None:
        self._model_text = model_text
        self._watcher = watcher
        self._task: asyncio.Task[None] | None = None

    async def reload_if_changed(self) -> bool:
        """Install the live version if it is newer than the installed one."""
        live = await live_version()
        if live is None or live <= current().version:
            return False
        row = await get_version(live)
        if row is None:
            return False
        snapshot = await load_version(self._model_text, row)
        installed = install_newer(snapshot)
        if installed:
            log.info("policy: now using version %d", snapshot.version)
        return installed

    async def run(self) -> None:
        """Reload whenever the watcher says so; a failed reload keeps the installed policy."""
        while True:
            await self._watcher.changed()
            try:
                await self.reload_if_changed()
            except Exception:
                log.exception("policy: could not reload; still using version %d", current().version)

    def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self.run(), name="policy-reloader")

    async def stop(self) -> None:
        """Cancel the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
