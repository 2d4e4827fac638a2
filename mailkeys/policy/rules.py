"""Policy rules as text: Casbin CSV lines, parsed, normalised and compared."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyLine:
    """One rule of the policy: its section (`p`, `p2`, `g`) and values, and where it stood."""

    ptype: str
    values: tuple[str, ...]
    line_number: int

    def __str__(self) -> str:
        return ", ".join((self.ptype, *self.values))


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


def rules_of(text: str) -> list[str]:
    """Rules text as Casbin CSV lines, comments left out."""
    return [str(line) for line in parse_policy(text)]


def normalize_rules_text(text: str) -> str:
    """Rules text as stored: Unix line ends and one final newline."""
    return "\n".join(text.replace("\r\n", "\n").replace("\r", "\n").splitlines()) + "\n"


def diff_rules(before: str, after: str) -> tuple[list[str], list[str]]:
    """The rules `after` adds to and removes from `before` (comments and order aside)."""
    old = Counter(rules_of(before))
    new = Counter(rules_of(after))
    return list((new - old).elements()), list((old - new).elements())
