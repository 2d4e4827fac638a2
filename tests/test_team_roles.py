"""The role rules as a table: every actor role x every target role x every action.

Expectations are written out by hand from the team roles table (docs/people.md), never
computed from the policy: Owners assign Admin, Developer or Member; Admins assign Developer
or Member; nobody assigns a role at or above their own, changes their own role, removes
themselves through the member list, or removes the Owner; ownership moves only by an
explicit transfer, by the Owner.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailkeys.errors import PermissionDeniedError, RoleRuleError
from mailkeys.models import MemberRole
from mailkeys.policy import Actor, CredentialKind
from mailkeys.policy import team_roles as rules
from mailkeys.policy.vocabulary import member_role_name

OWNER, ADMIN, DEVELOPER, MEMBER = (
    MemberRole.OWNER,
    MemberRole.ADMIN,
    MemberRole.DEVELOPER,
    MemberRole.MEMBER,
)
ROLES = (OWNER, ADMIN, DEVELOPER, MEMBER)
ME, SOMEONE = "usr_me", "usr_someone"

# Which roles each role may give and take away.
ASSIGNS = {
    OWNER: {ADMIN, DEVELOPER, MEMBER},
    ADMIN: {DEVELOPER, MEMBER},
    DEVELOPER: set(),
    MEMBER: set(),
}
# Which roles may manage members at all (invite, change roles, remove).
MANAGES = {OWNER, ADMIN}

Check = Callable[[], None]


def person(role: MemberRole) -> Actor:
    return Actor(
        kind=CredentialKind.PERSON,
        credential_id=ME,
        team_id="team_1",
        team_role=member_role_name(role),
        email="me@example.com",
    )


def outcome(check: Check) -> str:
    """`allow`, the rule a RoleRuleError names, or `forbidden` for a plain policy refusal."""
    try:
        check()
    except RoleRuleError as error:
        return error.rule
    except PermissionDeniedError:
        return "forbidden"
    return "allow"


def expected_change(actor: MemberRole, target: MemberRole, new: MemberRole, self_: bool) -> str:
    if actor not in MANAGES:
        return "forbidden"
    if self_:
        return rules.OWN_ROLE
    if target is OWNER or new is OWNER:
        return rules.OWNER_BY_TRANSFER
    if target not in ASSIGNS[actor] or new not in ASSIGNS[actor]:
        return rules.ROLE_NOT_ASSIGNABLE
    return "allow"


def expected_removal(actor: MemberRole, target: MemberRole, self_: bool) -> str:
    if actor not in MANAGES:
        return "forbidden"
    if self_:
        return rules.SELF_REMOVAL
    if target is OWNER:
        return rules.OWNER_REMOVAL
    return "allow" if target in ASSIGNS[actor] else rules.ROLE_NOT_ASSIGNABLE


# (actor's role, target's role, is the target the actor) for every pair, and oneself.
PAIRS = [(a, t, False) for a in ROLES for t in ROLES] + [(a, a, True) for a in ROLES]


def _pair_id(pair: tuple[MemberRole, MemberRole, bool]) -> str:
    actor, target, self_ = pair
    return f"{actor.value}-on-{'self' if self_ else target.value}"


@pytest.mark.parametrize("new", ROLES, ids=lambda r: f"to-{r.value}")
@pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
def test_changing_a_role(pair: tuple[MemberRole, MemberRole, bool], new: MemberRole) -> None:
    actor, target, self_ = pair
    check = lambda: rules.check_role_change(  # noqa: E731
        person(actor), ME if self_ else SOMEONE, target, new
    )
    assert outcome(check) == expected_change(actor, target, new, self_)


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
def test_removing_a_member(pair: tuple[MemberRole, MemberRole, bool]) -> None:
    actor, target, self_ = pair
    check = lambda: rules.check_removal(person(actor), ME if self_ else SOMEONE, target)  # noqa: E731
    assert outcome(check) == expected_removal(actor, target, self_)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: f"as-{r.value}")
@pytest.mark.parametrize("actor", ROLES, ids=lambda r: f"actor-{r.value}")
def test_inviting(actor: MemberRole, role: MemberRole) -> None:
    if actor not in MANAGES:
        expected = "forbidden"
    elif role is OWNER:
        expected = rules.OWNER_BY_TRANSFER
    else:
        expected = "allow" if role in ASSIGNS[actor] else rules.ROLE_NOT_ASSIGNABLE
    assert outcome(lambda: rules.check_invitation(person(actor), role)) == expected


@pytest.mark.parametrize("actor", ROLES, ids=lambda r: f"actor-{r.value}")
def test_only_the_owner_hands_the_team_over(actor: MemberRole) -> None:
    to_someone = outcome(lambda: rules.check_transfer(person(actor), SOMEONE))
    to_self = outcome(lambda: rules.check_transfer(person(actor), ME))
    assert to_someone == ("allow" if actor is OWNER else "forbidden")
    assert to_self == (rules.OWN_ROLE if actor is OWNER else "forbidden")


@pytest.mark.parametrize(
    "check",
    [
        lambda actor: rules.check_invitation(actor, MEMBER),
        lambda actor: rules.check_role_change(actor, SOMEONE, MEMBER, DEVELOPER),
        lambda actor: rules.check_removal(actor, SOMEONE, MEMBER),
        lambda actor: rules.check_transfer(actor, SOMEONE),
    ],
    ids=["invite", "change", "remove", "transfer"],
)
def test_keys_never_manage_members_whatever_their_preset(
    check: Callable[[Actor], None],
) -> None:
    full_access_key = Actor(
        kind=CredentialKind.INFRASTRUCTURE, credential_id="key_1", team_id="team_1",
        preset="root:full",
    )  # fmt: skip
    assert outcome(lambda: check(full_access_key)) == "forbidden"
