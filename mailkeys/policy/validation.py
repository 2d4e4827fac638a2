"""Checking proposed rules against the model, the vocabulary and Casbin's answers.

Casbin accepts any string as a role, permission or domain; most typos would silently grant
nothing, and some lines Casbin evaluates are ignored by the issuing rules or would give
infrastructure keys operator powers. These checks refuse what the service cannot mean, each
problem with its line: `line_problems` before Casbin is asked, `table_problems` on its answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from casbin.model import Model

from mailkeys.errors import PolicyConfigurationError
from mailkeys.models.people import MemberRole
from mailkeys.policy.rules import PolicyLine
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import (
    APP_GROUP_PREFIX,
    APP_LINE_PREFIX,
    APP_ROLES,
    GATEWAY_ROLE,
    KIND_PREFIX,
    KIND_ROLES,
    MEMBER_PREFIX,
    OPERATOR_ROLE,
    PERMISSION_DOMAIN,
    PRESET_PREFIX,
    ROLE_PREFIX,
    Domain,
    is_valid_pattern,
    member_role_name,
    permission_matches,
)


class PolicyLineError(PolicyConfigurationError):
    """Raised when a policy line does not fit the model or names something unknown."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number
        self.reason = reason


def load_model(model_text: str) -> Any:
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
_MEMBER_ROLES = frozenset(member_role_name(role) for role in MemberRole)
_DECLARED_PREFIXES = (PRESET_PREFIX, MEMBER_PREFIX)


def _role_problem(name: str, presets: set[str], inherited: set[str]) -> str | None:
    """Why `name` may not stand in a rule, or None.

    Roles are declared presets (`root:`, by a p2 line), the built-in roles (`kind:...`,
    `role:operator`, `role:gateway`), or group roles (`role:...`) that some rule inherits.
    Anything else is a typo that would silently grant nothing.
    """
    if name.startswith(PRESET_PREFIX):
        return None if name in presets else f"unknown preset '{name}' (declare it with a p2 line)"
    if name.startswith(MEMBER_PREFIX):
        if name not in _MEMBER_ROLES:
            return f"unknown team role '{name}' (team roles are {', '.join(sorted(_MEMBER_ROLES))})"
        return None if name in presets else f"team role '{name}' is not declared (a p2 line)"
    if name in _BUILT_IN_ROLES or name in APP_ROLES:
        return None
    if name.startswith((APP_GROUP_PREFIX, APP_LINE_PREFIX)):
        return f"unknown connected-app group or line '{name}' (see docs/connected-apps.md)"
    if name.startswith(KIND_PREFIX):
        return f"unknown credential kind '{name}'"
    if name.startswith(ROLE_PREFIX):
        if name in inherited:
            return None
        return f"role '{name}' is not built in and no g line makes a role inherit it"
    return (
        f"unknown role '{name}' (roles are root:<preset>, member:<team role>, kind:<kind>, "
        "app-group:<group>:<level>, app-line:<line> or role:<name>)"
    )


def _grant_problem(line: PolicyLine) -> str | None:
    _, pattern, domain = line.values
    if domain not in Domain.__members__.values():
        return f"unknown domain '{domain}'"
    if not is_valid_pattern(pattern):
        return f"'{pattern}' is not a permission pattern"
    # Delegation counts only for mailbox permissions (`can_issue`): a role issues team and
    # platform permissions only by holding them.
    wanted = Domain.MAILBOX if domain == Domain.DELEGATE else Domain(domain)
    if not any(
        permission_domain is wanted and permission_matches(permission, pattern)
        for permission, permission_domain in PERMISSION_DOMAIN.items()
    ):
        if domain == Domain.DELEGATE:
            return (
                f"'{pattern}' names no mailbox permission, and delegation counts only for "
                "mailbox permissions (team and platform ones are issued by holding them)"
            )
        return f"'{pattern}' names no known {domain} permission"
    return None


def _issuer_problem(role: str, issuers: set[str]) -> str | None:
    """Why a `delegate` line of `role` would never be used, or None.

    Infrastructure keys and team members issue credentials, so delegation counts for presets,
    team roles and the group roles they inherit; never for the built-in roles (`kind:...`,
    operator, gateway).
    """
    if role in _BUILT_IN_ROLES:
        return (
            f"'{role}' never issues credentials: delegation counts only for presets (root:...) "
            "and team roles (member:...)"
        )
    if role.startswith(ROLE_PREFIX) and role not in issuers:
        return f"no preset or team role inherits '{role}', so its delegation would never be used"
    return None


def _people_problem(role: str) -> str | None:
    """Why `role` may not hold a `people` permission, or None: only team members do."""
    if role.startswith(MEMBER_PREFIX) or role.startswith(ROLE_PREFIX):
        return None
    return (
        f"'{role}' cannot use people permissions: managing members and deleting a team are "
        "for team members (member:...) only"
    )


def _issuers(lines: list[PolicyLine], presets: set[str]) -> set[str]:
    """The presets and every role some preset inherits through g lines."""
    parents: dict[str, set[str]] = {}
    for line in lines:
        if line.ptype == "g":
            parents.setdefault(line.values[0], set()).add(line.values[1])
    reached = set(presets)
    frontier = list(presets)
    while frontier:
        for parent in parents.get(frontier.pop(), ()):
            if parent not in reached:
                reached.add(parent)
                frontier.append(parent)
    return reached


def line_problems(lines: Iterable[PolicyLine], model_text: str) -> list[PolicyLineError]:
    """Every problem of every line, in line order; empty when the rules fit the model."""
    lines = list(lines)
    sections = _sections(load_model(model_text))
    shaped = [line for line in lines if _shape_problem(line, sections) is None]
    presets = {line.values[0] for line in shaped if line.ptype == "p2"}
    inherited = {line.values[1] for line in shaped if line.ptype == "g"}
    issuers = _issuers(shaped, presets)
    problems: list[PolicyLineError] = []
    first_seen: dict[str, int] = {}
    declared: dict[str, int] = {}
    for line in lines:
        reason = _shape_problem(line, sections)
        if reason is None and str(line) in first_seen:
            reason = f"duplicate of line {first_seen[str(line)]}"
        if reason is None:
            first_seen[str(line)] = line.line_number
            reason = _line_meaning_problem(line, presets, inherited, issuers, declared)
        if reason is not None:
            problems.append(PolicyLineError(line.line_number, reason))
    return problems


def _line_meaning_problem(
    line: PolicyLine,
    presets: set[str],
    inherited: set[str],
    issuers: set[str],
    declared: dict[str, int],
) -> str | None:
    if line.ptype == "p2":
        role = line.values[0]
        if not role.startswith(_DECLARED_PREFIXES):
            return f"a declared role must start with '{PRESET_PREFIX}' or '{MEMBER_PREFIX}'"
        if role.startswith(MEMBER_PREFIX) and role not in _MEMBER_ROLES:
            return f"unknown team role '{role}' (team roles are {', '.join(sorted(_MEMBER_ROLES))})"
        if role in declared:
            return f"'{role}' is already declared on line {declared[role]}"
        declared[role] = line.line_number
        return None
    if line.ptype == "p":
        role, _, domain = line.values
        problem = _grant_problem(line) or _role_problem(role, presets, inherited)
        if problem is None and domain == Domain.DELEGATE:
            problem = _issuer_problem(role, issuers)
        if problem is None and domain == Domain.PEOPLE:
            problem = _people_problem(role)
        return problem
    if line.ptype == "g":
        for name in line.values:
            problem = _role_problem(name, presets, inherited)
            if problem:
                return problem
    return None


# ---------------------------------------------------------------------------------------------
# Problems that only Casbin's answers show (what each role ends up holding through g lines)
# ---------------------------------------------------------------------------------------------


def table_problems(snapshot: PolicySnapshot) -> list[PolicyLineError]:
    """Every problem with what the rules grant, each naming its line, in line order."""
    problems = [
        *_empty_presets(snapshot),
        *_empty_parents(snapshot),
        *_platform_presets(snapshot),
    ]
    return sorted(problems, key=lambda problem: problem.line_number)


def _declared_kind(role: str) -> str:
    """`preset 'root:x'` or `team role 'member:x'`, for messages."""
    return f"{'team role' if role.startswith(MEMBER_PREFIX) else 'preset'} '{role}'"


def _holders(role: str) -> str:
    return "team members" if role.startswith(MEMBER_PREFIX) else "infrastructure keys"


def _empty_presets(snapshot: PolicySnapshot) -> list[PolicyLineError]:
    granting = snapshot.roles
    return [
        PolicyLineError(line.line_number, f"{_declared_kind(line.values[0])} grants nothing")
        for line in snapshot.lines
        if line.ptype == "p2" and line.values[0] not in granting
    ]


def _empty_parents(snapshot: PolicySnapshot) -> list[PolicyLineError]:
    granting = snapshot.roles
    return [
        PolicyLineError(
            line.line_number,
            f"role '{line.values[1]}' grants nothing (no p line gives it or a role it "
            "inherits a permission), so inheriting it has no effect",
        )
        for line in snapshot.lines
        if line.ptype == "g" and line.values[1] not in granting
    ]


def _platform_presets(snapshot: PolicySnapshot) -> list[PolicyLineError]:
    """Presets holding platform permissions, named by the line that gives them.

    A preset is what an infrastructure key holds: platform permissions would give a team's
    key the operator's powers. The line named is the p line of a direct grant, or the
    preset's g line that starts the chain to the granting role.
    """
    by_line: dict[int, tuple[str, list[str], list[str]]] = {}
    for (role, permission, domain), decision in sorted(snapshot.table.items()):
        declared = snapshot.declared_roles
        if domain != Domain.PLATFORM or role not in declared or not decision.matched_rule:
            continue
        granting = decision.matched_rule[0]
        chain = snapshot.role_chain(role, granting)
        if len(chain) > 1:
            line = _line_of(snapshot, "g", (chain[0], chain[1]))
        else:
            line = _line_of(snapshot, "p", decision.matched_rule)
        by_line.setdefault(line, (role, chain, []))[2].append(permission)
    problems = []
    for line_number, (preset, chain, permissions) in by_line.items():
        via = f" through {' -> '.join(chain)}" if len(chain) > 1 else ""
        problems.append(
            PolicyLineError(
                line_number,
                f"{_declared_kind(preset)} would hold platform permissions{via} "
                f"({', '.join(permissions)}); {_holders(preset)} never hold them",
            )
        )
    return problems


def _line_of(snapshot: PolicySnapshot, ptype: str, values: tuple[str, ...]) -> int:
    return next(
        line.line_number
        for line in snapshot.lines
        if line.ptype == ptype and line.values == tuple(values)
    )
