"""What authentication needs to know about a person, read in one statement (the hot path).

A person's request names the team it acts in (`X-Team-Id`): the person, their membership in
that team and the team's deletion state come back together, by the (issuer, subject) index.
Membership is read on every request, so a removal or a role change holds on the very next
request on every worker, as a key's revocation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailkeys import clock
from mailkeys.models.hot_reads import first_row, stored_time
from mailkeys.models.people import MemberRole, Person
from mailkeys.tokens import new_id

_SQL = (
    "SELECT p.id, p.email, m.role, t.name AS team_name, t.created_at AS team_created_at,"
    " t.deletion_requested_at"
    " FROM person p LEFT JOIN membership m ON m.person_id = p.id AND m.team_id = {first}"
    " LEFT JOIN team t ON t.id = m.team_id"
    " WHERE p.issuer = {second} AND p.subject = {third}"
)


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """A person and, if they belong to the team their request names, their role there."""

    id: str
    email: str | None
    role: MemberRole | None
    team_deleting: bool
    # The team the request named, if the person is a member (for `viewer`, without a read).
    team_name: str | None = None
    team_created_at: datetime | None = None


async def fetch_person_facts(issuer: str, subject: str, team_id: str | None) -> PersonFacts | None:
    """The person with this identity, with their role in `team_id`; None if never seen."""
    row = await first_row(_SQL, [team_id or "", issuer, subject])
    if row is None:
        return None
    role = MemberRole(row["role"]) if row["role"] else None
    deleting = role is not None and stored_time(row["deletion_requested_at"]) is not None
    return PersonFacts(
        id=row["id"],
        email=row["email"],
        role=role,
        team_deleting=deleting,
        team_name=row["team_name"],
        team_created_at=stored_time(row["team_created_at"]),
    )


async def remember_person(issuer: str, subject: str, email: str | None) -> Person:
    """Record a person on their first request (safe when two requests race)."""
    now = clock.now()
    person, _ = await Person.get_or_create(
        issuer=issuer,
        subject=subject,
        defaults={"id": new_id("usr"), "email": email, "created_at": now, "last_seen_at": now},
    )
    return person


async def note_email(person_id: str, email: str | None, when: datetime) -> None:
    """Keep the person's verified email current (it changes rarely; written only then)."""
    await Person.filter(id=person_id).update(email=email, last_seen_at=when)
