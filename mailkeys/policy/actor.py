"""Who is asking, and about what: the two inputs of every authorization decision."""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.errors import NotFoundError, PermissionDeniedError, TeamPausedError
from mailkeys.policy.vocabulary import CredentialKind

# Kinds whose credential lists its own permissions: it uses only those, within what the
# policy lets its kind hold.
LISTING_KINDS = frozenset(
    {CredentialKind.SENDING, CredentialKind.MAILBOX, CredentialKind.PASSWORD, CredentialKind.APP}
)
_PLATFORM_KINDS = frozenset({CredentialKind.OPERATOR, CredentialKind.GATEWAY})


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated principal, with the facts about it read from storage.

    `team_id` is the team the principal acts in; only the operator and the gateways act in
    none (they hold platform permissions), and only the operator sees every team's rows. A
    person acts in the team their request names, with their role there (`team_role`); a
    person who named a team they are not a member of is an `outsider`, to whom that team
    does not exist.
    """

    kind: CredentialKind
    credential_id: str | None = None
    team_id: str | None = None
    preset: str | None = None
    # Permissions listed on the credential itself (kinds in LISTING_KINDS).
    permissions: frozenset[str] = frozenset()
    # Mailboxes a mailbox-class credential is bound to; None means every mailbox of the team.
    mailbox_ids: frozenset[str] | None = None
    # A person's role in `team_id`, as a Casbin role (`member:admin`).
    team_role: str | None = None
    # A person's verified email, for audit trails (never used to decide).
    email: str | None = None
    outsider: bool = False
    # A member (not the owner) of a team waiting for its purge: every decision is refused.
    paused: bool = False

    @property
    def is_operator(self) -> bool:
        """True for the platform operator, the only principal that sees every team."""
        return self.kind is CredentialKind.OPERATOR

    @property
    def lists_permissions(self) -> bool:
        """True if the credential may use only the permissions listed on it."""
        return self.kind in LISTING_KINDS

    @property
    def label(self) -> str:
        """How audit entries and logs name this principal (never a secret)."""
        if self.kind in _PLATFORM_KINDS:
            return self.kind.value
        return f"{self.kind.value}:{self.credential_id}"

    def own_team(self, permission: str) -> str:
        """The team this principal acts in; one that acts in none may not do `permission`."""
        if self.outsider:
            raise NotFoundError("Team")
        if self.paused:
            raise TeamPausedError()
        if self.team_id is None:
            raise PermissionDeniedError(permission)
        return self.team_id


OPERATOR = Actor(kind=CredentialKind.OPERATOR)
GATEWAY = Actor(kind=CredentialKind.GATEWAY)


@dataclass(frozen=True, slots=True)
class Resource:
    """The target of an operation: a team, optionally one of its mailboxes."""

    team_id: str | None = None
    mailbox_id: str | None = None
