"""GraphQL for teams, limits, the viewer and presets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.policy import Actor, CredentialKind, Domain, current, effective_permissions
from mailkeys.resolvers import invitations as invitation_resolvers
from mailkeys.resolvers import keys as key_resolvers
from mailkeys.resolvers import members as member_resolvers
from mailkeys.resolvers import records
from mailkeys.resolvers import teams as team_resolvers
from mailkeys.resolvers.records import LimitedResource, MemberRole
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum
from mailkeys.schema.keys import ApiKey
from mailkeys.schema.people import Invitation, Membership, Person

describe_enum(
    LimitedResource,
    "A resource a team has a limit of.",
    {
        "CREDENTIALS": (
            "Active keys, mailbox passwords and connected apps, counted together (default 100)."
        ),
        "MAILBOXES": "Mailboxes (default 50).",
        "DOMAINS": "Domains (default 25).",
        "PROVIDERS": "Providers, the team's sending accounts (default 200).",
        "WEBHOOKS": "Webhooks (default 10).",
        "INVITATIONS": "Pending invitations to join the team (default 50).",
    },
)
describe_enum(
    CredentialKind,
    "What kind of principal is asking.",
    {
        "OPERATOR": "The platform operator's token.",
        "GATEWAY": "The platform's mail gateways' token.",
        "INFRASTRUCTURE": "An infrastructure key (`smx_root_`), holding a role preset.",
        "SENDING": "A sending key (`smx_mbx_`), for all or some of the team's mailboxes.",
        "MAILBOX": "A mailbox key (`smx_mbx_`), for one mailbox.",
        "PASSWORD": "A mailbox password, for one mailbox and one app or device.",
        "PERSON": "A person signed in at the identity provider, with their team role.",
        "APP": "A connected app's access token (`smx_app_`), for one connection.",
    },
)


@strawberry.type(description="How much of one limited resource a team uses.")
class TeamLimit:
    resource: LimitedResource = strawberry.field(description="The resource.")
    used: int = strawberry.field(description="How many the team has now.")
    limit: int = strawberry.field(description="How many it may have.")


@strawberry.type(description="A customer team.")
class Team:
    id: strawberry.ID = strawberry.field(description="The team id.")
    name: str = strawberry.field(description="The team's name.")
    created_at: datetime = strawberry.field(description="When the team was created.")
    deletion_requested_at: datetime | None = strawberry.field(
        default=None, description="When its Owner asked to delete it (null: not scheduled)."
    )
    purge_after: datetime | None = strawberry.field(
        default=None,
        description="When it and everything it holds will be removed; until then every "
        "credential and every member but the Owner is paused, and the Owner may cancel.",
    )

    @strawberry.field(
        description="Every limited resource with its use and limit. Needs `team.read` "
        "(the operator: any team)."
    )
    async def limits(self, info: Info) -> list[TeamLimit]:
        return [
            TeamLimit(resource=usage.resource, used=usage.used, limit=usage.limit)
            for usage in await team_resolvers.list_limits(info.context.actor, self.id)
        ]

    @classmethod
    def from_model(cls, team: records.Team) -> Team:
        """Convert a stored team."""
        return cls(
            id=strawberry.ID(team.id),
            name=team.name,
            created_at=team.created_at,
            deletion_requested_at=team.deletion_requested_at,
            purge_after=team.purge_after,
        )


@strawberry.type(
    description="Who is asking: the credential or person of this request, and its team."
)
class Viewer:
    kind: CredentialKind = strawberry.field(description="What kind of principal.")
    team: Team | None = strawberry.field(
        description="The team this request acts in: a credential's own; the one a person "
        "names with `X-Team-Id`, if they are a member (none: the operator)."
    )
    actor: strawberry.Private[Actor]

    @strawberry.field(description="The signed-in person, for a person's request.")
    def person(self) -> Person | None:
        actor = self.actor
        if actor.kind is not CredentialKind.PERSON or actor.credential_id is None:
            return None
        return Person(id=strawberry.ID(actor.credential_id), email=actor.email)

    @strawberry.field(description="A person's role in the team this request acts in.")
    def role(self) -> MemberRole | None:
        role = self.actor.team_role
        return MemberRole(role.removeprefix("member:")) if role else None

    @strawberry.field(description="A person's teams, with their role in each.")
    async def memberships(self) -> list[Membership]:
        return [Membership.from_model(m) for m in await member_resolvers.my_memberships(self.actor)]

    @strawberry.field(description="Pending invitations for a person's verified email.")
    async def invitations(self) -> list[Invitation]:
        invitations = await invitation_resolvers.my_invitations(self.actor)
        return [Invitation.from_model(invitation) for invitation in invitations]

    # Resolved only when asked for: `{ viewer { team { id } } }` is the hot path.
    @strawberry.field(description="The key of this request, if a key.")
    async def api_key(self) -> ApiKey | None:
        if self.actor.credential_id is None or self.actor.kind in _NOT_KEYS:
            return None
        return ApiKey.from_model(await key_resolvers.own_key(self.actor))

    @strawberry.field(description="What this principal may do now.")
    def permissions(self) -> list[str]:
        return effective_permissions(self.actor)


# Principals whose credential id names no key: `apiKey` is null for them.
_NOT_KEYS = frozenset({CredentialKind.PASSWORD, CredentialKind.APP})


@strawberry.type(description="A role preset for infrastructure keys, from the live policy.")
class Preset:
    id: str = strawberry.field(description="The preset id, e.g. `root:readonly`.")
    name: str = strawberry.field(description="Its display name.")
    permissions: list[str] = strawberry.field(description="The team permissions it grants.")


@strawberry.input(
    description="A new team: the operator's gets one Full Access key, a person becomes its Owner."
)
class TeamCreateInput:
    name: str = strawberry.field(description="The team's name.")


@strawberry.type(
    description="The new team, with its first key (the operator's teams; the token is shown "
    "only here) or its Owner's membership (a person's teams)."
)
class TeamCreatePayload:
    team: Team = strawberry.field(description="The new team.")
    api_key: ApiKey | None = strawberry.field(
        description="Its first `root:full` key, when the operator created it."
    )
    secret: str | None = strawberry.field(
        description="That key's full token. Store it now. (None for a person's team.)"
    )
    membership: Membership | None = strawberry.field(
        description="The creator's Owner membership, when a person created it."
    )


@strawberry.input(description="Change one limit of a team.")
class TeamLimitsUpdateInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    resource: LimitedResource = strawberry.field(description="Which limit.")
    limit: int = strawberry.field(description="The new limit (0 to 1,000,000).")


@strawberry.type(description="The team with its limits.")
class TeamLimitsUpdatePayload:
    team: Team = strawberry.field(description="The team.")


@strawberry.type
class TeamQueries:
    @strawberry.field(description="The principal of this request.")
    def viewer(self, info: Info) -> Viewer:
        # Synchronous on purpose: everything comes from the authentication of this request
        # (the hot path); only the key's full record, if asked for, is read again.
        actor = info.context.actor
        summary = info.context.authentication.team
        team = None
        if summary is not None:
            team = Team(
                id=strawberry.ID(summary.id), name=summary.name, created_at=summary.created_at
            )
        return Viewer(kind=actor.kind, team=team, actor=actor)

    @strawberry.field(description="A team: your own (needs `team.read`), any for the operator.")
    async def team(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The team id.")],
    ) -> Team:
        return Team.from_model(await team_resolvers.get_team(info.context.actor, id))

    @strawberry.field(description="The role presets of the live policy.")
    def presets(self, info: Info) -> list[Preset]:
        info.context.actor  # noqa: B018  # any authenticated principal may list presets
        snapshot = current()
        return [
            Preset(id=preset, name=name, permissions=snapshot.grants(preset, Domain.TEAM))
            for preset, name in snapshot.presets.items()
        ]


@strawberry.type
class TeamMutations:
    @strawberry.mutation(
        description="Create a team: the operator's comes with a first Full Access key; a signed-in "
        "person becomes the Owner of theirs."
    )
    async def team_create(
        self,
        info: Info,
        input: Annotated[TeamCreateInput, strawberry.argument(description="The team to create.")],
    ) -> TeamCreatePayload:
        created = await team_resolvers.create_team(
            info.context.actor, input.name, info.context.services.hasher
        )
        key = created.key
        return TeamCreatePayload(
            team=Team.from_model(created.team),
            api_key=ApiKey.from_model(key.key) if key else None,
            secret=key.secret if key else None,
            membership=Membership.from_model(created.membership) if created.membership else None,
        )

    @strawberry.mutation(description="Change one limit of a team. Operator only.")
    async def team_limits_update(
        self,
        info: Info,
        input: Annotated[
            TeamLimitsUpdateInput,
            strawberry.argument(description="The team, the resource and its new limit."),
        ],
    ) -> TeamLimitsUpdatePayload:
        team = await team_resolvers.update_team_limit(
            info.context.actor, input.team_id, LimitedResource(input.resource), input.limit
        )
        return TeamLimitsUpdatePayload(team=Team.from_model(team))
