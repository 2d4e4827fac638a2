"""Policy authoring: read, plan, apply and roll back versions of the Casbin rules (SPEC §7).

A plan checks proposed rules without changing anything: every problem with its line, the
decision tables' results, and which stored credentials would gain or lose what. A valid
plan is stored, so any worker can apply it. Applying stores the next version only if the
live version is still the expected one (CONFLICT otherwise), refuses a change that breaks
the shipped decision table unless forced, records an audit event in the same transaction,
and installs the new policy in this worker before returning; the others follow within
`MAILKEYS_POLICY_POLL_MS` plus a parse.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import (
    DecisionTableBrokenError,
    InvalidInputError,
    NotFoundError,
    PolicyRulesError,
    PolicyVersionConflictError,
)
from mailkeys.models import PolicyChangeSource, PolicyPlan, PolicyVersion
from mailkeys.models.pagination import page_size
from mailkeys.policy import Actor, PolicySnapshot, authorize, current, install_newer
from mailkeys.policy import store as policy_store
from mailkeys.policy.compile import (
    compile_policy,
    decisions_fingerprint,
    decisions_of,
    snapshot_from_decisions,
)
from mailkeys.policy.files import SHIPPED_TABLE_NAME, shipped_table_text
from mailkeys.policy.impact import Impact, compute_impact
from mailkeys.policy.rules import canonical_line, diff_rules, normalize_rules_text
from mailkeys.policy.tables import (
    DecisionTable,
    TableRun,
    parse_table,
    run_table,
)
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.settings import Settings
from mailkeys.tokens import new_id

READ = "platform.policy.read"
UPDATE = "platform.policy.update"
MAX_RULES_BYTES = 256 * 1024
MAX_MESSAGE = 500
PLAN_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class RuleChanges:
    """Rules to add to and remove from a base version, as Casbin CSV lines."""

    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuleProblem:
    """One line of proposed rules that does not fit, and why."""

    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class Plan:
    """A checked proposal; `id` is set (and the plan stored) only when the rules are valid."""

    id: str | None
    base_version: int
    rules_text: str
    problems: list[RuleProblem]
    added: list[str]
    removed: list[str]
    tables: list[TableRun]
    guard_table: str
    impact: Impact | None

    @property
    def valid(self) -> bool:
        """True if the rules fit the model and vocabulary."""
        return not self.problems

    @property
    def breaks_guard_table(self) -> bool:
        """True if applying it needs `force`."""
        return any(run.name == self.guard_table and run.mismatches for run in self.tables)


@dataclass(frozen=True)
class AppliedPolicy:
    """A stored version and the guard table's results against it."""

    version: PolicyVersion
    guard_run: TableRun


@dataclass(frozen=True)
class LivePolicy:
    """The live version, and the version this worker decides with right now."""

    version: PolicyVersion
    loaded_version: int


@dataclass(frozen=True)
class VersionPage:
    """A page of versions, newest first."""

    rows: list[PolicyVersion]
    cursors: list[str]
    has_next_page: bool
    total_count: int


def guard_table(settings: Settings) -> DecisionTable:
    """The table a change must not break without force (`MAILKEYS_POLICY_TABLE`)."""
    if settings.policy_table_path is None:
        return parse_table(shipped_table_text(), SHIPPED_TABLE_NAME)
    return parse_table(settings.policy_table_path.read_text(), str(settings.policy_table_path))


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


async def read_policy(actor: Actor) -> LivePolicy:
    """The live policy; needs `platform.policy.read`."""
    authorize(actor, READ)
    return LivePolicy(version=await policy_store.live_row(), loaded_version=current().version)


async def get_version(actor: Actor, version: int) -> PolicyVersion:
    """One stored version."""
    authorize(actor, READ)
    row = await policy_store.get_version(version)
    if row is None:
        raise NotFoundError("PolicyVersion")
    return row


def _version_cursor(version: int) -> str:
    return base64.urlsafe_b64encode(f"v:{version}".encode()).decode()


def _after_version(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "v":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error) as exc:
        raise InvalidInputError("after", "Invalid cursor.") from exc


async def list_versions(actor: Actor, first: int | None, after: str | None) -> VersionPage:
    """Every stored version, newest first."""
    authorize(actor, READ)
    size = page_size(first)
    total = await PolicyVersion.all().count()
    query = PolicyVersion.all()
    before = _after_version(after)
    if before is not None:
        query = query.filter(version__lt=before)
    rows = await query.order_by("-version").limit(size + 1)
    return VersionPage(
        rows=rows[:size],
        cursors=[_version_cursor(row.version) for row in rows[:size]],
        has_next_page=len(rows) > size,
        total_count=total,
    )


# ---------------------------------------------------------------------------------------------
# Checking proposed rules
# ---------------------------------------------------------------------------------------------


def _check_rules_size(field_name: str, text: str) -> str:
    if len(text.encode()) > MAX_RULES_BYTES:
        raise InvalidInputError(
            field_name, f"{field_name} must be at most {MAX_RULES_BYTES} bytes."
        )
    return normalize_rules_text(text)


def _clean_message(message: str | None, default: str | None = None) -> str:
    text = (message or "").strip() or (default or "")
    if not text:
        raise InvalidInputError("message", "Say why: a policy change needs a message.")
    if len(text) > MAX_MESSAGE or not text.isprintable():
        raise InvalidInputError(
            "message", f"message must be printable and at most {MAX_MESSAGE} characters."
        )
    return text


def apply_changes(base_text: str, changes: RuleChanges) -> str:
    """The base rules with `changes.remove` taken out and `changes.add` appended."""
    lines = base_text.splitlines()
    for index, removal in enumerate(changes.remove):
        wanted = canonical_line(removal)
        for number, raw in enumerate(lines):
            if raw.strip() and not raw.lstrip().startswith("#") and canonical_line(raw) == wanted:
                del lines[number]
                break
        else:
            raise InvalidInputError(
                f"changes.remove[{index}]", f"'{wanted}' is not a rule of the base version."
            )
    additions = [canonical_line(addition) for addition in changes.add if addition.strip()]
    return normalize_rules_text("\n".join([*lines, *additions]))


async def _compile(
    settings: Settings, rules_text: str, version: int
) -> tuple[PolicySnapshot | None, list[RuleProblem]]:
    """Check and build proposed rules in a thread; every problem names its line."""
    model_text = policy_store.model_text_for(settings)
    snapshot, errors = await asyncio.to_thread(compile_policy, model_text, rules_text, version)
    raw_lines = rules_text.splitlines()
    problems = [
        RuleProblem(error.line_number, error.reason, raw_lines[error.line_number - 1].strip())
        for error in errors
    ]
    return snapshot, problems


async def _valid_snapshot(settings: Settings, rules_text: str, version: int) -> PolicySnapshot:
    """The snapshot of rules that must be valid; PolicyRulesError names every bad line."""
    snapshot, problems = await _compile(settings, rules_text, version)
    if snapshot is None:
        raise PolicyRulesError("rules", [(p.line, f"{p.reason}: {p.text}") for p in problems])
    return snapshot


async def _snapshot_of(settings: Settings, row: PolicyVersion) -> PolicySnapshot:
    installed = current()
    if installed.version == row.version:
        return installed
    return await policy_store.load_version(policy_store.model_text_for(settings), row)


def _run_tables(
    settings: Settings, snapshot: PolicySnapshot, extra: DecisionTable | None
) -> tuple[list[TableRun], str]:
    guard = guard_table(settings)
    tables = [guard] if extra is None else [guard, extra]
    return [run_table(table, snapshot) for table in tables], guard.name


async def _base_row(base_version: int | None) -> PolicyVersion:
    if base_version is None:
        return await policy_store.live_row()
    row = await policy_store.get_version(base_version)
    if row is None:
        raise InvalidInputError("baseVersion", f"There is no policy version {base_version}.")
    return row


async def plan_policy(
    actor: Actor,
    settings: Settings,
    *,
    rules: str | None = None,
    changes: RuleChanges | None = None,
    base_version: int | None = None,
    decision_table: str | None = None,
) -> Plan:
    """Check proposed rules (whole, or as changes to a base version) without applying them.

    Invalid rules are reported in the plan, line by line, not raised: a plan is where
    authors find their mistakes. Needs `platform.policy.read`.
    """
    authorize(actor, READ)
    if (rules is None) == (changes is None):
        raise InvalidInputError("rules", "Give either rules or changes.")
    extra = None
    if decision_table is not None:
        extra = parse_table(_check_rules_size("decisionTable", decision_table), "decisionTable")
    base = await _base_row(base_version)
    if rules is not None:
        proposed_text = _check_rules_size("rules", rules)
    else:
        proposed_text = apply_changes(base.rules, changes or RuleChanges())
    snapshot, problems = await _compile(settings, proposed_text, base.version + 1)
    added, removed = diff_rules(base.rules, proposed_text)
    if snapshot is None:
        return Plan(None, base.version, proposed_text, problems, added, removed, [], "", None)
    tables, guard_name = _run_tables(settings, snapshot, extra)
    now = clock.now()
    impact = await compute_impact(await _snapshot_of(settings, base), snapshot, now)
    plan_id = new_id("plan")
    await PolicyPlan.filter(created_at__lt=now - PLAN_LIFETIME).delete()
    await PolicyPlan.create(
        id=plan_id,
        base_version=base.version,
        rules=proposed_text,
        created_at=now,
        author=actor.label,
        decisions=decisions_of(snapshot),
        decisions_fingerprint=decisions_fingerprint(policy_store.model_text_for(settings)),
    )
    return Plan(
        plan_id, base.version, proposed_text, [], added, removed, tables, guard_name, impact
    )


async def _plan_row(plan_id: str) -> PolicyPlan:
    row = await PolicyPlan.filter(id=plan_id).first()
    if row is None:
        raise NotFoundError("PolicyPlan")
    return row


async def _plan_snapshot(settings: Settings, row: PolicyPlan, version: int) -> PolicySnapshot:
    return await asyncio.to_thread(
        snapshot_from_decisions,
        policy_store.model_text_for(settings),
        row.rules,
        version,
        row.decisions,
        row.decisions_fingerprint,
    )


async def get_plan(actor: Actor, settings: Settings, plan_id: str) -> Plan:
    """A stored plan, with its tables and impact computed again against today's credentials."""
    authorize(actor, READ)
    row = await _plan_row(plan_id)
    base = await _base_row(row.base_version)
    snapshot = await _plan_snapshot(settings, row, row.base_version + 1)
    tables, guard_name = _run_tables(settings, snapshot, None)
    impact = await compute_impact(await _snapshot_of(settings, base), snapshot, clock.now())
    added, removed = diff_rules(base.rules, row.rules)
    return Plan(row.id, base.version, row.rules, [], added, removed, tables, guard_name, impact)


# ---------------------------------------------------------------------------------------------
# Changing the live policy
# ---------------------------------------------------------------------------------------------


async def _store(
    actor: Actor,
    settings: Settings,
    *,
    action: str,
    source: PolicyChangeSource,
    rules_text: str,
    snapshot: PolicySnapshot | None,
    expected_version: int,
    message: str,
    force: bool,
    details: dict[str, object],
) -> AppliedPolicy:
    """Check, store as the next version with its audit event, and install in this worker."""
    if snapshot is None:
        snapshot = await _valid_snapshot(settings, rules_text, expected_version + 1)
    [guard_run], _ = _run_tables(settings, snapshot, None)
    mismatches = [result.describe() for result in guard_run.mismatches]
    if mismatches and not force:
        raise DecisionTableBrokenError(mismatches)
    model_text = policy_store.model_text_for(settings)
    async with policy_store.version_conflicts(expected_version), in_transaction():
        row = await policy_store.insert_version(
            expected_version=expected_version,
            snapshot=snapshot,
            rules_text=rules_text,
            model_text=model_text,
            author=actor.label,
            message=message,
            source=source,
            forced=bool(mismatches),
        )
        await record_event(
            actor, action, "policy", str(row.version), None,
            details={
                **details,
                "version": row.version,
                "base_version": expected_version,
                "message": message,
                "added": row.added,
                "removed": row.removed,
                "forced": bool(mismatches),
                "table_mismatches": len(mismatches),
            },
        )  # fmt: skip
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
        DecisionTableBrokenError: the shipped table breaks and `force` is false.
        PolicyRulesError: the rules do not fit, naming each line.
    """
    async with audited(actor, "policy.apply", "policy", None, None):
        authorize(actor, UPDATE)
        if (plan_id is None) == (rules is None):
            raise InvalidInputError("planId", "Give either planId or rules.")
        text = _clean_message(message)
        if plan_id is not None:
            plan = await _plan_row(plan_id)
            if expected_version is not None and expected_version != plan.base_version:
                raise InvalidInputError(
                    "expectedVersion", f"The plan was made against version {plan.base_version}."
                )
            expected = plan.base_version
            snapshot: PolicySnapshot | None = await _plan_snapshot(settings, plan, expected + 1)
            rules_text = plan.rules
        else:
            if expected_version is None:
                raise InvalidInputError("expectedVersion", "Say which version you changed.")
            expected, snapshot = expected_version, None
            rules_text = _check_rules_size("rules", rules or "")
        live = await policy_store.live_version()
        if live != expected:
            raise PolicyVersionConflictError(expected, live)
        return await _store(
            actor, settings, action="policy.apply", source=PolicyChangeSource.APPLY,
            rules_text=rules_text, snapshot=snapshot, expected_version=expected,
            message=text, force=force, details={"plan_id": plan_id},
        )  # fmt: skip


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
    async with audited(actor, "policy.import", "policy", None, None):
        authorize(actor, UPDATE)
        text = _clean_message(message, default=f"Imported from {source_name}")
        rules_text = _check_rules_size("rules", rules)
        live = await policy_store.live_version()
        expected = live if expected_version is None else expected_version
        if expected is None or live != expected:
            raise PolicyVersionConflictError(expected or 0, live)
        return await _store(
            actor, settings, action="policy.import", source=PolicyChangeSource.IMPORT,
            rules_text=rules_text, snapshot=None, expected_version=expected,
            message=text, force=force, details={"file": source_name},
        )  # fmt: skip


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
    break the shipped table unless forced, as any change.
    """
    async with audited(actor, "policy.rollback", "policy", str(version), None):
        authorize(actor, UPDATE)
        old = await policy_store.get_version(version)
        if old is None:
            raise NotFoundError("PolicyVersion")
        text = _clean_message(message, default=f"Roll back to version {version}")
        live = await policy_store.live_version()
        expected = live if expected_version is None else expected_version
        if expected is None or live != expected:
            raise PolicyVersionConflictError(expected or 0, live)
        return await _store(
            actor, settings, action="policy.rollback", source=PolicyChangeSource.ROLLBACK,
            rules_text=old.rules, snapshot=None, expected_version=expected,
            message=text, force=force, details={"rolled_back_to": version},
        )  # fmt: skip
