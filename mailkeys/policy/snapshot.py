"""A loaded policy: its rules, presets, and Casbin's answer to every question it can be asked.

Casbin's `enforce()` costs 0.1-0.3 ms and scans the rules on every call. The rules mention
only roles (presets and credential kinds), never keys or teams, so the set of possible
questions is small: every role x every permission x every domain. A snapshot holds Casbin's
answer to each of them (see `compile.py`) and answers requests from that table in about a
microsecond. Casbin stays the only judge; the table is its answers, rebuilt whole on change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailkeys.policy.rules import PolicyLine
from mailkeys.policy.vocabulary import Domain


@dataclass(frozen=True)
class Decision:
    """Casbin's answer for one (role, permission, domain), with the rule that matched."""

    allowed: bool
    matched_rule: tuple[str, ...] | None


DENIED = Decision(allowed=False, matched_rule=None)


@dataclass(frozen=True)
class PolicySnapshot:
    """A loaded policy: its rules, its presets, and Casbin's answer to every possible question."""

    version: int
    lines: tuple[PolicyLine, ...]
    # Declared roles and their display names: key presets (`root:`), team roles (`member:`).
    presets: dict[str, str]
    team_roles: dict[str, str]
    table: dict[tuple[str, str, str], Decision] = field(repr=False)

    @property
    def declared_roles(self) -> dict[str, str]:
        """Every role a p2 line declares: presets and team roles."""
        return {**self.presets, **self.team_roles}

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
        return self.table.get((role, permission, domain), DENIED)

    def grants(self, role: str, domain: Domain) -> list[str]:
        """The vocabulary permissions `role` holds in `domain`, sorted."""
        return sorted(
            permission
            for (table_role, permission, table_domain), decision in self.table.items()
            if table_role == role and table_domain == domain and decision.allowed
        )

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
