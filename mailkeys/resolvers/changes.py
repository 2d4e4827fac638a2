"""One skeleton for every change: authorize, load through the door, write, and audit.

An `Action` names an operation once: the name its audit events carry, the permission it
needs, and the kind of its target. `change()` runs a use case as one audited attempt:

    async with change(actor, WEBHOOK_DELETE, webhook_id) as attempt:
        async with attempt.transaction():
            webhook = await attempt.load(Webhook, webhook_id)
            await webhook.delete()
            await attempt.succeeded(webhook.id)

A success is recorded by the use case inside its transaction, so the event and the change
land together or not at all; a refused attempt (any domain error) is recorded after the
transaction rolled back, with the reason as its outcome.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import MailkeysError
from mailkeys.models import AuditEvent, LimitedResource
from mailkeys.models.limits import check_limit, lock_team
from mailkeys.policy import Actor, authorize_any, depends_on_row, load_for, resource_of
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import audit_log
from mailkeys.tokens import new_id
from mailkeys.validation import is_resource_id

RowT = TypeVar("RowT", bound=Model)
REFUSALS_RECORDED_PER_MINUTE = 20
log = logging.getLogger("mailkeys.audit")


@dataclass(frozen=True)
class Action:
    """An audited operation: its name in the audit trail, its permission, its target's kind.

    `permission` may be several permissions, broadest first, any of which allows the
    operation (`("mailbox.admin.manage", "mailbox.settings.update")`).
    """

    name: str
    permission: str | tuple[str, ...]
    target: str

    @property
    def permissions(self) -> tuple[str, ...]:
        """The permission(s), as a tuple."""
        return (self.permission,) if isinstance(self.permission, str) else self.permission


async def record_event(
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | None,
    team_id: str | None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Store one audit event and log it (`mailkeys.audit`); never a secret in `details`.

    `actor_label` replaces the actor's label where naming the actor would tell one team
    about another (the platform acting on a team's rows because another team proved a domain).
    """
    event = await AuditEvent.create(
        id=new_id("evt"),
        team_id=team_id,
        created_at=clock.now(),
        actor=actor_label or actor.label,
        actor_email=actor.email,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        details=details or {},
    )
    audit_log.info(
        "audit",
        extra={
            "event_id": event.id,
            "actor": event.actor,
            "actor_email": event.actor_email,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "team_id": team_id,
            "outcome": outcome,
            # Not the details: they can hold what a client typed (a name, a message), and
            # input values never reach the logs. The audit trail in the database has them.
        },
    )
    return event


def outcome_of(error: MailkeysError) -> str:
    """`LimitExceededError` -> `limit_exceeded`."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@asynccontextmanager
async def locked_team(team_id: str, room_for: LimitedResource | None = None) -> AsyncIterator[None]:
    """A transaction that holds the team's lock (serialising limit checks), and has checked
    that one more `room_for` fits when given."""
    async with in_transaction():
        await lock_team(team_id)
        if room_for is not None:
            await check_limit(team_id, room_for, clock.now())
        yield


@dataclass
class _Window:
    minute: int
    team_id: str | None
    recorded: int = 0
    suppressed: int = 0

    @property
    def minute_start(self) -> str:
        return datetime.fromtimestamp(self.minute * 60, UTC).isoformat()


class RefusalWindows:
    """How many refused attempts each principal had recorded this minute, in this process.

    A refused attempt names a target the client chose, so without a bound anyone could fill
    the audit trail with rows. Each principal gets `REFUSALS_RECORDED_PER_MINUTE` rows a
    minute (per worker); further refusals are counted, and the count is recorded as one
    `audit.refusals_suppressed` event when that principal is next refused in a later minute
    (and counted in the metrics at once).
    """

    _PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def admit(self, label: str, team_id: str | None) -> tuple[bool, _Window | None]:
        """Whether to record this refusal, and a finished window whose count to record."""
        minute = int(clock.time() // 60)
        window = self._windows.get(label)
        finished = None
        if window is None or window.minute != minute:
            if window is not None and window.suppressed:
                finished = window
            if len(self._windows) >= self._PRUNE_AT:
                self._windows = {k: w for k, w in self._windows.items() if w.minute == minute}
            window = self._windows[label] = _Window(minute, team_id)
        if window.recorded < REFUSALS_RECORDED_PER_MINUTE:
            window.recorded += 1
            return True, finished
        if not window.suppressed:
            log.warning(
                "further refusals this minute are counted, not recorded one by one",
                extra={"actor": label},
            )
        window.suppressed += 1
        return False, finished


_refusal_windows = RefusalWindows()


class Attempt:
    """One run of an action by an actor: what the use case inside `change()` works with."""

    def __init__(self, actor: Actor, action: Action, target_id: str | None) -> None:
        self.actor = actor
        self.action = action
        # A client-sent id is recorded only if it could be one of ours (never a pasted token).
        self.target_id = target_id if target_id and is_resource_id(target_id) else None
        # The team the change happens in: the actor's, or (operator) the target's once known.
        self.team_id = actor.team_id

    @property
    def team(self) -> str:
        """The actor's team; a principal acting in none may not run a team's action."""
        return self.actor.own_team(self.action.permissions[-1])

    async def load(self, model: type[RowT], row_id: str, related: Sequence[str] = ()) -> RowT:
        """The target row through the door: visible to the actor and allowed for the action."""
        row = await load_for(self.actor, self.action.permissions, model, row_id, related)
        self.team_id = resource_of(row).team_id
        return row

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """A transaction for the change and its audit event."""
        return in_transaction()

    def locked(self) -> AbstractAsyncContextManager[None]:
        """A transaction holding the lock of the team the change happens in."""
        return locked_team(self.team_id or self.team)

    def limited(self, resource: LimitedResource) -> AbstractAsyncContextManager[None]:
        """A transaction in which the team has room for one more `resource`."""
        return locked_team(self.team_id or self.team, resource)

    async def succeeded(
        self, target_id: str | None = None, details: dict[str, Any] | None = None
    ) -> AuditEvent:
        """Record the change; call inside its transaction."""
        return await record_event(
            self.actor,
            self.action.name,
            self.action.target,
            target_id or self.target_id,
            self.team_id,
            details=details,
        )


@asynccontextmanager
async def change(
    actor: Actor, action: Action, target_id: str | None = None
) -> AsyncIterator[Attempt]:
    """Run `action` as one audited attempt (see the module docstring).

    A permission that does not depend on the target row is decided before anything runs;
    one that does (mailbox permissions) is decided by `Attempt.load`, through the door.
    """
    attempt = Attempt(actor, action, target_id)
    try:
        if not depends_on_row(action.permissions):
            authorize_any(actor, action.permissions)
        yield attempt
    except MailkeysError as error:
        await _record_refusal(attempt, outcome_of(error))
        raise


async def _record_refusal(attempt: Attempt, outcome: str) -> None:
    """Audit a refused attempt, within the per-credential bound (see `RefusalWindows`)."""
    admitted, summary = _refusal_windows.admit(attempt.actor.label, attempt.team_id)
    if summary is not None:
        await record_event(
            attempt.actor,
            "audit.refusals_suppressed",
            "audit",
            None,
            summary.team_id,
            details={"suppressed": summary.suppressed, "minute": summary.minute_start},
        )
    if admitted:
        action = attempt.action
        await record_event(
            attempt.actor, action.name, action.target, attempt.target_id, attempt.team_id, outcome
        )
    else:
        metrics.AUDIT_REFUSALS_SUPPRESSED.inc()
