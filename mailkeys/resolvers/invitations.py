"""Invitations: a team's members invite people by email, who accept once signed in.

An invitation is for whoever signs in at the identity provider with that email, verified;
it expires after 7 days, can be revoked, and is accepted once. A team holds at most its
`invitations` limit of pending invitations.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import (
    ConflictError,
    InvitationStateError,
    NotFoundError,
    PermissionDeniedError,
)
from mailkeys.models import Invitation, LimitedResource, MemberRole, Membership, Team
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, CredentialKind, team_for
from mailkeys.policy import team_roles as rules
from mailkeys.resolvers.changes import Action, change, record_event
from mailkeys.tokens import new_id
from mailkeys.validation import email_address, is_resource_id

INVITATION_LIFETIME = timedelta(days=7)
CREATE = Action("invitation.create", "member.invite", "invitation")
REVOKE = Action("invitation.revoke", "member.invite", "invitation")


async def invite(actor: Actor, email: str, role: MemberRole) -> Invitation:
    """Invite `email` to the actor's team with `role` (within the role rules)."""
    async with change(actor, CREATE) as attempt:
        rules.check_invitation(actor, role)
        address = email_address("email", email)
        now = clock.now()
        async with attempt.limited(LimitedResource.INVITATIONS):
            pending = Invitation.filter(
                team_id=attempt.team, email=address, accepted_at__isnull=True,
                revoked_at__isnull=True, expires_at__gt=now,
            )  # fmt: skip
            if await pending.exists():
                raise ConflictError("This address already has a pending invitation.")
            invitation = await Invitation.create(
                id=new_id("inv"),
                team_id=attempt.team,
                email=address,
                role=role,
                created_at=now,
                created_by=actor.label,
                expires_at=now + INVITATION_LIFETIME,
            )
            await attempt.succeeded(invitation.id, {"role": role.value})
    await invitation.fetch_related("team")
    return invitation


async def list_invitations(actor: Actor, first: int | None, after: str | None) -> Page[Invitation]:
    """The team's pending invitations, newest first."""
    team_id = team_for(actor, "member.read")
    query = Invitation.filter(
        team_id=team_id, accepted_at__isnull=True, revoked_at__isnull=True,
        expires_at__gt=clock.now(),
    )  # fmt: skip
    return await keyset_page(query.select_related("team"), first, after)


async def revoke_invitation(actor: Actor, invitation_id: str) -> Invitation:
    """Withdraw a pending invitation (idempotent)."""
    async with change(actor, REVOKE, invitation_id) as attempt, attempt.transaction():
        invitation = await attempt.load(Invitation, invitation_id)
        if invitation.accepted_at is not None:
            raise InvitationStateError(
                "INVITATION_ACCEPTED", "The invitation was accepted already."
            )
        if invitation.revoked_at is None:
            invitation.revoked_at = clock.now()
            await invitation.save(update_fields=["revoked_at"])
            await attempt.succeeded(invitation.id)
    await invitation.fetch_related("team")
    return invitation


async def my_invitations(actor: Actor) -> list[Invitation]:
    """The pending invitations for the signed-in person's verified email."""
    if actor.kind is not CredentialKind.PERSON or actor.email is None:
        return []
    return await Invitation.filter(
        email=actor.email, accepted_at__isnull=True, revoked_at__isnull=True,
        expires_at__gt=clock.now(),
    ).order_by("-created_at").select_related("team")  # fmt: skip


async def accept_invitation(actor: Actor, invitation_id: str) -> Membership:
    """Join a team: the invitation must be pending and for the person's verified email."""
    if actor.kind is not CredentialKind.PERSON or actor.credential_id is None:
        raise PermissionDeniedError("invitation.accept")
    try:
        async with in_transaction():
            invitation = await _invitation_for(actor, invitation_id)
            team = await Team.filter(id=invitation.team_id).select_for_update().first()
            if team is None or team.deleting:
                raise InvitationStateError("TEAM_DELETION_PENDING", "The team is being deleted.")
            if await Membership.filter(team_id=team.id, person_id=actor.credential_id).exists():
                raise ConflictError("You are a member of this team already.")
            now = clock.now()
            membership = await Membership.create(
                id=new_id("mbr"), team_id=team.id, person_id=actor.credential_id,
                role=invitation.role, created_at=now,
            )  # fmt: skip
            invitation.accepted_at, invitation.accepted_by = now, actor.credential_id
            await invitation.save(update_fields=["accepted_at", "accepted_by"])
            await record_event(
                actor, "invitation.accept", "invitation", invitation.id, team.id,
                details={"role": invitation.role.value, "membership": membership.id},
            )  # fmt: skip
    except (InvitationStateError, ConflictError, NotFoundError) as error:
        await record_event(
            actor, "invitation.accept", "invitation",
            invitation_id if is_resource_id(invitation_id) else None, None,
            outcome=type(error).__name__.removesuffix("Error").lower(),
        )  # fmt: skip
        raise
    await membership.fetch_related("person", "team")
    return membership


async def _invitation_for(actor: Actor, invitation_id: str) -> Invitation:
    """The invitation, if it is addressed to the person; else not found (nothing revealed)."""
    invitation = None
    if is_resource_id(invitation_id):
        invitation = await Invitation.filter(id=invitation_id).select_for_update().first()
    if invitation is None or actor.email is None or invitation.email != actor.email:
        raise NotFoundError("Invitation")
    if invitation.accepted_at is not None:
        raise InvitationStateError("INVITATION_ACCEPTED", "It was accepted already.")
    if invitation.revoked_at is not None:
        raise InvitationStateError("INVITATION_REVOKED", "The invitation was revoked.")
    if invitation.expires_at <= clock.now():
        raise InvitationStateError(
            "INVITATION_EXPIRED", "The invitation expired; ask for a new one."
        )
    return invitation
