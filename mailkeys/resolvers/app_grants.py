"""Granting an app access: a person's consent, and what the token endpoint decided.

Consent makes or updates the one connection of (team, app) and stores an authorization code
for it, in one transaction with its audit event; the person can grant nothing beyond their
own role. The token endpoint's writes (a code used, a refresh token rotated, tokens issued or
revoked) are applied here with their audit events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import InvalidInputError, NotFoundError
from mailkeys.models import (
    AppConnection,
    AuthorizationCode,
    LimitedResource,
    Mailbox,
    MemberRole,
    Membership,
    OAuthApp,
)
from mailkeys.models.limits import check_limit
from mailkeys.models.oauth import LostRaceError, TokenWrites, apply_token_writes, revoke_family
from mailkeys.policy import Actor, CredentialKind
from mailkeys.policy.apps import AppChoice, binds_mailboxes, check_within_role, permissions_of
from mailkeys.policy.vocabulary import member_role_name
from mailkeys.resolvers.changes import Action, change, record_event
from mailkeys.tokens import new_id

CONNECT = Action("app.connect", "team.read", "app_connection")


@dataclass(frozen=True)
class PendingCode:
    """The authorization code to store with the consent: its tag, never the code."""

    tag: str
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"PendingCode(redirect_uri={self.redirect_uri!r})"


def app_actor(connection: AppConnection) -> Actor:
    """The connection as the audit trail names it."""
    return Actor(kind=CredentialKind.APP, credential_id=connection.id, team_id=connection.team_id)


async def _mailbox_set(team_id: str, wanted: frozenset[str] | None) -> list[str] | None:
    if wanted is None:
        return None
    if not wanted or len(wanted) > 100:
        raise InvalidInputError("mailboxIds", "Choose 1 to 100 mailboxes, or every mailbox.")
    rows = await Mailbox.filter(team_id=team_id, id__in=sorted(wanted)).values_list("id", flat=True)
    if {str(row) for row in rows} != set(wanted):
        raise InvalidInputError("mailboxIds", "Unknown mailbox in mailboxIds.")
    return sorted(wanted)


async def connect_app(
    person: Actor, app: OAuthApp, choice: AppChoice, code: PendingCode
) -> AppConnection:
    """Connect `app` to the person's team with `choice` (or update the connection), and
    store the authorization code the app will exchange.

    Raises:
        RoleRuleError: ABOVE_ROLE, the choice holds a permission the person's role does not.
        InvalidInputError: an unknown line, group, level or mailbox.
        LimitExceededError: a new connection would pass the team's credential limit.
        NotFoundError: a team's own app, asked for by another team.
    """
    async with change(person, CONNECT, app.id) as attempt:
        team_id = attempt.team
        if app.team_id is not None and app.team_id != team_id:
            raise NotFoundError("App")
        permissions = permissions_of(choice)
        check_within_role(person, permissions)
        mailbox_ids = (
            await _mailbox_set(team_id, choice.mailbox_ids)
            if binds_mailboxes(permissions)
            else None
        )
        now = clock.now()
        async with attempt.locked():
            connection = await AppConnection.filter(team_id=team_id, app_id=app.id).first()
            if connection is None or connection.revoked_at is not None:
                await check_limit(team_id, LimitedResource.CREDENTIALS, now)
            if connection is None:
                connection = AppConnection(id=new_id("conn"), team_id=team_id, app_id=app.id)
                connection.created_at = now
            connection.lines = sorted(choice.lines)
            connection.groups = choice.chosen_groups()
            connection.permissions = sorted(permissions)
            connection.mailbox_ids = mailbox_ids
            connection.authorized_by = str(person.credential_id)
            connection.authorized_by_email = person.email
            connection.updated_at = now
            connection.revoked_at = None
            await connection.save()
            await AuthorizationCode.create(
                tag=code.tag,
                app_id=app.id,
                connection_id=connection.id,
                redirect_uri=code.redirect_uri,
                code_challenge=code.code_challenge,
                code_challenge_method=code.code_challenge_method,
                person_id=str(person.credential_id),
                created_at=now,
                expires_at=code.expires_at,
            )
            await attempt.succeeded(
                connection.id,
                {
                    "app_id": app.id,
                    "lines": connection.lines,
                    "groups": connection.groups,
                    "permissions": connection.permissions,
                    "mailbox_ids": mailbox_ids,
                },
            )
    connection.app = app
    return connection


async def settle_token_request(
    writes: TokenWrites, connection: AppConnection | None, reuse: str | None
) -> bool:
    """Apply what the token or revocation endpoint decided, with its audit event.

    Returns False if a concurrent request used the same code or refresh token first: then
    the tokens that request got are revoked too (it is a reuse), and the caller answers
    `invalid_grant`.
    """
    if writes.empty:
        return True
    now = clock.now()
    try:
        async with in_transaction():
            await apply_token_writes(writes, now)
            if connection is not None:
                await _record(writes, connection, reuse)
    except LostRaceError:
        family = writes.family
        if writes.use_code is not None:
            code = await AuthorizationCode.filter(tag=writes.use_code).first()
            family = code.family if code is not None else None
        if family is not None:
            await revoke_family(family, now)
        return False
    return True


async def _record(writes: TokenWrites, connection: AppConnection, reuse: str | None) -> None:
    actor = app_actor(connection)
    if reuse is not None:
        action, outcome = "app.grant.revoke", f"{reuse}_reused"
    elif writes.use_code is not None:
        action, outcome = "app.token.issue", "success"
    elif writes.revoke_families or writes.revoke_tokens:
        action, outcome = "app.token.revoke", "success"
    else:
        return  # a refresh: rotated, not audited one by one (every 15 minutes per app)
    await record_event(
        actor,
        action,
        "app_connection",
        connection.id,
        connection.team_id,
        outcome,
        {"app_id": connection.app_id, "family": writes.family},
    )


@dataclass(frozen=True)
class TeamChoice:
    """A team the consenting person belongs to, with their role there."""

    id: str
    name: str
    role: MemberRole
    deleting: bool


async def consent_teams(person_id: str) -> list[TeamChoice]:
    """The teams a person may connect an app to: theirs, by name."""
    memberships = await Membership.filter(person_id=person_id).select_related("team")
    return sorted(
        (
            TeamChoice(m.team_id, m.team.name, MemberRole(m.role), m.team.deleting)
            for m in memberships
        ),
        key=lambda team: (team.name, team.id),
    )


def member_actor(person_id: str, email: str | None, team: TeamChoice) -> Actor:
    """The person acting in `team` with their role (paused, but for the owner, while the
    team waits for its purge), as people's API requests are."""
    return Actor(
        kind=CredentialKind.PERSON,
        credential_id=person_id,
        team_id=team.id,
        team_role=member_role_name(team.role),
        email=email,
        paused=team.deleting and team.role is not MemberRole.OWNER,
    )


async def consent_mailboxes(team_id: str, limit: int = 200) -> list[tuple[str, str]]:
    """The team's mailboxes (id, address) the consent page offers for the mailbox set."""
    rows = await Mailbox.filter(team_id=team_id).order_by("address").limit(limit)
    return [(row.id, row.address) for row in rows]
