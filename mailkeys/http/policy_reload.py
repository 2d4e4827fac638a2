"""Keeping every worker's installed policy at the live version, in a background task.

When to look is a `PolicyWatcher`'s business: polling the version number (one primary-key
lookup) is the default, and SQLite's only option; a PostgreSQL LISTEN/NOTIFY or Redis
watcher would only have to return from `changed()` sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from mailkeys.policy import current
from mailkeys.resolvers.policy_versions import reload_if_changed

log = logging.getLogger("mailkeys.policy")


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
    """Reloads the policy whenever its watcher says so, until stopped."""

    def __init__(self, model_text: str, watcher: PolicyWatcher) -> None:
        self._model_text = model_text
        self._watcher = watcher
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Reload whenever the watcher says so; a failed reload keeps the installed policy."""
        while True:
            await self._watcher.changed()
            try:
                await reload_if_changed(self._model_text)
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
