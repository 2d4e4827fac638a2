"""Planning a policy change: check proposed rules without changing anything.

A plan reports every problem with its line, the decision tables' results, and which stored
credentials would gain or lose what. A valid plan is stored, so any worker can apply it
(`policy_changes.py`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from mailkeys import clock
from mailkeys.errors import InvalidInputError, NotFoundError, PolicyRulesError
from mailkeys.models import PolicyPlan, PolicyVersion
from mailkeys.models import impact as impact_queries
from mailkeys.models import policy as stored
from mailkeys.pages import Page, page_size
from mailkeys.policy import Actor, PolicySnapshot, authorize, current
from mailkeys.policy.compile import (
    compile_policy,
    decisions_fingerprint,
    decisions_of,
    snapshot_from_decisions,
)
from mailkeys.policy.files import SHIPPED_TABLE_NAME, shipped_table_text
from mailkeys.policy.impact import AffectedCredential, AffectedTeam, Impact, compute_impact
from mailkeys.policy.rules import canonical_line, diff_rules, normalize_rules_text
from mailkeys.policy.tables import DecisionTable, TableRun, parse_table, run_table
from mailkeys.resolvers.policy_versions import READ, load_version, model_text_for
from mailkeys.settings import Settings
from mailkeys.tokens import new_id
from mailkeys.validation import is_resource_id

MAX_RULES_BYTES = 256 * 1024
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


def guard_table(settings: Settings) -> DecisionTable:
    """The table a change must not break without force (`MAILKEYS_POLICY_TABLE`)."""
    if settings.policy_table_path is None:
        return parse_table(shipped_table_text(), SHIPPED_TABLE_NAME)
    return parse_table(settings.policy_table_path.read_text(), str(settings.policy_table_path))


def run_tables(
    settings: Settings, snapshot: PolicySnapshot, extra: DecisionTable | None = None
) -> tuple[list[TableRun], str]:
    """The guard table (and `extra`) against `snapshot`, and the guard table's name."""
    guard = guard_table(settings)
    tables = [guard] if extra is None else [guard, extra]
    return [run_table(table, snapshot) for table in tables], guard.name


def checked_rules_text(field_name: str, text: str) -> str:
    """Rules (or table) text within the size bound, normalised."""
    if len(text.encode()) > MAX_RULES_BYTES:
        raise InvalidInputError(
            field_name, f"{field_name} must be at most {MAX_RULES_BYTES} bytes."
        )
    return normalize_rules_text(text)


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


async def compile_rules(
    settings: Settings, rules_text: str, version: int
) -> tuple[PolicySnapshot | None, list[RuleProblem]]:
    """Check and build proposed rules in a thread; every problem names its line."""
    model_text = model_text_for(settings)
    snapshot, errors = await asyncio.to_thread(compile_policy, model_text, rules_text, version)
    raw_lines = rules_text.splitlines()
    problems = [
        RuleProblem(error.line_number, error.reason, raw_lines[error.line_number - 1].strip())
        for error in errors
    ]
    return snapshot, problems


async def valid_snapshot(settings: Settings, rules_text: str, version: int) -> PolicySnapshot:
    """The snapshot of rules that must be valid; PolicyRulesError names every bad line."""
    snapshot, problems = await compile_rules(settings, rules_text, version)
    if snapshot is None:
        raise PolicyRulesError("rules", [(p.line, f"{p.reason}: {p.text}") for p in problems])
    return snapshot


async def _snapshot_of(settings: Settings, row: PolicyVersion) -> PolicySnapshot:
    installed = current()
    if installed.version == row.version:
        return installed
    return await load_version(model_text_for(settings), row)


async def _base_row(base_version: int | None) -> PolicyVersion:
    if base_version is None:
        return await stored.live_row()
    row = await stored.get_version(base_version)
    if row is None:
        raise InvalidInputError("baseVersion", f"There is no policy version {base_version}.")
    return row


async def impact_of(before: PolicySnapshot, after: PolicySnapshot) -> Impact:
    """What replacing `before` by `after` does to the credentials stored now."""
    now = clock.now()
    configurations = await impact_queries.live_configurations(now)
    impact = compute_impact(before, after, configurations, now)
    return impact.with_teams(await impact_queries.count_teams(impact.configurations, now))


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
        extra = parse_table(checked_rules_text("decisionTable", decision_table), "decisionTable")
    base = await _base_row(base_version)
    if rules is not None:
        proposed_text = checked_rules_text("rules", rules)
    else:
        proposed_text = apply_changes(base.rules, changes or RuleChanges())
    snapshot, problems = await compile_rules(settings, proposed_text, base.version + 1)
    added, removed = diff_rules(base.rules, proposed_text)
    if snapshot is None:
        return Plan(None, base.version, proposed_text, problems, added, removed, [], "", None)
    tables, guard_name = run_tables(settings, snapshot, extra)
    impact = await impact_of(await _snapshot_of(settings, base), snapshot)
    now = clock.now()
    row = await stored.store_plan(
        now - PLAN_LIFETIME,
        id=new_id("plan"),
        base_version=base.version,
        rules=proposed_text,
        created_at=now,
        author=actor.label,
        decisions=decisions_of(snapshot),
        decisions_fingerprint=decisions_fingerprint(model_text_for(settings)),
    )
    return Plan(row.id, base.version, proposed_text, [], added, removed, tables, guard_name, impact)


async def plan_row(plan_id: str) -> PolicyPlan:
    """A stored plan, or NotFoundError."""
    row = await stored.get_plan(plan_id) if is_resource_id(plan_id) else None
    if row is None:
        raise NotFoundError("PolicyPlan")
    return row


async def plan_snapshot(settings: Settings, row: PolicyPlan, version: int) -> PolicySnapshot:
    """A stored plan's rules as a snapshot numbered `version`."""
    return await asyncio.to_thread(
        snapshot_from_decisions,
        model_text_for(settings),
        row.rules,
        version,
        row.decisions,
        row.decisions_fingerprint,
    )


async def get_plan(actor: Actor, settings: Settings, plan_id: str) -> Plan:
    """A stored plan, with its tables and impact computed again against today's credentials."""
    authorize(actor, READ)
    row = await plan_row(plan_id)
    base = await _base_row(row.base_version)
    snapshot = await plan_snapshot(settings, row, row.base_version + 1)
    tables, guard_name = run_tables(settings, snapshot)
    impact = await impact_of(await _snapshot_of(settings, base), snapshot)
    added, removed = diff_rules(base.rules, row.rules)
    return Plan(row.id, base.version, row.rules, [], added, removed, tables, guard_name, impact)


async def affected_credentials(
    impact: Impact, first: int | None, after: str | None
) -> Page[AffectedCredential]:
    """A page of the credentials a planned change affects (the plan was authorized)."""
    page = await impact_queries.credential_page(
        impact.configurations,
        impact.computed_at,
        page_size(first),
        after,
        impact.credentials_affected,
    )
    return page.map(impact.credential)


async def affected_teams(
    impact: Impact, first: int | None, after: str | None
) -> Page[AffectedTeam]:
    """A page of the teams a planned change affects, with their affected credentials."""
    page = await impact_queries.team_page(
        impact.configurations, impact.computed_at, page_size(first), after, impact.teams_affected
    )
    return page.map(lambda counted: AffectedTeam(*counted))
