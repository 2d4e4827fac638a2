"""Sending domains: create, verify, delete (Provider Admin's and Full Access's)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import ConflictError
from mailkeys.models import Domain, LimitedResource
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import Actor, authorize
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.resolvers.common import limited_creation, team_row
from mailkeys.tokens import new_id, random_base62
from mailkeys.validation import domain_name


async def create_domain(actor: Actor, name: str) -> Domain:
    """Add a domain (limit: domains); it must then be verified through its DNS record."""
    team_id = str(actor.team_id)
    async with audited(actor, "domain.create", "domain", None, team_id):
        authorize(actor, "domain.create")
        name = domain_name("name", name)
        async with limited_creation(team_id, LimitedResource.DOMAINS):
            if await Domain.filter(team_id=team_id, name=name).exists():
                raise ConflictError("The team already has this domain.")
            domain = await Domain.create(
                id=new_id("dom"),
                team_id=team_id,
                name=name,
                verification_record=f"mailkeys-verify={random_base62(32)}",
            )
            await record_event(actor, "domain.create", "domain", domain.id, team_id)
    return domain


async def verify_domain(actor: Actor, domain_id: str) -> Domain:
    """Mark the domain verified (idempotent).

    The DNS lookup of `verification_record` belongs to the platform's DNS service, outside
    this service; here verification records who verified it and when.
    """
    team_id = str(actor.team_id)
    async with audited(actor, "domain.verify", "domain", domain_id, team_id), in_transaction():
        authorize(actor, "domain.verify")
        domain = await team_row(Domain, actor, domain_id, "Domain")
        if domain.verified_at is None:
            domain.verified_at = clock.now()
            await domain.save(update_fields=["verified_at"])
            await record_event(actor, "domain.verify", "domain", domain.id, team_id)
    return domain


async def delete_domain(actor: Actor, domain_id: str) -> Domain:
    """Remove a domain."""
    team_id = str(actor.team_id)
    async with audited(actor, "domain.delete", "domain", domain_id, team_id), in_transaction():
        authorize(actor, "domain.delete")
        domain = await team_row(Domain, actor, domain_id, "Domain")
        await domain.delete()
        await record_event(actor, "domain.delete", "domain", domain.id, team_id)
    return domain


async def list_domains(actor: Actor, first: int | None, after: str | None) -> Page[Domain]:
    """The team's domains, newest first."""
    authorize(actor, "domain.read")
    return await keyset_page(Domain.filter(team_id=actor.team_id), first, after)
