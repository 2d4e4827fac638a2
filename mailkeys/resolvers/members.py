"""A team's members: listing them, changing roles, removing, handing ownership over.

Who may do what is the policy's (`member.*`, `team.transfer`) and the role rules'
(`mailkeys.policy.team_roles`); every change is audited and holds on the next request on
every worker, because a person's role is read with every request.
"""

from __future__ import annotations

from mailkeys.errors import NotFoundError
from mailkeys.models import MemberRole, Membership
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, CredentialKind, team_for
from mailkeys.policy import team_roles as rules
from mailkeys.resolvers.changes import Action, Attempt, change
from mailkeys.validation import is_resource_id

ROLE_UPDATE = Action("member.role.update", "member.update", "membership")
REMOVE = Action("member.remove", "member.remove", "membership")
TRANSFER = Action("team.ownership.transfer", "team.transfer", "membership")


async def list_members(actor: Actor, first: int | None, after: str | None) -> Page[Membership]:
    """The team's members with their roles, newest first."""
    team_id = team_for(actor, "member.read")
    query = Membership.filter(team_id=team_id).select_related("person", "team")
    return await keyset_page(query, first, after)


async def my_memberships(actor: Actor) -> list[Membership]:
    """The signed-in person's teams and roles, newest first (no permission needed)."""
    if actor.kind is not CredentialKind.PERSON or actor.credential_id is None:
        return []
    query = Membership.filter(person_id=actor.credential_id).order_by("-created_at")
    return await query.select_related("team", "person")


async def _membership(attempt: Attempt, member_id: str, locked: bool = False) -> Membership:
    """A membership of the actor's team (rows of other teams are not found)."""
    if not is_resource_id(member_id):
        raise NotFoundError("Membership")
    query = Membership.filter(id=member_id, team_id=attempt.team)
    if not locked:
        membership = await query.select_related("person", "team").first()
    else:
        # PostgreSQL refuses FOR UPDATE across the outer joins select_related makes: lock the
        # row alone, then read its person and team.
        membership = await query.select_for_update().first()
        if membership is not None:
            await membership.fetch_related("person", "team")
    if membership is None:
        raise NotFoundError("Membership")
    return membership


async def update_role(actor: Actor, member_id: str, role: MemberRole) -> Membership:
    """Give a member another role, within the role rules."""
    async with change(actor, ROLE_UPDATE, member_id) as attempt, attempt.locked():
        membership = await _membership(attempt, member_id, locked=True)
        previous = MemberRole(membership.role)
        rules.check_role_change(actor, membership.person_id, previous, role)
        if previous is not role:
            membership.role = role
            await membership.save(update_fields=["role"])
            await attempt.succeeded(
                membership.id,
                {"person": membership.person_id, "from": previous.value, "to": role.value},
            )
    return membership


async def remove_member(actor: Actor, member_id: str) -> Membership:
    """Take a member out of the team: their access ends with their next request."""
    async with change(actor, REMOVE, member_id) as attempt, attempt.locked():
        membership = await _membership(attempt, member_id, locked=True)
        rules.check_removal(actor, membership.person_id, MemberRole(membership.role))
        await membership.delete()
        await attempt.succeeded(
            membership.id, {"person": membership.person_id, "role": membership.role.value}
        )
    return membership


async def transfer_ownership(actor: Actor, member_id: str) -> Membership:
    """Make another member the Owner; the previous Owner becomes an Admin."""
    async with change(actor, TRANSFER, member_id) as attempt, attempt.locked():
        membership = await _membership(attempt, member_id, locked=True)
        rules.check_transfer(actor, membership.person_id)
        owner = await Membership.get(team_id=attempt.team, person_id=actor.credential_id)
        owner.role = MemberRole.ADMIN
        membership.role = MemberRole.OWNER
        await owner.save(update_fields=["role"])
        await membership.save(update_fields=["role"])
        await attempt.succeeded(
            membership.id, {"from": actor.credential_id, "to": membership.person_id}
        )
    return membership
