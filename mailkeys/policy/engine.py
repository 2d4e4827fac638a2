"""Building an immutable policy snapshot from the Casbin model and rules.

Casbin's `enforce()` costs 0.1-0.3 ms and scans the rules on every call (STACK-NOTES). The
rules mention only roles (presets and credential kinds), never keys or teams, so the set of
possible questions is small: every role x every permission x every domain. A snapshot asks
Casbin each of them once, in a thread, and answers requests from that table in about a
microsecond. Casbin stays the only judge; the table is its answers, rebuilt whole on change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import casbin
from casbin.model import Model
from casbin.persist.adapter import Adapter, load_policy_line

from mailkeys.errors import PolicyConfigurationError
from mailkeys.policy.vocabulary import (
    PERMISSION_DOMAIN,
    PRESET_PREFIX,
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


def _validate(lines: list[PolicyLine], model: Any) -> None:
    sections: dict[str, int] = {}
    for sec in ("p", "g"):
        for key, assertion in model.model.get(sec, {}).items():
            sections[key] = len(assertion.tokens) if sec == "p" else assertion.value.count("_")
    for line in lines:
        if line.ptype not in sections:
            raise PolicyLineError(line.line_number, f"unknown rule type '{line.ptype}'")
        if len(line.values) != sections[line.ptype]:
            raise PolicyLineError(
                line.line_number,
                f"'{line.ptype}' takes {sections[line.ptype]} values, got {len(line.values)}",
            )
        if any(not value or "#" in value for value in line.values):
            raise PolicyLineError(
                line.line_number, "empty value or trailing comment (only whole-line # comments)"
            )
        if line.ptype == "p2" and not line.values[0].startswith(PRESET_PREFIX):
            raise PolicyLineError(
                line.line_number, f"a preset id must start with '{PRESET_PREFIX}'"
            )
        if line.ptype == "p":
            _validate_grant(line)


def _validate_grant(line: PolicyLine) -> None:
    _, pattern, domain = line.values
    if domain not in Domain.__members__.values():
        raise PolicyLineError(line.line_number, f"unknown domain '{domain}'")
    if not is_valid_pattern(pattern):
        raise PolicyLineError(line.line_number, f"'{pattern}' is not a permission pattern")
    covered = [
        permission
        for permission, permission_domain in PERMISSION_DOMAIN.items()
        if permission_matches(permission, pattern)
        # a delegation grant may name a permission of any domain
        and (domain == Domain.DELEGATE or permission_domain == domain)
    ]
    if not covered:
        raise PolicyLineError(line.line_number, f"'{pattern}' names no known {domain} permission")


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


_DENIED = Decision(allowed=False, matched_rule=None)


def build_snapshot(model_text: str, policy_text: str, version: int) -> PolicySnapshot:
    """Validate the rules, load them into Casbin and tabulate its decisions (CPU-bound)."""
    model = _load_model(model_text)
    lines = parse_policy(policy_text)
    _validate(lines, model)
    enforcer = casbin.Enforcer(model, _LinesAdapter(lines))
    enforcer.add_function("permMatch", permission_matches)
    roles = {line.values[0] for line in lines if line.ptype in {"p", "g"}}
    roles |= {line.values[1] for line in lines if line.ptype == "g"}
    presets = {line.values[0]: line.values[1] for line in lines if line.ptype == "p2"}
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
    for line in lines:
        preset = line.values[0]
        if line.ptype == "p2" and not any(role == preset for role, _, _ in table):
            raise PolicyLineError(line.line_number, f"preset '{preset}' grants nothing")
    return PolicySnapshot(version=version, lines=tuple(lines), presets=presets, table=table)
