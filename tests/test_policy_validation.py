"""Rules Casbin accepts but the service cannot mean are refused, each naming its line.

A g line to a role that grants nothing, a preset that ends up with platform permissions, and
a delegate line that the issuing rules ignore all evaluate in Casbin; here they are refused
with the line to fix, as every other problem is.
"""

from __future__ import annotations

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

MODEL = shipped_model_text()
SHIPPED = shipped_policy_text()
FIRST_EXTRA = len(SHIPPED.rstrip("\n").splitlines()) + 1


def with_lines(*extra: str) -> str:
    return SHIPPED.rstrip("\n") + "\n" + "\n".join(extra) + "\n"


def problems_of(*extra: str) -> list[tuple[int, str]]:
    """(line, reason) of every problem, line numbers counted from the first extra line."""
    snapshot, problems = compile_policy(MODEL, with_lines(*extra), version=2)
    assert (snapshot is None) == bool(problems)
    return [(problem.line_number - FIRST_EXTRA, problem.reason) for problem in problems]


def test_the_shipped_policy_has_no_problem() -> None:
    assert compile_policy(MODEL, SHIPPED, version=1)[1] == []


# ---------------------------------------------------------------------------------------------
# A g line to a role that grants nothing
# ---------------------------------------------------------------------------------------------

AUDITOR = ("p2, root:auditor, Auditor", "p, root:auditor, logs.read, team")


def test_g_line_to_a_group_role_granting_nothing_is_refused_naming_it() -> None:
    problems = problems_of(*AUDITOR, "g, root:auditor, role:nobody")

    assert [line for line, _ in problems] == [2]
    assert "role 'role:nobody' grants nothing" in problems[0][1]


def test_g_line_to_a_preset_granting_nothing_is_refused_with_the_preset() -> None:
    problems = problems_of(*AUDITOR, "p2, root:empty, Empty", "g, root:auditor, root:empty")

    assert [line for line, _ in problems] == [2, 3]
    assert "preset 'root:empty' grants nothing" in problems[0][1]
    assert "role 'root:empty' grants nothing" in problems[1][1]


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(
            ("g, root:auditor, role:staff", "g, role:staff, root:billing_admin"), id="chain"
        ),
        pytest.param(
            ("g, root:auditor, role:issuer", "p, role:issuer, email.send, delegate"),
            id="delegation-only",
        ),
        pytest.param(("g, root:auditor, root:readonly",), id="preset"),
    ],
)
def test_g_line_to_a_role_that_grants_something_is_accepted(lines: tuple[str, ...]) -> None:
    assert problems_of(*AUDITOR, *lines) == []


# ---------------------------------------------------------------------------------------------
# A preset holding platform permissions
# ---------------------------------------------------------------------------------------------

STAFF = ("p2, root:staff, Staff", "p, root:staff, team.read, team")


@pytest.mark.parametrize(
    ("lines", "chain"),
    [
        pytest.param(
            ("g, root:staff, role:operator",), "root:staff -> role:operator", id="operator"
        ),
        pytest.param(("g, root:staff, role:gateway",), "root:staff -> role:gateway", id="gateway"),
        pytest.param(
            ("g, root:staff, role:oncall", "g, role:oncall, role:operator"),
            "root:staff -> role:oncall -> role:operator",
            id="through-a-group",
        ),
        pytest.param(
            ("g, root:staff, role:auditors", "p, role:auditors, platform.audit.read, platform"),
            "root:staff -> role:auditors",
            id="group-granting-platform",
        ),
    ],
)
def test_preset_inheriting_platform_permissions_is_refused_naming_its_g_line(
    lines: tuple[str, ...], chain: str
) -> None:
    problems = problems_of(*STAFF, *lines)

    assert [line for line, _ in problems] == [2]
    assert "preset 'root:staff' would hold platform permissions" in problems[0][1]
    assert chain in problems[0][1]


def test_preset_granted_a_platform_permission_directly_is_refused_naming_the_p_line() -> None:
    problems = problems_of(*STAFF, "p, root:staff, platform.audit.read, platform")

    assert problems == [
        (
            2,
            "preset 'root:staff' would hold platform permissions (platform.audit.read); "
            "infrastructure keys never hold them",
        )
    ]


def test_preset_inheriting_a_preset_that_inherits_the_operator_names_each_g_line() -> None:
    problems = problems_of(
        *STAFF, "p2, root:lead, Lead", "g, root:lead, root:staff", "g, root:staff, role:operator"
    )

    assert [line for line, _ in problems] == [3, 4]
    assert "root:lead -> root:staff -> role:operator" in problems[0][1]
    assert "root:staff -> role:operator" in problems[1][1]


def test_stored_decisions_giving_a_preset_platform_permissions_are_refused() -> None:
    text = with_lines(*STAFF, "g, root:staff, role:operator")
    # what a worker would have stored for these rules (only the allowed answers are stored)
    decisions = [
        *decisions_of(build_snapshot(MODEL, SHIPPED, version=1)),
        ["root:staff", "team.read", "team", ["root:staff", "team.read", "team"]],
        ["root:staff", "platform.team.create", "platform", ["role:operator", "*", "platform"]],
    ]

    with pytest.raises(PolicyLineError) as refused:
        snapshot_from_decisions(MODEL, text, 2, decisions, decisions_fingerprint(MODEL))

    assert refused.value.line_number == FIRST_EXTRA + 2


# ---------------------------------------------------------------------------------------------
# A delegate line the issuing rules ignore
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("p, root:readonly, key.create, delegate", id="team-permission"),
        pytest.param("p, root:readonly, key.*, delegate", id="team-pattern"),
        pytest.param("p, root:full, platform.*, delegate", id="platform-pattern"),
        pytest.param("p, root:full, nothing.*, delegate", id="unknown"),
    ],
)
def test_delegate_line_covering_no_mailbox_permission_is_refused(line: str) -> None:
    problems = problems_of(line)

    assert [number for number, _ in problems] == [0]
    assert "delegation counts only for mailbox permissions" in problems[0][1]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("p, kind:sending, email.send, delegate", id="sending"),
        pytest.param("p, kind:password, mailbox.read, delegate", id="password"),
        pytest.param("p, role:operator, email.*, delegate", id="operator"),
        pytest.param("p, role:gateway, email.receive, delegate", id="gateway"),
    ],
)
def test_delegate_line_of_a_built_in_role_is_refused(line: str) -> None:
    problems = problems_of(line)

    assert [number for number, _ in problems] == [0]
    assert "never issues credentials" in problems[0][1]


def test_delegate_line_of_a_group_no_preset_inherits_is_refused() -> None:
    problems = problems_of("g, kind:sending, role:senders", "p, role:senders, email.send, delegate")

    assert [number for number, _ in problems] == [1]
    assert "no preset or team role inherits 'role:senders'" in problems[0][1]


@pytest.mark.parametrize(
    ("lines", "delegated"),
    [
        pytest.param(("p, root:readonly, email.send, delegate",), "email.send", id="preset"),
        pytest.param(
            ("p, root:readonly, *, delegate",), "email.receive", id="pattern-covering-some"
        ),
        pytest.param(("p, root:readonly, *.read, delegate",), "mailbox.read", id="read-pattern"),
        pytest.param(
            (
                "g, root:readonly, role:mid",
                "g, role:mid, role:issuer",
                "p, role:issuer, email.send, delegate",
            ),
            "email.send",
            id="group-a-preset-inherits",
        ),
    ],
)
def test_delegate_line_a_preset_uses_is_accepted(lines: tuple[str, ...], delegated: str) -> None:
    assert problems_of(*lines) == []

    snapshot = build_snapshot(MODEL, with_lines(*lines), version=2)

    assert snapshot.decide("root:readonly", delegated, Domain.DELEGATE).allowed


# ---------------------------------------------------------------------------------------------
# All of them at once
# ---------------------------------------------------------------------------------------------


def test_every_problem_with_what_the_rules_grant_is_reported_in_line_order() -> None:
    problems = problems_of(
        *STAFF,
        "g, root:staff, role:operator",
        "p2, root:empty, Empty",
        "g, root:staff, role:nobody",
    )

    assert [line for line, _ in problems] == [2, 3, 4]
