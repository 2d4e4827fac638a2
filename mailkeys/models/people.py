"""People: who signed in at the identity provider, their team memberships and invitations.

mailkeys never stores a person's password: a person is identified by the identity provider's
(issuer, subject) pair and known here from their first authenticated request on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from mailkeys.models.teams import Team


class MemberRole(StrEnum):
    """A person's role in a team; what each may do is policy (the `member:<role>` roles)."""

    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    MEMBER = "member"


class Person(Model):
    """Someone who signed in at the identity provider (their email kept only if verified)."""

    id = fields.CharField(primary_key=True, max_length=32)
    issuer = fields.CharField(max_length=500)
    subject = fields.CharField(max_length=255)
    email = fields.CharField(max_length=320, null=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()

    class Meta:
        table = "person"
        unique_together = (("issuer", "subject"),)


class Membership(Model):
    """A person's role in a team (each team has exactly one owner)."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="memberships", on_delete=fields.CASCADE
    )
    team_id: str
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="memberships", on_delete=fields.CASCADE
    )
    person_id: str
    role = fields.CharEnumField(MemberRole, max_length=16)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "membership"
        unique_together = (("team", "person"),)


class Invitation(Model):
    """An invitation to join a team with a role, for whoever signs in with this email."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="invitations", on_delete=fields.CASCADE
    )
    team_id: str
    email = fields.CharField(max_length=320, db_index=True)
    role = fields.CharEnumField(MemberRole, max_length=16)
    created_at = fields.DatetimeField(db_index=True)
    created_by = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    accepted_by = fields.CharField(max_length=32, null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "invitation"

    def is_pending(self, now: datetime) -> bool:
        """Neither accepted, revoked nor expired at `now`."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now
