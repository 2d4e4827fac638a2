"""The engine's checks of proposed rules, its stored decision tables and role chains."""

from __future__ import annotations

import asyncio

import pytest

from mailkeys.policy import Domain
from mailkeys.policy.compile import (
    build_snapshot,
    compile_policy,
    decisions_fingerprint,
    decisions_of,
    snapshot_from_decisions,
)
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.validation import PolicyLineError

# The compiler is the subject here: it asks Casbin every time, shipped rules or not.
pytestmark = pytest.mark.policy_compiled_each_time

MODEL = shipped_model_text()
SHIPPED = shipped_policy_text()
FIRST_EXTRA = len(SHIPPED.rstrip("\n").splitlines()) + 1


def with_lines(*extra: str) -> str:
    return SHIPPED.rstrip("\n") + "\n" + "\n".join(extra) + "\n"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param("p, root:ghost, key.read, team", "unknown preset 'root:ghost'", id="p-preset"),
        pytest.param("g, root:ghost, root:full", "unknown preset 'root:ghost'", id="g-preset"),
        pytest.param("g, root:full, root:ghost", "unknown preset 'root:ghost'", id="g-parent"),
        pytest.param("p, kind:robot, email.send, mailbox", "unknown credential kind", id="kind"),
        pytest.param("p, admin, key.read, team", "unknown role 'admin'", id="no-prefix"),
        pytest.param("p, role:readers, key.read, team", "no g line", id="group-not-inherited"),
        pytest.param("p, root:full, *, team", "duplicate of line", id="duplicate-rule"),
        pytest.param("p2, root:full, Everything", "already declared", id="duplicate-preset"),
    ],
)
def test_rules_naming_unknown_roles_or_repeating_are_refused(line: str, reason: str) -> None:
    snapshot, problems = compile_policy(MODEL, with_lines(line), version=2)

    assert snapshot is None
    assert [problem.line_number for problem in problems] == [FIRST_EXTRA]
    assert reason in problems[0].reason


def test_every_problem_is_reported_with_its_line() -> None:
    text = with_lines(
        "p, root:full, key.destroy, team",
        "# a comment in between",
        "p, root:ghost, key.read, team",
        "p, root:full, key.read",
    )

    _, problems = compile_policy(MODEL, text, version=2)

    assert [problem.line_number for problem in problems] == [
        FIRST_EXTRA,
        FIRST_EXTRA + 2,
        FIRST_EXTRA + 3,
    ]
    assert "key.destroy" in problems[0].reason


def test_a_preset_granting_nothing_is_named_by_its_declaration_line() -> None:
    _, problems = compile_policy(MODEL, with_lines("p2, root:empty, Empty"), version=2)

    assert len(problems) == 1
    assert problems[0].line_number == FIRST_EXTRA
    assert "grants nothing" in problems[0].reason


def test_group_roles_that_a_preset_inherits_are_accepted() -> None:
    text = with_lines(
        "p2, root:auditor, Auditor",
        "g, root:auditor, role:readers",
        "p, role:readers, logs.read, team",
        "p, role:readers, analytics.read, team",
    )

    snapshot = build_snapshot(MODEL, text, version=2)

    assert snapshot.grants("root:auditor", Domain.TEAM) == ["analytics.read", "logs.read"]
    decision = snapshot.decide("root:auditor", "logs.read", Domain.TEAM)
    assert decision.matched_rule == ("role:readers", "logs.read", "team")
    assert snapshot.role_chain("root:auditor", "role:readers") == ["root:auditor", "role:readers"]


def test_role_chain_of_a_direct_grant_is_the_role_itself() -> None:
    snapshot = build_snapshot(MODEL, SHIPPED, version=1)

    assert snapshot.role_chain("root:full", "root:full") == ["root:full"]
    assert snapshot.role_chain("root:full", "root:readonly") == []


def test_stored_decisions_rebuild_the_same_snapshot_without_casbin() -> None:
    built = build_snapshot(MODEL, SHIPPED, version=3)

    loaded = snapshot_from_decisions(
        MODEL, SHIPPED, 3, decisions_of(built), decisions_fingerprint(MODEL)
    )

    assert loaded == built


def test_stored_decisions_of_another_model_are_not_trusted() -> None:
    built = build_snapshot(MODEL, SHIPPED, version=3)
    forged = [["root:readonly", "key.create", "team", ["root:readonly", "*", "team"]]]
    other_model = MODEL + "\n# another model\n"

    loaded = snapshot_from_decisions(MODEL, SHIPPED, 3, forged, decisions_fingerprint(other_model))

    assert loaded == built
    assert not loaded.decide("root:readonly", "key.create", Domain.TEAM).allowed


def test_stored_decisions_of_rules_that_no_longer_fit_are_refused() -> None:
    text = with_lines("p, root:full, key.destroy, team")

    with pytest.raises(PolicyLineError):
        snapshot_from_decisions(MODEL, text, 2, [], decisions_fingerprint(MODEL))


def test_rules_lists_the_lines_without_comments() -> None:
    snapshot = build_snapshot(MODEL, SHIPPED, version=1)

    assert "p, root:readonly, *.read, team" in snapshot.rules
    assert not any(rule.startswith("#") for rule in snapshot.rules)


async def test_builds_in_several_threads_at_once_all_succeed() -> None:
    # CPython 3.11's AST converter is not thread-safe and Casbin parses its matcher per call
    builds = [asyncio.to_thread(build_snapshot, MODEL, SHIPPED, n) for n in range(1, 5)]

    snapshots = await asyncio.gather(*builds)

    assert [snapshot.version for snapshot in snapshots] == [1, 2, 3, 4]
