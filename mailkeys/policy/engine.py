"""Building an immutable policy snapshot from the Casbin model and rules.

Casbin's `enforce()` costs 0.1-0.3 ms and scans the rules on every call (STACK-NOTES). The
rules mention only roles (presets and credential kinds), never keys or teams, so the set of
possible questions is small: every role x every permission x every domain. A snapshot asks
Casbin each of them once, in a thread, and answers requests from that table in about a
microsecond. Casbin stays the only judge; the table is its answers, rebuilt whole on change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import casbin
from casbin.model import Model
from casbin.persist.adapter import Adapter, load_policy_line

from mailkeys.errors import PolicyConfigurationError
from mailkeys.policy.vocabulary import (
    GATEWAY_ROLE,
    KIND_PREFIX,
    KIND_ROLES,
    OPERATOR_ROLE,
    PERMISSION_DOMAIN,
    PRESET_PREFIX,
    ROLE_PREFIX,
    Domain,
    is_valid_pattern,
    permission_matches,
)

# Casbin logs every denial at WARNING; our own decision log is structured and deliberate.
logging.getLogger("casbin").setLevel(logging.ERROR)


def shipped_model_text() -> str:
    """The model shipped with the package (`casbin_model.conf` at the repository root)."""
    return resources.files("mailkeys").joinpath("data/casbin_model.conf").read_text()


def shipped_policy_text() -> str:
    """The policy shipped with the package (`casbin_policy.csv` at the repository root)."""
    return resources.files("mailkeys").joinpath("data/casbin_policy.csv").read_text()


def read_text(path: Path | None, fallback: str) -> str:
    """The file's text if a path is configured, else the shipped text."""
    return path.read_text() if path is not None else fallback


@dataclass(frozen=True)
class PolicyLine:
    """One rule of the policy: its section (`p`, `p2`, `g`) and values, and where it stood."""

    ptype: str
    values: tuple[str, ...]
    line_number: int

    def __str__(self) -> str:
        return ", ".join((self.ptype, *self.values))


@dataclass(frozen=True)
class Decision:
    """Casbin's answer for one (role, permission, domain), with the rule that matched."""

    allowed: bool
    matched_rule: tuple[str, ...] | None


class PolicyLineError(PolicyConfigurationError):
    """Raised when a policy line does not fit the model or names something unknown."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number
        self.reason = reason


def canonical_line(raw: str) -> str:
    """A rule as Casbin's CSV writes it: values trimmed, joined by ', '."""
    return ", ".join(part.strip() for part in raw.strip().split(","))


def parse_policy(text: str) -> list[PolicyLine]:
    """Split Casbin CSV text into rules; whole-line `#` comments and blank lines are skipped."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ptype, *values = (part.strip() for part in stripped.split(","))
        lines.append(PolicyLine(ptype=ptype, values=tuple(values), line_number=number))
    return lines


class _LinesAdapter(Adapter):  # type: ignore[misc]  # casbin is untyped
    """Feeds already-validated lines to Casbin."""

    def __init__(self, lines: list[PolicyLine]) -> None:
        self._lines = lines

    def load_policy(self, model: Any) -> None:
        for line in self._lines:
            load_policy_line(str(line), model)


def _load_model(model_text: str) -> Any:
    model = Model()
    try:
        model.load_model_from_text(model_text)
    except Exception as exc:
        raise PolicyConfigurationError(f"casbin model is invalid: {exc}") from exc
    return model


def _sections(model: Any) -> dict[str, int]:
    """How many values each rule type of the model takes."""
    sections: dict[str, int] = {}
    for sec in ("p", "g"):
        for key, assertion in model.model.get(sec, {}).items():
            sections[key] = len(assertion.tokens) if sec == "p" else assertion.value.count("_")
    return sections


def _shape_problem(line: PolicyLine, sections: dict[str, int]) -> str | None:
    if line.ptype not in sections:
        return f"unknown rule type '{line.ptype}'"
    if len(line.values) != sections[line.ptype]:
        return f"'{line.ptype}' takes {sections[line.ptype]} values, got {len(line.values)}"
    if any(not value or "#" in value for value in line.values):
        return "empty value or trailing comment (only whole-line # comments)"
    return None


_BUILT_IN_ROLES = frozenset({OPERATOR_ROLE, GATEWAY_ROLE, *KIND_ROLES.values()})


def _role_problem(name: str, presets: set[str], inherited: set[str]) -> str | None:
    """Why `name` may not stand in a rule, or None.

    Roles are declared presets (`root:`, by a p2 line), the built-in roles (`kind:...`,
    `role:operator`, `role:gateway`), or group roles (`role:...`) that some rule inherits.
    Anything else is a typo that would silently grant nothing.
    """
    if name.startswith(PRESET_PREFIX):
        return None if name in presets else f"unknown preset '{name}' (declare it with a p2 line)"
    if name in _BUILT_IN_ROLES:
        return None
    if name.startswith(KIND_PREFIX):
        return f"unknown credential kind '{name}'"
    if name.startswith(ROLE_PREFIX):
        if name in inherited:
            return None
        return f"role '{name}' is not built in and no g line makes a role inherit it"
    return f"unknown role '{name}' (roles are root:<preset>, kind:<kind> or role:<name>)"


def _grant_problem(line: PolicyLine) -> str | None:
    _, pattern, domain = line.values
    if domain not in Domain.__members__.values():
        return f"unknown domain '{domain}'"
    if not is_valid_pattern(pattern):
        return f"'{pattern}' is not a permission pattern"
    covered = [
        permission
        for permission, permission_domain in PERMISSION_DOMAIN.items()
        if permission_matches(permission, pattern)
        # a delegation grant may name a permission of any domain
        and (domain == Domain.DELEGATE or permission_domain == domain)
    ]
    if not covered:
        return f"'{pattern}' names no known {domain} permission"
    return None


def line_problems(lines: Iterable[PolicyLine], model_text: str) -> list[PolicyLineError]:
    """Every problem of every line, in line order; empty when the rules fit the model."""
    lines = list(lines)
    sections = _sections(_load_model(model_text))
    shaped = [line for line in lines if _shape_problem(line, sections) is None]
    presets = {line.values[0] for line in shaped if line.ptype == "p2"}
    inherited = {line.values[1] for line in shaped if line.ptype == "g"}
    problems: list[PolicyLineError] = []
    first_seen: dict[str, int] = {}
    declared: dict[str, int] = {}
    for line in lines:
        reason = _shape_problem(line, sections)
        if reason is None and str(line) in first_seen:
            reason = f"duplicate of line {first_seen[str(line)]}"
        if reason is None:
            first_seen[str(line)] = line.line_number
            reason = _line_meaning_problem(line, presets, inherited, declared)
        if reason is not None:
            problems.append(PolicyLineError(line.line_number, reason))
    return problems


def _line_meaning_problem(
    line: PolicyLine, presets: set[str], inherited: set[str], declared: dict[str, int]
) -> str | None:
    if line.ptype == "p2":
        preset = line.values[0]
        if not preset.startswith(PRESET_PREFIX):
            return f"a preset id must start with '{PRESET_PREFIX}'"
        if preset in declared:
            return f"preset '{preset}' is already declared on line {declared[preset]}"
        declared[preset] = line.line_number
        return None
    if line.ptype == "p":
        return _grant_problem(line) or _role_problem(line.values[0], presets, inherited)
    if line.ptype == "g":
        for name in line.values:
            problem = _role_problem(name, presets, inherited)
            if problem:
                return problem
    return None


@dataclass(frozen=True)
class PolicySnapshot:
    """A loaded policy: its rules, its presets, and Casbin's answer to every possible question."""

    version: int
    lines: tuple[PolicyLine, ...]
    presets: dict[str, str]
    table: dict[tuple[str, str, str], Decision] = field(repr=False)

    @property
    def roles(self) -> frozenset[str]:
        """Every role that some rule grants something to."""
        return frozenset(role for role, _, _ in self.table)

    @property
    def rules(self) -> list[str]:
        """The rules as Casbin CSV lines, without comments, in file order."""
        return [str(line) for line in self.lines]

    def decide(self, role: str, permission: str, domain: Domain) -> Decision:
        """Casbin's decision; a role the policy never mentions is denied."""
        return self.table.get((role, permission, domain), _DENIED)

    def grants(self, role: str, domain: Domain) -> list[str]:
        """The vocabulary permissions `role` holds in `domain`, sorted."""
        return sorted(
            permission
            for (table_role, permission, table_domain), decision in self.table.items()
            if table_role == role and table_domain == domain and decision.allowed
        )

    def patterns(self, role: str) -> list[str]:
        """The permission patterns written for `role`, as the policy author wrote them."""
        return [
            f"{line.values[1]} ({line.values[2]})"
            for line in self.lines
            if line.ptype == "p" and line.values[0] == role
        ]

    def role_chain(self, role: str, target: str) -> list[str]:
        """How `role` reaches `target` through g lines: [role, ..., target], or [] if never."""
        parents: dict[str, list[str]] = {}
        for line in self.lines:
            if line.ptype == "g":
                parents.setdefault(line.values[0], []).append(line.values[1])
        paths = [[role]]
        seen = {role}
        while paths:
            path = paths.pop(0)
            if path[-1] == target:
                return path
            for parent in parents.get(path[-1], []):
                if parent not in seen:
                    seen.add(parent)
                    paths.append([*path, parent])
        return []


_DENIED = Decision(allowed=False, matched_rule=None)

# Bumped when the meaning of a stored decision table changes.
_DECISIONS_FORMAT = 1


def decisions_fingerprint(model_text: str) -> str:
    """What a stored decision table depends on besides the rules: the model and vocabulary.

    A worker reuses a table that another worker computed only if this matches its own, so a
    worker running another model or vocabulary always asks Casbin itself.
    """
    basis = {
        "format": _DECISIONS_FORMAT,
        "model": model_text,
        "vocabulary": sorted(PERMISSION_DOMAIN.items()),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def decisions_of(snapshot: PolicySnapshot) -> list[list[Any]]:
    """The snapshot's table (Casbin's answers) in a JSON-ready form."""
    return [
        [role, permission, domain, list(decision.matched_rule or ())]
        for (role, permission, domain), decision in sorted(snapshot.table.items())
        if decision.allowed
    ]


# Casbin's matcher goes through `ast.parse` on every call, and CPython 3.11's AST converter
# is not safe in two threads at once ("AST constructor recursion depth mismatch"): builds
# running concurrently in `asyncio.to_thread` failed at random. One build at a time per
# process costs nothing, since the work holds the GIL anyway.
_CASBIN_LOCK = threading.Lock()


def _ask_casbin(model: Any, lines: list[PolicyLine]) -> dict[tuple[str, str, str], Decision]:
    with _CASBIN_LOCK:
        return _ask_casbin_unlocked(model, lines)


def _ask_casbin_unlocked(
    model: Any, lines: list[PolicyLine]
) -> dict[tuple[str, str, str], Decision]:
    enforcer = casbin.Enforcer(model, _LinesAdapter(lines))
    enforcer.add_function("permMatch", permission_matches)
    roles = {line.values[0] for line in lines if line.ptype in {"p", "g"}}
    roles |= {line.values[1] for line in lines if line.ptype == "g"}
    table: dict[tuple[str, str, str], Decision] = {}
    try:
        for role in sorted(roles):
            # A permission is only ever asked in its own domain, or for delegation.
            for permission, own_domain in PERMISSION_DOMAIN.items():
                for domain in (own_domain, Domain.DELEGATE):
                    allowed, rule = enforcer.enforce_ex(role, permission, domain.value)
                    if allowed:
                        table[(role, permission, domain)] = Decision(True, tuple(rule) or None)
    except Exception as exc:
        raise PolicyConfigurationError(f"casbin failed to evaluate the policy: {exc}") from exc
    return table


def _snapshot(
    version: int, lines: list[PolicyLine], table: dict[tuple[str, str, str], Decision]
) -> PolicySnapshot:
    presets = {line.values[0]: line.values[1] for line in lines if line.ptype == "p2"}
    return PolicySnapshot(version=version, lines=tuple(lines), presets=presets, table=table)


def _empty_presets(snapshot: PolicySnapshot) -> list[PolicyLineError]:
    granting = {role for role, _, _ in snapshot.table}
    return [
        PolicyLineError(line.line_number, f"preset '{line.values[0]}' grants nothing")
        for line in snapshot.lines
        if line.ptype == "p2" and line.values[0] not in granting
    ]


def compile_policy(
    model_text: str, policy_text: str, version: int
) -> tuple[PolicySnapshot | None, list[PolicyLineError]]:
    """Validate the rules and tabulate Casbin's decisions (CPU-bound: run it in a thread).

    Returns the snapshot, or None and every problem found, each naming its line. An invalid
    model is a configuration fault and raises.
    """
    lines = parse_policy(policy_text)
    problems = line_problems(lines, model_text)
    if problems:
        return None, problems
    snapshot = _snapshot(version, lines, _ask_casbin(_load_model(model_text), lines))
    problems = _empty_presets(snapshot)
    return (None, problems) if problems else (snapshot, [])


def build_snapshot(model_text: str, policy_text: str, version: int) -> PolicySnapshot:
    """Validate the rules, load them into Casbin and tabulate its decisions (CPU-bound).

    Raises:
        PolicyLineError: the first line that does not fit (see `compile_policy` for all).
    """
    snapshot, problems = compile_policy(model_text, policy_text, version)
    if snapshot is None:
        raise problems[0]
    return snapshot


def snapshot_from_decisions(
    model_text: str,
    policy_text: str,
    version: int,
    decisions: list[list[Any]] | None,
    fingerprint: str | None,
) -> PolicySnapshot:
    """A snapshot from Casbin's answers stored with the rules, if they fit this worker.

    Reusing the applying worker's table makes a reload a parse instead of a few hundred
    Casbin calls; when the model or vocabulary differ (or nothing was stored), Casbin is asked.
    """
    if decisions is None or fingerprint != decisions_fingerprint(model_text):
        return build_snapshot(model_text, policy_text, version)
    lines = parse_policy(policy_text)
    problems = line_problems(lines, model_text)
    if problems:
        raise problems[0]
    table: dict[tuple[str, str, str], Decision] = {
        (role, permission, Domain(domain)): Decision(True, tuple(rule) or None)
        for role, permission, domain, rule in decisions
    }
    return _snapshot(version, lines, table)
