"""Queued messages, written in groups: one transaction and one commit for every send waiting.

A send is answered only once its message is committed. Committing each send alone costs a
disk flush per message on SQLite and a round trip per statement on PostgreSQL, and the
single writer of SQLite makes sends wait in line for those flushes. So sends that arrive
while a commit is in flight wait together and go in the next one (group commit); each is
answered when that commit has returned, with its own outcome.

The provider each message goes through is chosen inside that transaction, among its
eligible providers still active then (read `FOR UPDATE` on PostgreSQL, so that every worker
sees the choices of the others): the least recently selected goes next, never-used first,
ties by id. Selections in one process are stamped strictly in order (a microsecond apart at
the least), so the rotation holds within a group as well as across groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import NoProviderAvailableError
from mailkeys.models.hot_reads import stored_time
from mailkeys.models.resources import Message
from mailkeys.models.routing import Provider
from mailkeys.outages import is_unavailable
from mailkeys.tokens import new_id

MAX_GROUP = 64
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message accepted for sending, and the providers it may go through."""

    team_id: str
    mailbox_id: str
    credential: str
    sender: str
    recipients: list[str]
    subject: str
    text: str
    html: str
    eligible: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Queued:
    """A message committed to the queue."""

    id: str
    provider_id: str
    mailbox_id: str
    status: str
    created_at: datetime


@dataclass
class _Provider:
    team_id: str
    last_selected_at: datetime | None


class Outbox:
    """The process's writer of queued messages (one per process, shared by every request)."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Outgoing, asyncio.Future[Queued]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._last_selection = datetime.min.replace(tzinfo=UTC)

    async def put(self, message: Outgoing) -> Queued:
        """Queue `message`; returns once it is committed.

        Raises:
            NoProviderAvailableError: none of its eligible providers is active any more.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Queued] = loop.create_future()
        self._waiting.append((message, answer))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_while_waiting())
        return await answer

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            try:
                await self._write(group)
            except BaseException as error:  # never leave a sender waiting for an answer
                _answer_all(group, error)
                if not isinstance(error, Exception):
                    _answer_all(self._waiting, error)
                    self._waiting = []
                    raise

    async def _write(self, group: list[tuple[Outgoing, asyncio.Future[Queued]]]) -> None:
        try:
            outcomes = await self._commit([message for message, _ in group])
        except Exception as error:
            if len(group) == 1 or is_unavailable(error):
                _answer_all(group, error)
                return
            # Something in the group was refused (its mailbox deleted meanwhile, say): each
            # goes again alone, so that only its own sender hears of it.
            for item in group:
                await self._write([item])
            return
        for (_, answer), outcome in zip(group, outcomes, strict=True):
            if answer.done():  # its sender left; the message stays queued
                continue
            if isinstance(outcome, Exception):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)

    async def _commit(self, messages: Sequence[Outgoing]) -> list[Queued | Exception]:
        now = clock.now()
        eligible = sorted({provider for message in messages for provider in message.eligible})
        async with in_transaction() as connection:
            providers = await _lock_active(connection, eligible)
            choices = [self._choose(message, providers, now) for message in messages]
            chosen = {provider: providers[provider] for provider in choices if provider}
            for provider_id, provider in chosen.items():
                await (
                    Provider.filter(id=provider_id)
                    .using_db(connection)
                    .update(last_selected_at=provider.last_selected_at)
                )
            rows = [
                Message(
                    id=new_id("msg"),
                    team_id=message.team_id,
                    mailbox_id=message.mailbox_id,
                    provider_id=provider_id,
                    credential_id=message.credential,
                    sender=message.sender,
                    recipients=message.recipients,
                    subject=message.subject,
                    text=message.text,
                    html=message.html,
                    created_at=now,
                )
                for message, provider_id in zip(messages, choices, strict=True)
                if provider_id is not None
            ]
            if rows:
                await Message.bulk_create(rows, using_db=connection)
        written = iter(rows)
        outcomes: list[Queued | Exception] = []
        for choice in choices:
            if choice is None:
                outcomes.append(NoProviderAvailableError())
                continue
            row = next(written)
            outcomes.append(Queued(row.id, choice, str(row.mailbox_id), "queued", now))
        return outcomes

    def _choose(
        self, message: Outgoing, providers: dict[str, _Provider], now: datetime
    ) -> str | None:
        """The least recently selected of the message's providers still active; stamped."""
        live = [
            provider_id
            for provider_id in message.eligible
            if (provider := providers.get(provider_id)) and provider.team_id == message.team_id
        ]
        if not live:
            return None
        chosen = min(live, key=lambda p: _rotation_order(p, providers[p]))
        self._last_selection = max(now, self._last_selection + _TICK)
        providers[chosen].last_selected_at = self._last_selection
        return chosen


def _rotation_order(provider_id: str, provider: _Provider) -> tuple[bool, datetime, str]:
    selected = provider.last_selected_at
    # Never used first; SQLite and PostgreSQL disagree on where NULLs sort, so not in SQL.
    return selected is not None, selected or datetime.min.replace(tzinfo=UTC), provider_id


async def _lock_active(connection: Any, provider_ids: list[str]) -> dict[str, _Provider]:
    """The active ones of `provider_ids`, locked for this transaction where the engine can."""
    if not provider_ids:
        return {}
    postgres = Tortoise.get_connection("default").capabilities.dialect == "postgres"
    marks = ", ".join(f"${n}" if postgres else "?" for n in range(1, len(provider_ids) + 1))
    # Only placeholders are formatted in; the ids travel as parameters.
    sql = (
        f"SELECT id, team_id, last_selected_at FROM provider WHERE active AND id IN ({marks})"  # noqa: S608
        " ORDER BY id" + (" FOR UPDATE" if postgres else "")
    )
    rows = await connection.execute_query_dict(sql, provider_ids)
    return {
        str(row["id"]): _Provider(str(row["team_id"]), stored_time(row["last_selected_at"]))
        for row in rows
    }


def _answer_all(group: list[tuple[Outgoing, asyncio.Future[Queued]]], error: BaseException) -> None:
    for _, answer in group:
        if answer.done():
            continue
        if isinstance(error, asyncio.CancelledError):
            answer.cancel()
        else:
            answer.set_exception(error)
