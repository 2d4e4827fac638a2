"""`last used` of credentials, recorded at about a minute's precision in batched writes."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailkeys import clock
from mailkeys.models import ApiKey, MailboxPassword


class LastUsedRecorder:
    """Collects `last_used_at` updates of one kind of credential, written in one statement.

    A credential is queued at most once per precision window, judged by the value its row
    already holds, so the database sees about one write per credential per minute whatever
    the traffic.
    """

    def __init__(self, model: type[ApiKey] | type[MailboxPassword], precision_seconds: int) -> None:
        self._model = model
        self._precision = timedelta(seconds=precision_seconds)
        self._pending: set[str] = set()

    def touch(self, credential_id: str, stored: datetime | None, now: datetime) -> None:
        """Note a successful authentication of `credential_id` at `now`."""
        if stored is None or now - stored >= self._precision:
            self._pending.add(credential_id)

    async def flush(self) -> int:
        """Write the queued updates; returns how many credentials were updated."""
        if not self._pending:
            return 0
        ids, self._pending = self._pending, set()
        await self._model.filter(id__in=list(ids)).update(last_used_at=clock.now())
        return len(ids)
