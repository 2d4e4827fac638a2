"""Who is asking, and about what: the two inputs of every authorization decision."""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.policy.vocabulary import CredentialKind


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated principal, with the facts about it read from storage."""

    kind: CredentialKind
    credential_id: str | None = None
    team_id: str | None = None
    preset: str | None = None
    # Mailbox permissions listed on a mailbox-class credential.
    permissions: frozenset[str] = frozenset()
    # Mailboxes a mailbox-class credential is bound to; None means every mailbox of the team.
    mailbox_ids: frozenset[str] | None = None

    @property
    def label(self) -> str:
        """How audit entries and logs name this principal (never a secret)."""
        if self.kind in (CredentialKind.OPERATOR, CredentialKind.GATEWAY):
            return self.kind.value
        return f"{self.kind.value}:{self.credential_id}"


OPERATOR = Actor(kind=CredentialKind.OPERATOR)
GATEWAY = Actor(kind=CredentialKind.GATEWAY)


@dataclass(frozen=True, slots=True)
class Resource:
    """The target of an operation: a team, optionally one of its mailboxes."""

    team_id: str | None = None
    mailbox_id: str | None = None
