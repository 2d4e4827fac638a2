"""The shipped policy as a truth table (the table is the spec policy authors read).

The expected decisions for the shipped presets, mailbox bindings, the operator and the
gateways are the rows of `policy_tests/shipped.csv`, written out from
docs/permissions.md by hand, never
computed from the policy: if the policy and that table disagree, one of them is wrong and a
person has to decide which. Each row is asked of the policy here as a request asks it
(`is_allowed`, `authorize`, `can_issue`); the rules below hold for every preset the table names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailkeys import policy
from mailkeys.errors import NotFoundError, PermissionDeniedError, PolicyConfigurationError
from mailkeys.policy import GATEWAY, OPERATOR, Actor, CredentialKind, Domain, Resource
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.rules import parse_policy
from mailkeys.policy.tables import ISSUE_PREFIX, TableCase, case_actor
from mailkeys.policy.validation import PolicyLineError
from mailkeys.policy.vocabulary import (
    APP_ROLES,
    MAILBOX_PERMISSIONS,
    PERMISSION_DOMAIN,
    PLATFORM_PERMISSIONS,
    TEAM_PERMISSIONS,
    expand_pattern,
)
from tests.shipped_table import decision_rows, issue_rows, preset_grants, row_id

REPO_ROOT = Path(__file__).resolve().parent.parent
TEAM = "team_A"
OTHER_TEAM = "team_B"
MAILBOXES = ("mbx_1", "mbx_2", "mbx_3", "mbx_4", "mbx_5")

# The grants of every shipped preset, as policy_tests/shipped.csv states them.
EXPECTED_PRESETS: dict[str, frozenset[str]] = preset_grants()
FULL_ACCESS = EXPECTED_PRESETS["root:full"]
READ_ONLY = EXPECTED_PRESETS["root:readonly"]
BILLING_ADMIN = EXPECTED_PRESETS["root:billing_admin"]
# What docs/permissions.md calls them (names are no decision, so the table does not hold them).
EXPECTED_PRESET_NAMES: dict[str, str] = {
    "root:full": "Full Access",
    "root:readonly": "Read Only",
    "root:provider_admin": "Provider Admin",
    "root:billing_admin": "Billing Admin",
    "root:webhook_admin": "Webhook Admin",
}

VOCABULARY: tuple[str, ...] = TEAM_PERMISSIONS + MAILBOX_PERMISSIONS + PLATFORM_PERMISSIONS


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def infrastructure_key(preset: str | None, team_id: str = TEAM) -> Actor:
    return Actor(
        kind=CredentialKind.INFRASTRUCTURE,
        credential_id="key_infra",
        team_id=team_id,
        preset=preset,
    )


def mailbox_class_key(
    kind: CredentialKind,
    permissions: frozenset[str],
    mailbox_ids: frozenset[str] | None,
    team_id: str = TEAM,
) -> Actor:
    return Actor(
        kind=kind,
        credential_id="key_mbx",
        team_id=team_id,
        permissions=permissions,
        mailbox_ids=mailbox_ids,
    )


def resource_for(permission: str, mailbox_id: str = "mbx_1", team_id: str = TEAM) -> Resource:
    """The natural target of a permission: a mailbox for mailbox permissions, else the team."""
    if PERMISSION_DOMAIN[permission] is Domain.MAILBOX:
        return Resource(team_id=team_id, mailbox_id=mailbox_id)
    return Resource(team_id=team_id)


def with_extra_lines(*extra: str) -> str:
    return shipped_policy_text().rstrip("\n") + "\n" + "\n".join(extra) + "\n"


def line_number_of_first_extra() -> int:
    return len(shipped_policy_text().rstrip("\n").splitlines()) + 1


def install_with_extra_lines(*extra: str) -> policy.PolicySnapshot:
    snapshot = build_snapshot(shipped_model_text(), with_extra_lines(*extra), version=2)
    policy.install(snapshot)
    return snapshot


# ---------------------------------------------------------------------------------------------
# The vocabulary the table is written against is the one docs/permissions.md lists
# ---------------------------------------------------------------------------------------------


def test_team_vocabulary_is_the_spec_list() -> None:
    assert frozenset(TEAM_PERMISSIONS) == FULL_ACCESS
    assert len(TEAM_PERMISSIONS) == len(FULL_ACCESS)


def test_mailbox_vocabulary_is_the_spec_list() -> None:
    assert frozenset(MAILBOX_PERMISSIONS) == {
        "email.send",
        "email.receive",
        "mailbox.read",
        "mailbox.settings.update",
    }


def test_shipped_presets_are_exactly_the_spec_presets(
    installed_policy: policy.PolicySnapshot,
) -> None:
    assert installed_policy.presets == EXPECTED_PRESET_NAMES


def test_packaged_policy_files_are_the_repository_root_files() -> None:
    # the service loads the packaged copies; the root files are what policy authors edit
    assert (REPO_ROOT / "casbin_model.conf").read_text() == shipped_model_text()
    assert (REPO_ROOT / "casbin_policy.csv").read_text() == shipped_policy_text()


# ---------------------------------------------------------------------------------------------
# The truth table: every row of policy_tests/shipped.csv
# ---------------------------------------------------------------------------------------------


def test_the_table_decides_every_permission_for_every_spec_preset() -> None:
    assert set(EXPECTED_PRESETS) == set(EXPECTED_PRESET_NAMES)
    for preset, granted in EXPECTED_PRESETS.items():
        assert granted <= set(VOCABULARY), preset  # and preset_grants() found one row each


def _request(case: TableCase) -> tuple[Actor, Resource]:
    """The row's credential and resource as a request of team `team_A` would carry them."""
    actor, resource = case_actor(case), case.resource
    team = {"team": TEAM, "other-team": OTHER_TEAM}[resource.team_id or "team"]
    if actor.team_id is None:  # the operator and the gateways belong to no team
        return actor, Resource(team_id=None, mailbox_id=resource.mailbox_id)
    return (
        Actor(
            kind=actor.kind,
            credential_id="key_table",
            team_id=TEAM,
            preset=actor.preset,
            permissions=actor.permissions,
            mailbox_ids=actor.mailbox_ids,
            team_role=actor.team_role,
        ),
        Resource(team_id=team, mailbox_id=resource.mailbox_id),
    )


DECISION_ROWS = decision_rows()


@pytest.mark.parametrize("case", DECISION_ROWS, ids=[row_id(case) for case in DECISION_ROWS])
def test_shipped_table_row_is_the_decision(case: TableCase) -> None:
    actor, resource = _request(case)
    permission = case.operation

    if resource.team_id == OTHER_TEAM:  # another team's resource is not found, never forbidden
        assert not case.expect_allowed
        with pytest.raises(NotFoundError):
            policy.authorize(actor, permission, resource)
        return
    assert policy.is_allowed(actor, permission, resource) is case.expect_allowed
    if case.expect_allowed:
        policy.authorize(actor, permission, resource)
    else:
        with pytest.raises(PermissionDeniedError) as denied:
            policy.authorize(actor, permission, resource)
        assert denied.value.permission == permission


ISSUE_ROWS = issue_rows()


@pytest.mark.parametrize("case", ISSUE_ROWS, ids=[row_id(case) for case in ISSUE_ROWS])
def test_shipped_table_issue_row_is_the_decision(case: TableCase) -> None:
    actor, _ = _request(case)

    assert policy.can_issue(actor, [case.operation.removeprefix(ISSUE_PREFIX)]) is (
        case.expect_allowed
    )


@pytest.mark.parametrize("preset", sorted(EXPECTED_PRESETS))
def test_preset_permissions_are_exactly_the_spec_grants(preset: str) -> None:
    assert set(policy.preset_permissions(preset)) == EXPECTED_PRESETS[preset]


@pytest.mark.parametrize("preset", sorted(EXPECTED_PRESETS))
def test_preset_effective_permissions_are_team_permissions_only(preset: str) -> None:
    assert (
        set(policy.effective_permissions(infrastructure_key(preset))) == (EXPECTED_PRESETS[preset])
    )


@pytest.mark.parametrize("preset", sorted(EXPECTED_PRESETS))
@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS)
@pytest.mark.parametrize("mailbox_id", ["mbx_1", None])
def test_infrastructure_key_is_refused_every_mailbox_permission(
    preset: str, permission: str, mailbox_id: str | None
) -> None:
    resource = Resource(team_id=TEAM, mailbox_id=mailbox_id)
    with pytest.raises(PermissionDeniedError):
        policy.authorize(infrastructure_key(preset), permission, resource)


@pytest.mark.parametrize("preset", sorted(EXPECTED_PRESETS))
@pytest.mark.parametrize("permission", PLATFORM_PERMISSIONS)
def test_infrastructure_key_is_refused_every_platform_permission(
    preset: str, permission: str
) -> None:
    with pytest.raises(PermissionDeniedError):
        policy.authorize(infrastructure_key(preset), permission)


@pytest.mark.parametrize("permission", VOCABULARY)
def test_infrastructure_key_without_preset_is_denied_everything(permission: str) -> None:
    assert not policy.is_allowed(infrastructure_key(None), permission, resource_for(permission))


@pytest.mark.parametrize("permission", VOCABULARY)
def test_infrastructure_key_with_unknown_preset_is_denied_everything(permission: str) -> None:
    actor = infrastructure_key("root:never_declared")
    assert not policy.is_allowed(actor, permission, resource_for(permission))


@pytest.mark.parametrize("role", ["role:operator", "kind:sending", "kind:mailbox", "kind:password"])
@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS + PLATFORM_PERMISSIONS)
def test_infrastructure_key_holding_a_non_preset_role_is_denied(role: str, permission: str) -> None:
    # an infrastructure key's preset is a `root:` preset; a stored value naming another role
    # must not lend the key the operator's or a mailbox-class kind's grants
    actor = infrastructure_key(role)
    assert not policy.is_allowed(actor, permission, resource_for(permission))


# ---------------------------------------------------------------------------------------------
# Mailbox-class credentials (sending keys, mailbox keys, mailbox passwords): what each binding
# allows on which mailbox is the table's "Bindings" rows; these rules hold for every binding.
# ---------------------------------------------------------------------------------------------

HELD = frozenset({"email.send", "mailbox.read"})
NOT_HELD = frozenset(MAILBOX_PERMISSIONS) - HELD

# (kind, mailbox binding, mailboxes the binding covers, mailboxes it does not cover)
BINDINGS: list[tuple[CredentialKind, frozenset[str] | None, tuple[str, ...], tuple[str, ...]]] = [
    (CredentialKind.SENDING, None, MAILBOXES, ()),
    (CredentialKind.SENDING, frozenset({"mbx_1", "mbx_3"}), ("mbx_1", "mbx_3"), ("mbx_2",)),
    (CredentialKind.SENDING, frozenset({"mbx_2"}), ("mbx_2",), ("mbx_1", "mbx_5")),
    (CredentialKind.MAILBOX, frozenset({"mbx_1"}), ("mbx_1",), ("mbx_2", "mbx_3")),
    (CredentialKind.PASSWORD, frozenset({"mbx_4"}), ("mbx_4",), ("mbx_1",)),
]


def binding_label(bound: frozenset[str] | None) -> str:
    return "all" if bound is None else "+".join(sorted(bound)) or "none"


BINDING_IDS = [f"{kind.value}-{binding_label(bound)}" for kind, bound, _, _ in BINDINGS]


@pytest.mark.parametrize(("kind", "bound", "covered", "uncovered"), BINDINGS, ids=BINDING_IDS)
@pytest.mark.parametrize("permission", TEAM_PERMISSIONS)
def test_mailbox_class_key_is_refused_every_team_permission(
    kind: CredentialKind,
    bound: frozenset[str] | None,
    covered: tuple[str, ...],
    uncovered: tuple[str, ...],
    permission: str,
) -> None:
    # even a key holding every mailbox permission gets no team administration
    actor = mailbox_class_key(kind, frozenset(MAILBOX_PERMISSIONS), bound)
    with pytest.raises(PermissionDeniedError):
        policy.authorize(actor, permission, Resource(team_id=TEAM))
    with pytest.raises(PermissionDeniedError):
        policy.authorize(actor, permission, Resource(team_id=TEAM, mailbox_id=covered[0]))


@pytest.mark.parametrize(("kind", "bound", "covered", "uncovered"), BINDINGS, ids=BINDING_IDS)
@pytest.mark.parametrize("permission", PLATFORM_PERMISSIONS)
def test_mailbox_class_key_is_refused_every_platform_permission(
    kind: CredentialKind,
    bound: frozenset[str] | None,
    covered: tuple[str, ...],
    uncovered: tuple[str, ...],
    permission: str,
) -> None:
    actor = mailbox_class_key(kind, frozenset(MAILBOX_PERMISSIONS), bound)
    with pytest.raises(PermissionDeniedError):
        policy.authorize(actor, permission)


@pytest.mark.parametrize(("kind", "bound", "covered", "uncovered"), BINDINGS, ids=BINDING_IDS)
def test_mailbox_class_key_effective_permissions_are_the_held_ones(
    kind: CredentialKind,
    bound: frozenset[str] | None,
    covered: tuple[str, ...],
    uncovered: tuple[str, ...],
) -> None:
    assert set(policy.effective_permissions(mailbox_class_key(kind, HELD, bound))) == HELD


@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS)
def test_mailbox_key_without_a_target_mailbox_is_denied(permission: str) -> None:
    # a bound key names no mailbox when the resource names none
    actor = mailbox_class_key(
        CredentialKind.MAILBOX, frozenset(MAILBOX_PERMISSIONS), frozenset({"mbx_1"})
    )
    assert not policy.is_allowed(actor, permission, Resource(team_id=TEAM))


@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS)
def test_sending_key_bound_to_no_mailbox_is_denied_everywhere(permission: str) -> None:
    actor = mailbox_class_key(CredentialKind.SENDING, frozenset(MAILBOX_PERMISSIONS), frozenset())
    for mailbox_id in MAILBOXES:
        assert not policy.is_allowed(actor, permission, Resource(TEAM, mailbox_id))


# ---------------------------------------------------------------------------------------------
# Another team's resource is not found, never forbidden
# ---------------------------------------------------------------------------------------------

CROSS_TEAM_ACTORS: list[Actor] = [
    *(infrastructure_key(preset) for preset in sorted(EXPECTED_PRESETS)),
    mailbox_class_key(CredentialKind.SENDING, frozenset(MAILBOX_PERMISSIONS), None),
    mailbox_class_key(CredentialKind.SENDING, frozenset(MAILBOX_PERMISSIONS), frozenset(MAILBOXES)),
    mailbox_class_key(CredentialKind.MAILBOX, frozenset(MAILBOX_PERMISSIONS), frozenset({"mbx_1"})),
    mailbox_class_key(
        CredentialKind.PASSWORD, frozenset(MAILBOX_PERMISSIONS), frozenset({"mbx_1"})
    ),
]
CROSS_TEAM_IDS = [
    actor.preset or f"{actor.kind.value}-{'all' if actor.mailbox_ids is None else 'bound'}"
    for actor in CROSS_TEAM_ACTORS
]


@pytest.mark.parametrize("actor", CROSS_TEAM_ACTORS, ids=CROSS_TEAM_IDS)
@pytest.mark.parametrize("permission", TEAM_PERMISSIONS + MAILBOX_PERMISSIONS)
def test_another_teams_resource_is_not_found(actor: Actor, permission: str) -> None:
    # the same mailbox id, the same permission: only the team differs
    resource = resource_for(permission, mailbox_id="mbx_1", team_id=OTHER_TEAM)
    with pytest.raises(NotFoundError):
        policy.authorize(actor, permission, resource)


@pytest.mark.parametrize("actor", CROSS_TEAM_ACTORS, ids=CROSS_TEAM_IDS)
def test_resource_without_team_is_not_found(actor: Actor) -> None:
    with pytest.raises(NotFoundError):
        policy.authorize(actor, "key.read", Resource(team_id=None))
    with pytest.raises(NotFoundError):
        policy.authorize(actor, "email.send", Resource(team_id=None, mailbox_id="mbx_1"))


# ---------------------------------------------------------------------------------------------
# The operator
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("permission", PLATFORM_PERMISSIONS)
def test_operator_is_allowed_every_platform_permission(permission: str) -> None:
    assert policy.is_allowed(OPERATOR, permission)
    policy.authorize(OPERATOR, permission, Resource())
    policy.authorize(OPERATOR, permission, Resource(team_id=TEAM))


@pytest.mark.parametrize("permission", TEAM_PERMISSIONS)
def test_operator_is_denied_every_team_permission(permission: str) -> None:
    with pytest.raises(PermissionDeniedError):
        policy.authorize(OPERATOR, permission, Resource(team_id=TEAM))


@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS)
def test_operator_is_denied_every_mailbox_permission(permission: str) -> None:
    with pytest.raises(PermissionDeniedError):
        policy.authorize(OPERATOR, permission, Resource(team_id=TEAM, mailbox_id="mbx_1"))


def test_operator_effective_permissions_are_the_platform_permissions() -> None:
    assert set(policy.effective_permissions(OPERATOR)) == set(PLATFORM_PERMISSIONS)


# ---------------------------------------------------------------------------------------------
# Issuing credentials: no privilege escalation (docs/permissions.md rules)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(EXPECTED_PRESETS))
def test_full_access_can_issue_every_preset(preset: str) -> None:
    assert policy.can_issue(infrastructure_key("root:full"), EXPECTED_PRESETS[preset])


def test_full_access_can_issue_every_mailbox_permission() -> None:
    actor = infrastructure_key("root:full")
    assert policy.can_issue(actor, MAILBOX_PERMISSIONS)
    for permission in MAILBOX_PERMISSIONS:
        assert policy.can_issue(actor, [permission])


@pytest.mark.parametrize("permission", PLATFORM_PERMISSIONS)
def test_full_access_cannot_issue_platform_permissions(permission: str) -> None:
    # Full Access holds no platform permission, so it may not put one into a credential
    assert not policy.can_issue(infrastructure_key("root:full"), [permission])


def test_read_only_cannot_issue_full_access() -> None:
    assert not policy.can_issue(infrastructure_key("root:readonly"), FULL_ACCESS)


def test_read_only_can_issue_read_only() -> None:
    assert policy.can_issue(infrastructure_key("root:readonly"), READ_ONLY)


@pytest.mark.parametrize(
    ("issuer", "preset", "expected"),
    [
        (issuer, preset, EXPECTED_PRESETS[preset] <= EXPECTED_PRESETS[issuer])
        for issuer in sorted(EXPECTED_PRESETS)
        if issuer != "root:full"
        for preset in sorted(EXPECTED_PRESETS)
    ],
)
def test_preset_can_issue_only_presets_it_covers(issuer: str, preset: str, expected: bool) -> None:
    assert policy.can_issue(infrastructure_key(issuer), EXPECTED_PRESETS[preset]) is expected


@pytest.mark.parametrize("issuer", sorted(set(EXPECTED_PRESETS) - {"root:full"}))
@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS)
def test_limited_preset_cannot_issue_mailbox_permissions(issuer: str, permission: str) -> None:
    assert not policy.can_issue(infrastructure_key(issuer), [permission])


def test_issuing_nothing_is_always_allowed() -> None:
    assert policy.can_issue(infrastructure_key("root:billing_admin"), [])


@pytest.mark.parametrize("kind", [CredentialKind.SENDING, CredentialKind.MAILBOX])
def test_mailbox_class_key_can_issue_only_what_it_holds(kind: CredentialKind) -> None:
    actor = mailbox_class_key(kind, HELD, frozenset({"mbx_1"}))
    assert policy.can_issue(actor, HELD)
    for permission in NOT_HELD:
        assert not policy.can_issue(actor, [permission])
    assert not policy.can_issue(actor, ["key.read"])


KEY_ADMIN_LINES = ("p2, root:key_admin, Key Admin", "p, root:key_admin, key.*, team")
KEY_PERMISSIONS = frozenset({"key.read", "key.create", "key.rotate", "key.revoke"})


# A fixture, not a cached function: built before any timed example, in whichever worker and
# order the tests that use it run (a first example paying for the build missed its deadline).
@pytest.fixture(scope="module")
def key_admin_policy() -> policy.PolicySnapshot:
    """The shipped policy plus a custom preset that may manage keys only (built once)."""
    return build_snapshot(shipped_model_text(), with_extra_lines(*KEY_ADMIN_LINES), version=2)


def test_custom_key_admin_preset_holds_exactly_key_permissions(
    key_admin_policy: policy.PolicySnapshot,
) -> None:
    snapshot = key_admin_policy
    policy.install(snapshot)
    assert snapshot.presets["root:key_admin"] == "Key Admin"
    assert set(policy.preset_permissions("root:key_admin")) == KEY_PERMISSIONS


@given(wanted=st.frozensets(st.sampled_from(VOCABULARY)))
def test_custom_key_admin_preset_can_issue_only_subsets_of_key_permissions(
    key_admin_policy: policy.PolicySnapshot, wanted: frozenset[str]
) -> None:
    policy.install(key_admin_policy)
    actor = infrastructure_key("root:key_admin")
    assert policy.can_issue(actor, wanted) is (wanted <= KEY_PERMISSIONS)


@given(
    issuer=st.sampled_from(sorted(set(EXPECTED_PRESETS) - {"root:full"})),
    wanted=st.frozensets(st.sampled_from(VOCABULARY)),
)
def test_limited_preset_can_issue_exactly_subsets_of_its_grants(
    issuer: str, wanted: frozenset[str]
) -> None:
    assert policy.can_issue(infrastructure_key(issuer), wanted) is (
        wanted <= EXPECTED_PRESETS[issuer]
    )


@given(wanted=st.frozensets(st.sampled_from(TEAM_PERMISSIONS + MAILBOX_PERMISSIONS)))
def test_full_access_can_issue_any_team_or_mailbox_permissions(wanted: frozenset[str]) -> None:
    assert policy.can_issue(infrastructure_key("root:full"), wanted)


# ---------------------------------------------------------------------------------------------
# Property tests of policy invariants
# ---------------------------------------------------------------------------------------------


@given(
    permission=st.sampled_from(VOCABULARY),
    mailbox_id=st.sampled_from(MAILBOXES) | st.none(),
)
def test_read_only_never_grants_anything_but_read(permission: str, mailbox_id: str | None) -> None:
    resource = Resource(team_id=TEAM, mailbox_id=mailbox_id)
    if policy.is_allowed(infrastructure_key("root:readonly"), permission, resource):
        assert permission.endswith(".read")
        assert PERMISSION_DOMAIN[permission] is Domain.TEAM


@given(
    preset=st.sampled_from(sorted(EXPECTED_PRESETS)),
    permission=st.sampled_from(MAILBOX_PERMISSIONS + PLATFORM_PERMISSIONS),
    mailbox_id=st.sampled_from(MAILBOXES) | st.none(),
)
def test_no_preset_grants_a_mailbox_or_platform_permission(
    preset: str, permission: str, mailbox_id: str | None
) -> None:
    resource = Resource(team_id=TEAM, mailbox_id=mailbox_id)
    assert not policy.is_allowed(infrastructure_key(preset), permission, resource)


def test_no_declared_preset_grants_a_mailbox_or_platform_permission(
    installed_policy: policy.PolicySnapshot,
) -> None:
    for preset in installed_policy.presets:
        assert installed_policy.grants(preset, Domain.MAILBOX) == []
        assert installed_policy.grants(preset, Domain.PLATFORM) == []


@given(
    held=st.frozensets(st.sampled_from(MAILBOX_PERMISSIONS)),
    bound=st.none() | st.frozensets(st.sampled_from(MAILBOXES)),
    permission=st.sampled_from(MAILBOX_PERMISSIONS),
    target=st.sampled_from(MAILBOXES),
)
def test_sending_key_is_allowed_exactly_when_held_and_bound(
    held: frozenset[str], bound: frozenset[str] | None, permission: str, target: str
) -> None:
    actor = mailbox_class_key(CredentialKind.SENDING, held, bound)
    expected = permission in held and (bound is None or target in bound)
    assert policy.is_allowed(actor, permission, Resource(TEAM, target)) is expected


@given(
    kind=st.sampled_from([CredentialKind.MAILBOX, CredentialKind.PASSWORD]),
    held=st.frozensets(st.sampled_from(MAILBOX_PERMISSIONS)),
    own=st.sampled_from(MAILBOXES),
    permission=st.sampled_from(MAILBOX_PERMISSIONS),
    target=st.sampled_from(MAILBOXES),
)
def test_mailbox_key_is_allowed_exactly_when_held_on_its_own_mailbox(
    kind: CredentialKind, held: frozenset[str], own: str, permission: str, target: str
) -> None:
    actor = mailbox_class_key(kind, held, frozenset({own}))
    expected = permission in held and target == own
    assert policy.is_allowed(actor, permission, Resource(TEAM, target)) is expected


@given(
    kind=st.sampled_from([CredentialKind.SENDING, CredentialKind.MAILBOX, CredentialKind.PASSWORD]),
    held=st.frozensets(st.sampled_from(MAILBOX_PERMISSIONS)),
    bound=st.none() | st.frozensets(st.sampled_from(MAILBOXES)),
    permission=st.sampled_from(TEAM_PERMISSIONS + PLATFORM_PERMISSIONS),
    target=st.sampled_from(MAILBOXES) | st.none(),
)
def test_mailbox_class_key_never_gets_team_or_platform_permissions(
    kind: CredentialKind,
    held: frozenset[str],
    bound: frozenset[str] | None,
    permission: str,
    target: str | None,
) -> None:
    actor = mailbox_class_key(kind, held, bound)
    assert not policy.is_allowed(actor, permission, Resource(TEAM, target))


# ---------------------------------------------------------------------------------------------
# Everything used: the policy file and the vocabulary cover each other
# ---------------------------------------------------------------------------------------------


def _shipped_grant_lines() -> list[tuple[int, str, str, str]]:
    text = (REPO_ROOT / "casbin_policy.csv").read_text()
    grants = []
    for line in parse_policy(text):
        if line.ptype == "p":
            role, pattern, domain = line.values
            grants.append((line.line_number, role, pattern, domain))
    return grants


SHIPPED_GRANT_LINES = _shipped_grant_lines()


@pytest.mark.parametrize(
    ("line_number", "role", "pattern", "domain"),
    SHIPPED_GRANT_LINES,
    ids=[f"line{n}-{r}-{p}-{d}" for n, r, p, d in SHIPPED_GRANT_LINES],
)
def test_every_policy_pattern_names_a_vocabulary_permission(
    line_number: int, role: str, pattern: str, domain: str
) -> None:
    wanted_domain = Domain(domain)
    # a delegation grant names permissions of any domain
    covered = expand_pattern(pattern, None if wanted_domain is Domain.DELEGATE else wanted_domain)
    assert covered, f"line {line_number}: {pattern!r} names no {domain} permission"


@pytest.mark.parametrize("permission", TEAM_PERMISSIONS)
def test_every_team_permission_is_granted_by_full_access(
    installed_policy: policy.PolicySnapshot, permission: str
) -> None:
    assert installed_policy.decide("root:full", permission, Domain.TEAM).allowed


@pytest.mark.parametrize("permission", MAILBOX_PERMISSIONS)
def test_every_mailbox_permission_is_usable_by_every_mailbox_class_kind(
    installed_policy: policy.PolicySnapshot, permission: str
) -> None:
    for role in ("kind:sending", "kind:mailbox", "kind:password"):
        assert installed_policy.decide(role, permission, Domain.MAILBOX).allowed


@pytest.mark.parametrize("permission", PLATFORM_PERMISSIONS)
def test_every_platform_permission_is_granted_to_the_operator(
    installed_policy: policy.PolicySnapshot, permission: str
) -> None:
    assert installed_policy.decide("role:operator", permission, Domain.PLATFORM).allowed


def test_every_declared_preset_grants_something(installed_policy: policy.PolicySnapshot) -> None:
    assert installed_policy.presets
    for preset in installed_policy.presets:
        assert installed_policy.grants(preset, Domain.TEAM), preset


def test_every_granted_role_is_a_preset_a_team_role_or_a_known_role(
    installed_policy: policy.PolicySnapshot,
) -> None:
    known = {
        "kind:sending",
        "kind:mailbox",
        "kind:password",
        "kind:app",
        "role:operator",
        "role:gateway",
        *APP_ROLES,
    }
    team_roles = {"member:owner", "member:admin", "member:developer", "member:member"}
    assert set(installed_policy.team_roles) == team_roles
    assert installed_policy.roles <= set(installed_policy.presets) | team_roles | known


@pytest.mark.parametrize("permission", VOCABULARY)
def test_the_gateway_may_only_check_credentials(permission: str) -> None:
    allowed = policy.is_allowed(GATEWAY, permission, Resource())
    assert allowed is (permission == "platform.credential.check")


# ---------------------------------------------------------------------------------------------
# The engine refuses malformed policies, naming the line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_line",
    [
        pytest.param("x, root:full, key.read, team", id="unknown-rule-type"),
        pytest.param("p3, root:full, key.read, team", id="undeclared-rule-type"),
        pytest.param("p, root:full, key.read", id="too-few-values"),
        pytest.param("p, root:full, key.read, team, extra", id="too-many-values"),
        pytest.param("p2, root:full", id="p2-too-few-values"),
        pytest.param("g, root:a", id="g-too-few-values"),
        pytest.param("p, , key.read, team", id="empty-value"),
        pytest.param("p, root:full, key.read, galaxy", id="unknown-domain"),
        pytest.param("p, root:full, key.read, Team", id="domain-wrong-case"),
        pytest.param("p, root:full, nothing.*, team", id="pattern-names-nothing"),
        pytest.param("p, root:full, key.destroy, team", id="unknown-permission"),
        pytest.param("p, root:full, email.send, team", id="permission-of-another-domain"),
        pytest.param("p, root:full, key.read, platform", id="team-permission-as-platform"),
        pytest.param("p, root:full, Key.Read, team", id="not-a-pattern"),
        pytest.param("p, root:full, key..read, team", id="empty-segment"),
        pytest.param("p, root:full, key.read, team # read keys", id="trailing-comment-on-p"),
        pytest.param("p, root:full, key.read, team, # read keys", id="comment-as-value"),
        pytest.param("p2, root:full, Full Access # the default", id="trailing-comment-on-p2"),
        pytest.param("g, root:alias, root:full # same as full", id="trailing-comment-on-g"),
        # a preset is what an infrastructure key holds: only `root:` roles may be presets, or
        # a key could be created holding the operator's or a mailbox-class kind's grants
        pytest.param("p2, role:operator, Operator", id="p2-operator-role-as-preset"),
        pytest.param("p2, kind:sending, Sending", id="p2-kind-role-as-preset"),
    ],
)
def test_build_snapshot_refuses_bad_line_naming_it(bad_line: str) -> None:
    with pytest.raises(PolicyLineError) as refused:
        build_snapshot(shipped_model_text(), with_extra_lines(bad_line), version=2)
    assert refused.value.line_number == line_number_of_first_extra()
    assert f"line {line_number_of_first_extra()}" in str(refused.value)


def test_policy_line_error_is_a_configuration_error() -> None:
    assert issubclass(PolicyLineError, PolicyConfigurationError)


def test_build_snapshot_refuses_preset_granting_nothing() -> None:
    with pytest.raises(PolicyConfigurationError) as refused:
        build_snapshot(shipped_model_text(), with_extra_lines("p2, root:empty, Empty"), version=2)
    assert "root:empty" in str(refused.value)


def test_build_snapshot_refuses_invalid_model() -> None:
    with pytest.raises(PolicyConfigurationError):
        build_snapshot("[request_definition]\nthis is not a model\n", "", version=2)


def test_build_snapshot_accepts_whole_line_comments_and_blank_lines() -> None:
    text = with_extra_lines("", "   # an indented whole-line comment", "")
    snapshot = build_snapshot(shipped_model_text(), text, version=7)
    assert snapshot.version == 7
    assert snapshot.presets == EXPECTED_PRESET_NAMES


def test_grouping_line_lets_a_preset_inherit_another() -> None:
    install_with_extra_lines("p2, root:alias, Alias", "g, root:alias, root:billing_admin")
    assert set(policy.preset_permissions("root:alias")) == BILLING_ADMIN


@pytest.mark.parametrize("permission", VOCABULARY)
def test_role_the_policy_never_mentions_is_denied(
    installed_policy: policy.PolicySnapshot, permission: str
) -> None:
    for domain in Domain:
        decision = installed_policy.decide("root:ghost", permission, domain)
        assert not decision.allowed
        assert decision.matched_rule is None
    assert not policy.is_allowed(
        infrastructure_key("root:ghost"), permission, resource_for(permission)
    )


def test_decision_names_the_matched_rule(installed_policy: policy.PolicySnapshot) -> None:
    decision = installed_policy.decide("root:readonly", "billing.read", Domain.TEAM)
    assert decision.allowed
    assert decision.matched_rule == ("root:readonly", "*.read", "team")
