"""Asking Casbin every question a policy can be asked, and building snapshots from the answers.

This is the only module that runs Casbin's enforcer. The work is CPU-bound: callers run it
in a thread. A stored version keeps the answers its writer computed, so other workers with
the same model and vocabulary reload by parsing instead of asking Casbin again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

import casbin
from casbin.persist.adapter import Adapter, load_policy_line

from mailkeys.errors import PolicyConfigurationError
from mailkeys.policy.rules import PolicyLine, parse_policy
from mailkeys.policy.snapshot import Decision, PolicySnapshot
from mailkeys.policy.validation import PolicyLineError, line_problems, load_model, table_problems
from mailkeys.policy.vocabulary import MEMBER_PREFIX, PERMISSION_DOMAIN, PRESET_PREFIX, Domain

# Casbin logs every denial at WARNING; our own decision log is structured and deliberate.
logging.getLogger("casbin").setLevel(logging.ERROR)


class _LinesAdapter(Adapter):  # type: ignore[misc]  # casbin is untyped
    """Feeds already-validated lines to Casbin."""

    def __init__(self, lines: list[PolicyLine]) -> None:
        self._lines = lines

    def load_policy(self, model: Any) -> None:
        for line in self._lines:
            load_policy_line(str(line), model)


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
    declared = {line.values[0]: line.values[1] for line in lines if line.ptype == "p2"}
    presets = {role: name for role, name in declared.items() if role.startswith(PRESET_PREFIX)}
    team_roles = {role: name for role, name in declared.items() if role.startswith(MEMBER_PREFIX)}
    return PolicySnapshot(
        version=version, lines=tuple(lines), presets=presets, team_roles=team_roles, table=table
    )


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
    snapshot = _snapshot(version, lines, _ask_casbin(load_model(model_text), lines))
    problems = table_problems(snapshot)
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
    snapshot = _snapshot(version, lines, table)
    problems = table_problems(snapshot)
    if problems:
        raise problems[0]
    return snapshot
