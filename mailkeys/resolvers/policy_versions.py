"""The stored policy versions: seeding version 1, loading the live one, reading versions.

Every change is a new numbered version (see `policy_changes.py`); the highest is live. A
process installs the live version at start (`install_live_policy`) and follows changes with
`reload_if_changed`, which the server's background reloader calls.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from mailkeys import clock
from mailkeys.errors import NotFoundError
from mailkeys.models import PolicyChangeSource, PolicyVersion
from mailkeys.models import policy as stored
from mailkeys.pages import Page
from mailkeys.policy import Actor, PolicySnapshot, authorize, current, install, install_newer
from mailkeys.policy.compile import (
    build_snapshot,
    decisions_fingerprint,
    decisions_of,
    snapshot_from_decisions,
)
from mailkeys.policy.files import read_text, shipped_model_text, shipped_policy_text
from mailkeys.policy.rules import normalize_rules_text
from mailkeys.settings import Settings

log = logging.getLogger("mailkeys.policy")

READ = "platform.policy.read"
SEED_AUTHOR = "seed"


@dataclass(frozen=True)
class LivePolicy:
    """The live version, and the version this worker decides with right now."""

    version: PolicyVersion
    loaded_version: int


def model_text_for(settings: Settings) -> str:
    """The Casbin model this process uses (`MAILKEYS_POLICY_MODEL`, else the shipped one)."""
    return read_text(settings.policy_model_path, shipped_model_text())


def seed_text_for(settings: Settings) -> str:
    """The rules that become version 1 (`MAILKEYS_POLICY_FILE`, else the shipped ones)."""
    return read_text(settings.policy_path, shipped_policy_text())


async def seed_policy(model_text: str, rules_text: str) -> bool:
    """Store the rules as version 1 unless a version exists; True if this call stored it."""
    rules_text = normalize_rules_text(rules_text)
    snapshot = await asyncio.to_thread(build_snapshot, model_text, rules_text, 1)
    stored_now = await stored.store_first_version(
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
    if stored_now:
        log.info("policy: seeded version 1")
    return stored_now


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


async def install_live_policy(settings: Settings) -> PolicySnapshot:
    """Seed version 1 from the policy file on first start, then install the live version."""
    model_text = model_text_for(settings)
    await seed_policy(model_text, seed_text_for(settings))
    snapshot = await load_version(model_text, await stored.live_row())
    install(snapshot)
    return snapshot


async def reload_if_changed(model_text: str) -> bool:
    """Install the live version if it is newer than the installed one."""
    live = await stored.live_version()
    if live is None or live <= current().version:
        return False
    row = await stored.get_version(live)
    if row is None:
        return False
    installed = install_newer(await load_version(model_text, row))
    if installed:
        log.info("policy: now using version %d", live)
    return installed


async def read_policy(actor: Actor) -> LivePolicy:
    """The live policy; needs `platform.policy.read`."""
    authorize(actor, READ)
    return LivePolicy(version=await stored.live_row(), loaded_version=current().version)


async def get_version(actor: Actor, version: int) -> PolicyVersion:
    """One stored version."""
    authorize(actor, READ)
    row = await stored.get_version(version)
    if row is None:
        raise NotFoundError("PolicyVersion")
    return row


async def list_versions(actor: Actor, first: int | None, after: str | None) -> Page[PolicyVersion]:
    """Every stored version, newest first."""
    authorize(actor, READ)
    return await stored.version_page(first, after)
