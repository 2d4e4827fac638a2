"""The role rules: who may give, change and take away which team role.

What each role may do is policy (the `member:<role>` lines), and so is which roles a role may
assign: `member.assign.<role>` in the `people` domain (an Admin assigns Developer and Member,
an Owner also Admin). The rules that are about the people involved rather than their roles
are stated here, once:

- OWN_ROLE: nobody changes their own role;
- SELF_REMOVAL: nobody removes themselves through the member list;
- OWNER_REMOVAL: nobody removes the Owner;
- OWNER_BY_TRANSFER: nobody is made Owner but by an explicit ownership transfer;
- ROLE_NOT_ASSIGNABLE: nobody gives, changes or takes away a role the policy does not let
  them assign (which, with the shipped policy, is any role at or above their own).

Each refusal is FORBIDDEN with `extensions.rule` naming the rule.
"""

from __future__ import annotations

from mailkeys.errors import PermissionDeniedError, RoleRuleError
from mailkeys.models.people import MemberRole
from mailkeys.policy.actor import Actor
from mailkeys.policy.decide import authorize, is_allowed
from mailkeys.policy.vocabulary import CredentialKind

OWN_ROLE = "OWN_ROLE"
SELF_REMOVAL = "SELF_REMOVAL"
OWNER_REMOVAL = "OWNER_REMOVAL"
OWNER_BY_TRANSFER = "OWNER_BY_TRANSFER"
ROLE_NOT_ASSIGNABLE = "ROLE_NOT_ASSIGNABLE"


def assign_permission(role: MemberRole) -> str:
    """The permission to give or take away `role`: `member.assign.developer`."""
    return f"member.assign.{role.value}"


def _person(actor: Actor, permission: str) -> None:
    """Members are managed by people; keys and apps never (whatever the policy says)."""
    if actor.kind is not CredentialKind.PERSON:
        raise PermissionDeniedError(permission)


def _may_assign(actor: Actor, role: MemberRole, what: str) -> None:
    if role is MemberRole.OWNER:
        raise RoleRuleError(
            OWNER_BY_TRANSFER, "A team gets a new Owner only by an ownership transfer."
        )
    if not is_allowed(actor, assign_permission(role)):
        raise RoleRuleError(ROLE_NOT_ASSIGNABLE, f"Your role may not {what} {role.value}s.")


def check_invitation(actor: Actor, role: MemberRole) -> None:
    """May `actor` invite someone to their team with `role`?"""
    _person(actor, "member.invite")
    authorize(actor, "member.invite")
    _may_assign(actor, role, "invite")


def check_role_change(
    actor: Actor, target_person_id: str, current: MemberRole, new: MemberRole
) -> None:
    """May `actor` change a member's role from `current` to `new`?"""
    _person(actor, "member.update")
    authorize(actor, "member.update")
    if target_person_id == actor.credential_id:
        raise RoleRuleError(OWN_ROLE, "Nobody changes their own role.")
    if MemberRole.OWNER in (current, new):
        raise RoleRuleError(OWNER_BY_TRANSFER, "Ownership changes only by a transfer.")
    _may_assign(actor, current, "change the role of")
    _may_assign(actor, new, "make people")


def check_removal(actor: Actor, target_person_id: str, role: MemberRole) -> None:
    """May `actor` remove a member with `role` from their team?"""
    _person(actor, "member.remove")
    authorize(actor, "member.remove")
    if target_person_id == actor.credential_id:
        raise RoleRuleError(SELF_REMOVAL, "Nobody removes themselves through the member list.")
    if role is MemberRole.OWNER:
        raise RoleRuleError(OWNER_REMOVAL, "Nobody removes the Owner.")
    _may_assign(actor, role, "remove")


def check_transfer(actor: Actor, target_person_id: str) -> None:
    """May `actor` hand their team over to another member?"""
    _person(actor, "team.transfer")
    authorize(actor, "team.transfer")
    if target_person_id == actor.credential_id:
        raise RoleRuleError(OWN_ROLE, "You already own this team.")
