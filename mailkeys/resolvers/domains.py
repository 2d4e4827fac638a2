"""Sending domains: create, verify, delete (Provider Admin's and Full Access's)."""

from __future__ import annotations

from mailkeys import clock
from mailkeys.errors import ConflictError
from mailkeys.models import Domain, LimitedResource
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, team_for
from mailkeys.resolvers.changes import Action, change
from mailkeys.tokens import new_id, random_base62
from mailkeys.validation import domain_name

CREATE = Action("domain.create", "domain.create", "domain")
VERIFY = Action("domain.verify", "domain.verify", "domain")
DELETE = Action("domain.delete", "domain.delete", "domain")


async def create_domain(actor: Actor, name: str) -> Domain:
    """Add a domain (limit: domains); it must then be verified through its DNS record."""
    async with change(actor, CREATE) as attempt:
        name = domain_name("name", name)
        async with attempt.limited(LimitedResource.DOMAINS):
            if await Domain.filter(team_id=attempt.team, name=name).exists():
                raise ConflictError("The team already has this domain.")
            domain = await Domain.create(
                id=new_id("dom"),
                team_id=attempt.team,
                name=name,
                verification_record=f"mailkeys-verify={random_base62(32)}",
            )
            await attempt.succeeded(domain.id)
    return domain


async def verify_domain(actor: Actor, domain_id: str) -> Domain:
    """Mark the domain verified (idempotent).

    The DNS lookup of `verification_record` belongs to the platform's DNS service, outside
    this service; here verification records who verified it and when.
    """
    async with change(actor, VERIFY, domain_id) as attempt, attempt.transaction():
        domain = await attempt.load(Domain, domain_id)
        if domain.verified_at is None:
            domain.verified_at = clock.now()
            await domain.save(update_fields=["verified_at"])
            await attempt.succeeded(domain.id)
    return domain


async def delete_domain(actor: Actor, domain_id: str) -> Domain:
    """Remove a domain."""
    async with change(actor, DELETE, domain_id) as attempt, attempt.transaction():
        domain = await attempt.load(Domain, domain_id)
        await domain.delete()
        await attempt.succeeded(domain.id)
    return domain


async def list_domains(actor: Actor, first: int | None, after: str | None) -> Page[Domain]:
    """The team's domains, newest first."""
    team_id = team_for(actor, "domain.read")
    return await keyset_page(Domain.filter(team_id=team_id), first, after)
