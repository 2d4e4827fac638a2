"""Changing the live policy: apply a plan (or rules), import a file, roll back.

Applying stores the next version only if the live version is still the expected one
(CONFLICT otherwise), refuses a change that breaks the guard decision table unless forced,
records its audit event in the same transaction, and installs the new policy in this worker
before returning; the others follow within `MAILKEYS_POLICY_POLL_MS` plus a parse.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys import clock
from mailkeys.errors import (
    DecisionTableBrokenError,
    InvalidInputError,
    NotFoundError,
    PolicyVersionConflictError,
)
from mailkeys.models import PolicyChangeSource, PolicyVersion
from mailkeys.models import policy as stored
from mailkeys.policy import Actor, PolicySnapshot, install_newer
from mailkeys.policy.compile import decisions_fingerprint, decisions_of
from mailkeys.policy.rules import diff_rules, normalize_rules_text
from mailkeys.policy.tables import TableRun
from mailkeys.resolvers.changes import Action, Attempt, change
from mailkeys.resolvers.policy_plans import (
    checked_rules_text,
    plan_row,
    plan_snapshot,
    run_tables,
    valid_snapshot,
)
from mailkeys.resolvers.policy_versions import model_text_for
from mailkeys.settings import Settings

MAX_MESSAGE = 500
APPLY = Action("policy.apply", "platform.policy.update", "policy")
IMPORT = Action("policy.import", "platform.policy.update", "policy")
ROLLBACK = Action("policy.rollback", "platform.policy.update", "policy")


@dataclass(frozen=True)
class AppliedPolicy:
    """A stored version and the guard table's results against it."""

    version: PolicyVersion
    guard_run: TableRun


def _clean_message(message: str | None, default: str | None = None) -> str:
    text = (message or "").strip() or (default or "")
    if not text:
        raise InvalidInputError("message", "Say why: a policy change needs a message.")
    if len(text) > MAX_MESSAGE or not text.isprintable():
        raise InvalidInputError(
            "message", f"message must be printable and at most {MAX_MESSAGE} characters."
        )
    return text


async def _expect_live(expected: int | None) -> int:
    """The expected version, if it is (still) the live one; the live one if none is given."""
    live = await stored.live_version()
    expected = live if expected is None else expected
    if expected is None or live != expected:
        raise PolicyVersionConflictError(expected or 0, live)
    return expected


@dataclass(frozen=True)
class _Proposal:
    source: PolicyChangeSource
    rules_text: str
    snapshot: PolicySnapshot | None
    expected_version: int
    message: str
    force: bool


async def _store(
    attempt: Attempt, settings: Settings, proposal: _Proposal, details: dict[str, object]
) -> AppliedPolicy:
    """Check, store as the next version with its audit event, and install in this worker."""
    expected = proposal.expected_version
    snapshot = proposal.snapshot or await valid_snapshot(
        settings, proposal.rules_text, expected + 1
    )
    [guard_run], _ = run_tables(settings, snapshot)
    mismatches = [result.describe() for result in guard_run.mismatches]
    if mismatches and not proposal.force:
        raise DecisionTableBrokenError(mismatches)
    rules_text = normalize_rules_text(proposal.rules_text)
    async with stored.version_conflicts(expected), attempt.transaction():
        previous = await stored.get_version(expected)
        added, removed = diff_rules(previous.rules if previous else "", rules_text)
        row = await stored.store_next_version(
            expected,
            rules=rules_text,
            created_at=clock.now(),
            author=attempt.actor.label,
            message=proposal.message,
            source=proposal.source,
            forced=bool(mismatches),
            added=added,
            removed=removed,
            decisions=decisions_of(snapshot),
            decisions_fingerprint=decisions_fingerprint(model_text_for(settings)),
        )
        await attempt.succeeded(
            str(row.version),
            {
                **details,
                "version": row.version,
                "base_version": expected,
                "message": proposal.message,
                "added": row.added,
                "removed": row.removed,
                "forced": bool(mismatches),
                "table_mismatches": len(mismatches),
            },
        )
    install_newer(snapshot)
    return AppliedPolicy(version=row, guard_run=guard_run)


async def apply_policy(
    actor: Actor,
    settings: Settings,
    *,
    message: str | None,
    plan_id: str | None = None,
    rules: str | None = None,
    expected_version: int | None = None,
    force: bool = False,
) -> AppliedPolicy:
    """Make a plan (or rules) the live policy; needs `platform.policy.update`.

    Raises:
        PolicyVersionConflictError: the live version is not the expected (or planned) one.
        DecisionTableBrokenError: the guard table breaks and `force` is false.
        PolicyRulesError: the rules do not fit, naming each line.
    """
    async with change(actor, APPLY) as attempt:
        if (plan_id is None) == (rules is None):
            raise InvalidInputError("planId", "Give either planId or rules.")
        text = _clean_message(message)
        snapshot: PolicySnapshot | None = None
        if plan_id is not None:
            plan = await plan_row(plan_id)
            if expected_version is not None and expected_version != plan.base_version:
                raise InvalidInputError(
                    "expectedVersion", f"The plan was made against version {plan.base_version}."
                )
            expected = plan.base_version
            snapshot = await plan_snapshot(settings, plan, expected + 1)
            rules_text = plan.rules
        else:
            if expected_version is None:
                raise InvalidInputError("expectedVersion", "Say which version you changed.")
            expected = expected_version
            rules_text = checked_rules_text("rules", rules or "")
        await _expect_live(expected)
        proposal = _Proposal(PolicyChangeSource.APPLY, rules_text, snapshot, expected, text, force)
        return await _store(attempt, settings, proposal, {"plan_id": plan_id})


async def import_policy(
    actor: Actor,
    settings: Settings,
    *,
    rules: str,
    source_name: str,
    message: str | None = None,
    expected_version: int | None = None,
    force: bool = False,
) -> AppliedPolicy:
    """Propose a rules file as the next version, with the same checks as `apply_policy`."""
    async with change(actor, IMPORT) as attempt:
        text = _clean_message(message, default=f"Imported from {source_name}")
        rules_text = checked_rules_text("rules", rules)
        expected = await _expect_live(expected_version)
        proposal = _Proposal(PolicyChangeSource.IMPORT, rules_text, None, expected, text, force)
        return await _store(attempt, settings, proposal, {"file": source_name})


async def rollback_policy(
    actor: Actor,
    settings: Settings,
    *,
    version: int,
    expected_version: int | None = None,
    message: str | None = None,
    force: bool = False,
) -> AppliedPolicy:
    """Store a new version whose rules are those of `version`; needs `platform.policy.update`.

    The old rules are checked again (the vocabulary may have moved on since) and must not
    break the guard table unless forced, as any change.
    """
    async with change(actor, ROLLBACK, str(version)) as attempt:
        old = await stored.get_version(version)
        if old is None:
            raise NotFoundError("PolicyVersion")
        text = _clean_message(message, default=f"Roll back to version {version}")
        expected = await _expect_live(expected_version)
        proposal = _Proposal(PolicyChangeSource.ROLLBACK, old.rules, None, expected, text, force)
        return await _store(attempt, settings, proposal, {"rolled_back_to": version})
