"""Sending domains: add, verify by a DNS TXT record, delete (Provider Admin's and Full Access's).

A team adds a domain and gets a value to publish as a TXT record at `_mailkeys.<domain>`;
`verify_domain` looks it up and, when it is there, makes the team the domain's one holder.
A name held by one team (proved by DNS) cannot be added or verified by another, and the
answer names nobody. See docs/domains.md.
"""

from __future__ import annotations

import hmac

from tortoise.exceptions import IntegrityError

from mailkeys import clock
from mailkeys.dns_lookup import TxtLookup
from mailkeys.errors import (
    ConflictError,
    DomainRecordMissingError,
    DomainUnavailableError,
    InvalidInputError,
)
from mailkeys.models import Domain, LimitedResource
from mailkeys.models.domain_claims import held_by_another_team
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, team_for
from mailkeys.resolvers.changes import Action, Attempt, change, record_event
from mailkeys.tokens import new_id, random_base62
from mailkeys.validation import domain_name

CREATE = Action("domain.create", "domain.create", "domain")
VERIFY = Action("domain.verify", "domain.verify", "domain")
DELETE = Action("domain.delete", "domain.delete", "domain")
RECORD_VALUE_PREFIX = "mailkeys-verify="
# How another team's audit trail names the change when a DNS proof took a name over.
PLATFORM_LABEL = "platform"


async def create_domain(actor: Actor, name: str, shared_domain: str) -> Domain:
    """Add a domain (limit: domains); it must then be verified through its DNS record."""
    async with change(actor, CREATE) as attempt:
        name = domain_name("name", name)
        if name == shared_domain:
            raise InvalidInputError("name", "The platform's shared domain cannot be added.")
        async with attempt.limited(LimitedResource.DOMAINS):
            if await Domain.filter(team_id=attempt.team, name=name).exists():
                raise ConflictError("The team already has this domain.")
            if await held_by_another_team(name, attempt.team):
                raise DomainUnavailableError()
            domain = await Domain.create(
                id=new_id("dom"),
                team_id=attempt.team,
                name=name,
                verification_record=f"{RECORD_VALUE_PREFIX}{random_base62(32)}",
            )
            await attempt.succeeded(domain.id)
    return domain


def _published(values: list[str], expected: str) -> bool:
    wanted = expected.encode()
    # Every value is compared, in constant time: the record's value is a secret until seen.
    matches = [hmac.compare_digest(value.strip().encode(), wanted) for value in values]
    return any(matches)


async def verify_domain(actor: Actor, domain_id: str, lookup: TxtLookup) -> Domain:
    """Verify the domain by its TXT record; idempotent once proved by DNS.

    The DNS question is asked outside any transaction (it may take seconds); the claim is
    then written in one, and the unique `verified_name` decides between concurrent claims.
    """
    async with change(actor, VERIFY, domain_id) as attempt:
        domain = await attempt.load(Domain, domain_id)
        if domain.verified_name is not None and not domain.reverification_required:
            return domain
        if await held_by_another_team(domain.name, domain.team_id):
            raise DomainUnavailableError()
        values = await lookup.txt_values(domain.verification_record_name)
        if not _published(values, domain.verification_record):
            raise DomainRecordMissingError(domain.verification_record_name)
        try:
            async with attempt.transaction():
                await _claim(attempt, domain)
        except IntegrityError as error:  # another team's claim committed first
            raise DomainUnavailableError() from error
    return domain


async def _claim(attempt: Attempt, domain: Domain) -> None:
    """Make the domain's team its holder; claims carried over from before DNS checks yield."""
    displaced = await Domain.filter(
        verified_name=domain.name, reverification_required=True
    ).exclude(id=domain.id)
    for other in displaced:
        other.verified_name = None
        other.verified_at = None
        other.reverification_required = False
        await other.save(update_fields=["verified_name", "verified_at", "reverification_required"])
        await record_event(
            attempt.actor,
            "domain.unverify",
            "domain",
            other.id,
            other.team_id,
            details={"reason": "proved_by_dns_elsewhere"},
            actor_label=PLATFORM_LABEL,
        )
    domain.verified_name = domain.name
    domain.verified_at = clock.now()
    domain.reverification_required = False
    await domain.save(update_fields=["verified_name", "verified_at", "reverification_required"])
    await attempt.succeeded(domain.id)


async def delete_domain(actor: Actor, domain_id: str) -> Domain:
    """Remove a domain (and the team's claim on it)."""
    async with change(actor, DELETE, domain_id) as attempt, attempt.transaction():
        domain = await attempt.load(Domain, domain_id)
        await domain.delete()
        await attempt.succeeded(domain.id)
    return domain


async def list_domains(actor: Actor, first: int | None, after: str | None) -> Page[Domain]:
    """The team's domains, newest first."""
    team_id = team_for(actor, "domain.read")
    return await keyset_page(Domain.filter(team_id=team_id), first, after)
