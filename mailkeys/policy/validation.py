"""Checking proposed rules against the model and the vocabulary, naming every bad line.

Casbin accepts any string as a role, permission or domain; most typos would silently grant
nothing. These checks refuse what the service cannot mean, each problem with its line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from casbin.model import Model

from mailkeys.errors import PolicyConfigurationError
from mailkeys.policy.rules import PolicyLine
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
    sections = _sections(load_model(model_text))
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
