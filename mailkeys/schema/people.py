"""GraphQL for people: members of a team, invitations, ownership and team deletion."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from mailkeys.resolvers import invitations as invitation_resolvers
from mailkeys.resolvers import members as member_resolvers
from mailkeys.resolvers import records, team_deletion
from mailkeys.resolvers.records import MemberRole
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum

if TYPE_CHECKING:
    from mailkeys.schema.teams import Team

LazyTeam = Annotated["Team", strawberry.lazy("mailkeys.schema.teams")]

describe_enum(
    MemberRole,
    "A person's role in a team (what each may do is policy: the member:<role> lines).",
    {
        "OWNER": "Everything, including deleting the team and handing it over; one per team.",
        "ADMIN": "Everything but deleting the team; manages Developers and Members.",
        "DEVELOPER": "Sending, receiving, providers, API keys, logs and webhooks.",
        "MEMBER": "The dashboard (reads of the team) and logs.",
    },
)


@strawberry.type(description="A person who signed in at the identity provider.")
class Person:
    id: strawberry.ID = strawberry.field(description="The person's id in mailkeys.")
    email: str | None = strawberry.field(description="Their verified email, if the provider says.")

    @classmethod
    def from_model(cls, person: records.Person) -> Person:
        """Convert a stored person."""
        return cls(id=strawberry.ID(person.id), email=person.email)


def _team(team: records.Team) -> Team:
    from mailkeys.schema.teams import Team  # Team refers back to people

    return Team.from_model(team)


@strawberry.type(description="A person's membership of a team, with their role there.")
class Membership:
    id: strawberry.ID = strawberry.field(description="The membership id.")
    role: MemberRole = strawberry.field(description="Their role in the team.")
    created_at: datetime = strawberry.field(description="When they joined.")
    person: Person = strawberry.field(description="Who.")
    team: LazyTeam = strawberry.field(description="Which team.")

    @classmethod
    def from_model(cls, membership: records.Membership) -> Membership:
        """Convert a stored membership (fetched with its person and team)."""
        return cls(
            id=strawberry.ID(membership.id),
            role=MemberRole(membership.role),
            created_at=membership.created_at,
            person=Person.from_model(membership.person),
            team=_team(membership.team),
        )


@strawberry.type(description="An invitation to join a team, for whoever signs in with the email.")
class Invitation:
    id: strawberry.ID = strawberry.field(description="The invitation id.")
    email: str = strawberry.field(description="Who it is for (their verified email).")
    role: MemberRole = strawberry.field(description="The role they get.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    created_by: str = strawberry.field(description="Who sent it.")
    expires_at: datetime = strawberry.field(description="When it lapses (7 days after).")
    team: LazyTeam = strawberry.field(description="The team it is for.")

    @classmethod
    def from_model(cls, invitation: records.Invitation) -> Invitation:
        """Convert a stored invitation (fetched with its team)."""
        return cls(
            id=strawberry.ID(invitation.id),
            email=invitation.email,
            role=MemberRole(invitation.role),
            created_at=invitation.created_at,
            created_by=invitation.created_by,
            expires_at=invitation.expires_at,
            team=_team(invitation.team),
        )


@strawberry.input(description="Invite someone to your team.")
class InvitationCreateInput:
    email: str = strawberry.field(description="Their email; they accept once signed in with it.")
    role: MemberRole = strawberry.field(description="The role they get (not OWNER).")


@strawberry.input(description="Names an invitation.")
class InvitationIdInput:
    id: strawberry.ID = strawberry.field(description="The invitation id.")


@strawberry.type(description="The invitation.")
class InvitationPayload:
    invitation: Invitation = strawberry.field(description="The invitation.")


@strawberry.input(description="Change a member's role.")
class MemberRoleUpdateInput:
    id: strawberry.ID = strawberry.field(description="The membership id.")
    role: MemberRole = strawberry.field(description="The new role (not OWNER: transfer instead).")


@strawberry.input(description="Names a membership.")
class MembershipIdInput:
    id: strawberry.ID = strawberry.field(description="The membership id.")


@strawberry.type(description="The membership after the change.")
class MembershipPayload:
    membership: Membership = strawberry.field(description="The membership.")


@strawberry.input(description="Delete your team after a 7-day grace. Owner only.")
class TeamDeleteInput:
    confirm_name: str = strawberry.field(description="The team's name, typed to confirm.")


@strawberry.type(description="The team, with its deletion state.")
class TeamDeletionPayload:
    team: LazyTeam = strawberry.field(description="The team.")


@strawberry.type
class PeopleQueries:
    @strawberry.field(description="The team's members and their roles. Needs `member.read`.")
    async def team_members(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Membership]:
        page = await member_resolvers.list_members(info.context.actor, first, after)
        return connection_of(page, Membership.from_model)

    @strawberry.field(description="The team's pending invitations. Needs `member.read`.")
    async def invitations(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Invitation]:
        page = await invitation_resolvers.list_invitations(info.context.actor, first, after)
        return connection_of(page, Invitation.from_model)


@strawberry.type
class PeopleMutations:
    @strawberry.mutation(description="Invite someone by email with a role. `member.invite`.")
    async def invitation_create(
        self,
        info: Info,
        input: Annotated[InvitationCreateInput, strawberry.argument(description="Who, as what.")],
    ) -> InvitationPayload:
        invitation = await invitation_resolvers.invite(
            info.context.actor, input.email, MemberRole(input.role)
        )
        return InvitationPayload(invitation=Invitation.from_model(invitation))

    @strawberry.mutation(description="Withdraw a pending invitation. `member.invite`.")
    async def invitation_revoke(
        self,
        info: Info,
        input: Annotated[InvitationIdInput, strawberry.argument(description="Which.")],
    ) -> InvitationPayload:
        invitation = await invitation_resolvers.revoke_invitation(info.context.actor, input.id)
        return InvitationPayload(invitation=Invitation.from_model(invitation))

    @strawberry.mutation(description="Accept an invitation for your verified email.")
    async def invitation_accept(
        self,
        info: Info,
        input: Annotated[InvitationIdInput, strawberry.argument(description="Which.")],
    ) -> MembershipPayload:
        membership = await invitation_resolvers.accept_invitation(info.context.actor, input.id)
        return MembershipPayload(membership=Membership.from_model(membership))

    @strawberry.mutation(description="Change a member's role, within the role rules.")
    async def member_role_update(
        self,
        info: Info,
        input: Annotated[MemberRoleUpdateInput, strawberry.argument(description="Who, and how.")],
    ) -> MembershipPayload:
        membership = await member_resolvers.update_role(
            info.context.actor, input.id, MemberRole(input.role)
        )
        return MembershipPayload(membership=Membership.from_model(membership))

    @strawberry.mutation(description="Remove a member from the team, within the role rules.")
    async def member_remove(
        self,
        info: Info,
        input: Annotated[MembershipIdInput, strawberry.argument(description="Whom.")],
    ) -> MembershipPayload:
        membership = await member_resolvers.remove_member(info.context.actor, input.id)
        return MembershipPayload(membership=Membership.from_model(membership))

    @strawberry.mutation(description="Hand the team over to another member. Owner only.")
    async def team_ownership_transfer(
        self,
        info: Info,
        input: Annotated[MembershipIdInput, strawberry.argument(description="The new Owner.")],
    ) -> MembershipPayload:
        membership = await member_resolvers.transfer_ownership(info.context.actor, input.id)
        return MembershipPayload(membership=Membership.from_model(membership))

    @strawberry.mutation(description="Delete the team after a 7-day grace. Owner only.")
    async def team_delete(
        self,
        info: Info,
        input: Annotated[TeamDeleteInput, strawberry.argument(description="The confirmation.")],
    ) -> TeamDeletionPayload:
        team = await team_deletion.delete_team(info.context.actor, input.confirm_name)
        return TeamDeletionPayload(team=_team(team))

    @strawberry.mutation(description="Cancel the team's deletion during its grace. Owner only.")
    async def team_deletion_cancel(self, info: Info) -> TeamDeletionPayload:
        team = await team_deletion.cancel_deletion(info.context.actor)
        return TeamDeletionPayload(team=_team(team))
