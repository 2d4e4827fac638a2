"""Decision tables: the shipped one holds for the shipped policy, and mismatches read well."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailkeys.errors import DecisionTableError
from mailkeys.policy import CredentialKind, PolicySnapshot
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.files import shipped_model_text, shipped_policy_text, shipped_table_text
from mailkeys.policy.tables import (
    DecisionTable,
    parse_table,
    run_table,
)
from mailkeys.policy.vocabulary import (
    MAILBOX_PERMISSIONS,
    PERMISSION_DOMAIN,
)
from tests.test_policy_truth_table import EXPECTED_PRESET_NAMES

REPO_ROOT = Path(__file__).resolve().parent.parent
HEADER = "credential,preset,permissions,mailboxes,operation,resource,expect\n"


@pytest.fixture(scope="module")
def shipped() -> DecisionTable:
    return parse_table(shipped_table_text(), "shipped.csv")


def test_packaged_table_is_the_repository_file() -> None:
    assert (REPO_ROOT / "policy_tests" / "shipped.csv").read_text() == shipped_table_text()


def test_shipped_table_holds_for_the_shipped_policy(
    shipped: DecisionTable, installed_policy: PolicySnapshot
) -> None:
    run = run_table(shipped, installed_policy)

    assert [result.describe() for result in run.mismatches] == []
    assert run.passed == len(shipped.cases) > 500


def test_shipped_table_covers_every_preset_and_permission(shipped: DecisionTable) -> None:
    covered = {
        (case.actor.preset, case.operation)
        for case in shipped.cases
        if case.actor.kind is CredentialKind.INFRASTRUCTURE and case.actor.preset
    }
    for preset in EXPECTED_PRESET_NAMES:
        for permission in PERMISSION_DOMAIN:
            assert (preset, permission) in covered, (preset, permission)


def test_shipped_table_covers_mailbox_class_kinds_and_bindings(shipped: DecisionTable) -> None:
    kinds = {case.actor.kind for case in shipped.cases}
    assert {
        CredentialKind.SENDING,
        CredentialKind.MAILBOX,
        CredentialKind.PASSWORD,
        CredentialKind.OPERATOR,
        CredentialKind.GATEWAY,
    } <= kinds
    bound_denials = [
        case
        for case in shipped.cases
        if case.actor.mailbox_ids is not None
        and case.resource.mailbox_id not in case.actor.mailbox_ids
        and case.operation in MAILBOX_PERMISSIONS
    ]
    assert bound_denials
    assert not any(case.expect_allowed for case in bound_denials)
    assert any(case.operation.startswith("issue:") for case in shipped.cases)


def test_a_policy_change_shows_as_readable_mismatches(shipped: DecisionTable) -> None:
    # Read Only also gets to create keys
    changed = build_snapshot(
        shipped_model_text(),
        shipped_policy_text() + "p, root:readonly, key.create, team\n",
        version=2,
    )

    run = run_table(shipped, changed)

    assert len(run.mismatches) == 2  # key.create, and issuing key.create
    described = run.mismatches[0].describe()
    assert described.startswith("line ")
    assert "infrastructure root:readonly: key.create on team" in described
    assert "expected deny, got allow" in described
    assert "matched p, root:readonly, key.create, team" in described
    assert run.policy_version == 2


def test_denials_name_their_reason_in_mismatches() -> None:
    table = parse_table(
        HEADER + "sending,,email.send,mbx_1,email.send,mailbox:mbx_2,allow\n", "mine.csv"
    )
    snapshot = build_snapshot(shipped_model_text(), shipped_policy_text(), version=1)

    [mismatch] = run_table(table, snapshot).mismatches

    assert mismatch.describe() == (
        "line 2: sending [email.send] on mbx_1: email.send on mailbox:mbx_2: "
        "expected allow, got deny "
        "(not_bound, although p, kind:sending, email.send, mailbox matched)"
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("robot,,,,key.read,team,allow", "unknown credential 'robot'"),
        ("infrastructure,root:full,,,key.destroy,team,allow", "unknown operation"),
        ("infrastructure,root:full,,,key.read,team,maybe", "allow or deny"),
        ("infrastructure,root:full,,,key.read,galaxy,allow", "unknown resource"),
        ("infrastructure,root:full,,,key.read,team", "7 cells expected"),
        ("sending,root:full,,,email.send,mailbox:m,allow", "only infrastructure keys"),
        ("mailbox,,email.send,,email.send,mailbox:m,allow", "names one mailbox"),
        ("sending,,email.fly,,email.send,mailbox:m,allow", "unknown permission"),
        ("operator,,email.send,,platform.team.create,team,allow", "list no permissions"),
    ],
)
def test_unreadable_rows_name_their_line(row: str, reason: str) -> None:
    with pytest.raises(DecisionTableError) as refused:
        parse_table("# a comment\n" + HEADER + row + "\n", "mine.csv")

    assert refused.value.line_number == 3
    assert reason in refused.value.reason
    assert str(refused.value).startswith("mine.csv:3: ")
    assert refused.value.field == "decisionTable"


def test_a_table_needs_its_header() -> None:
    with pytest.raises(DecisionTableError) as refused:
        parse_table("infrastructure,root:full,,,key.read,team,allow\n", "mine.csv")
    assert refused.value.line_number == 1


def test_columns_may_come_in_any_order() -> None:
    table = parse_table(
        "expect,operation,resource,credential,preset,permissions,mailboxes\n"
        "allow,key.read,team,infrastructure,root:readonly,,\n",
        "mine.csv",
    )
    snapshot = build_snapshot(shipped_model_text(), shipped_policy_text(), version=1)

    assert run_table(table, snapshot).mismatches == []
