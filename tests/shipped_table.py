"""The expected decisions of the shipped policy, as `policy_tests/shipped.csv` writes them.

That table is the one statement of the presets' grants (docs/permissions.md) the tests
check the policy against: the truth
table (test_policy_truth_table) runs each of its rows, the GraphQL preset table
(test_presets_over_graphql) looks up who may run each operation in it, and a policy change
that breaks it is refused without `force`. Tests keep no copy of the presets' grants.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from mailkeys.policy import CredentialKind, Domain
from mailkeys.policy.tables import ISSUE_PREFIX, DecisionTable, TableCase, parse_table
from mailkeys.policy.vocabulary import PERMISSION_DOMAIN

TABLE_PATH = Path(__file__).resolve().parent.parent / "policy_tests" / "shipped.csv"
OWN_MAILBOX = "mbx_1"  # the mailbox the table's mailbox-class credentials act on


@cache
def shipped_table() -> DecisionTable:
    """`policy_tests/shipped.csv`, parsed."""
    return parse_table(TABLE_PATH.read_text(), "policy_tests/shipped.csv")


def decision_rows() -> list[TableCase]:
    """Every row that asks for a decision on a resource (not about issuing)."""
    return [case for case in shipped_table().cases if not case.operation.startswith(ISSUE_PREFIX)]


def issue_rows() -> list[TableCase]:
    """Every row that asks whether a credential may issue a permission."""
    return [case for case in shipped_table().cases if case.operation.startswith(ISSUE_PREFIX)]


def row_id(case: TableCase) -> str:
    """A test id naming the row's line and what it says."""
    expect = "allow" if case.expect_allowed else "deny"
    return f"line{case.line_number}-{case.describe()}-{expect}".replace(" ", "_")


def _natural_resource(permission: str) -> str:
    return f"mailbox:{OWN_MAILBOX}" if PERMISSION_DOMAIN[permission] is Domain.MAILBOX else "team"


def expected(
    kind: CredentialKind,
    permission: str,
    preset: str | None = None,
    permissions: frozenset[str] = frozenset(),
    mailboxes: frozenset[str] | None = None,
) -> bool:
    """The table's decision for a credential and a permission on its natural resource.

    That resource is the credential's team for team and platform permissions, and its own
    mailbox `mbx_1` for mailbox permissions. A credential or permission the table does not
    decide is an error: add the row to policy_tests/shipped.csv.
    """
    resource = _natural_resource(permission)
    found = {
        case.expect_allowed
        for case in decision_rows()
        if case.actor.kind is kind
        and case.actor.preset == preset
        and case.actor.permissions == permissions
        and case.actor.mailbox_ids == mailboxes
        and case.operation == permission
        and case.resource_label == resource
    }
    if len(found) != 1:
        held = " ".join(sorted(permissions))
        raise LookupError(
            f"policy_tests/shipped.csv decides {kind.value} {preset or ''} [{held}] "
            f"{permission} on {resource} {len(found)} ways; it must decide it once"
        )
    return found.pop()


def presets() -> list[str]:
    """The presets the table decides for."""
    return sorted(
        {
            case.actor.preset
            for case in shipped_table().cases
            if case.actor.kind is CredentialKind.INFRASTRUCTURE and case.actor.preset
        }
    )


def preset_grants() -> dict[str, frozenset[str]]:
    """Each preset's permissions, as the table states them (one row per permission)."""
    return {
        preset: frozenset(
            permission
            for permission in PERMISSION_DOMAIN
            if expected(CredentialKind.INFRASTRUCTURE, permission, preset=preset)
        )
        for preset in presets()
    }
