"""GraphQL for domains, webhooks and the billing profile."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.resolvers import billing as billing_resolvers
from mailkeys.resolvers import domains as domain_resolvers
from mailkeys.resolvers import records
from mailkeys.resolvers import webhooks as webhook_resolvers
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info


@strawberry.type(
    description="A sending domain of the team. Publish `verificationRecord` as a TXT record "
    "at `verificationRecordName`, then call `domainVerify`."
)
class Domain:
    id: strawberry.ID = strawberry.field(description="The domain id.")
    name: str = strawberry.field(
        description="The DNS name, lower-case; internationalised names in IDNA ASCII (xn--)."
    )
    verification_record_name: str = strawberry.field(
        description="Where to publish the TXT record: `_mailkeys.<name>`."
    )
    verification_record: str = strawberry.field(
        description="The value of the TXT record to publish (`mailkeys-verify=...`)."
    )
    verified: bool = strawberry.field(
        description="Whether the team holds the domain: its mailboxes may send."
    )
    verified_at: datetime | None = strawberry.field(description="When it was verified.")
    reverification_required: bool = strawberry.field(
        description="True if it was marked verified before mailkeys checked DNS: it keeps "
        "working until another team proves the domain by DNS. Verify it again to keep it."
    )
    created_at: datetime = strawberry.field(description="When it was added.")

    @classmethod
    def from_model(cls, domain: records.Domain) -> Domain:
        """Convert a stored domain."""
        return cls(
            id=strawberry.ID(domain.id),
            name=domain.name,
            verification_record_name=domain.verification_record_name,
            verification_record=domain.verification_record,
            verified=domain.verified_name is not None,
            verified_at=domain.verified_at,
            reverification_required=domain.reverification_required,
            created_at=domain.created_at,
        )


@strawberry.type(description="An endpoint for the team's events. Its secret is not shown.")
class Webhook:
    id: strawberry.ID = strawberry.field(description="The webhook id.")
    url: str = strawberry.field(description="The https endpoint.")
    events: list[str] = strawberry.field(description="The events it receives.")
    active: bool = strawberry.field(description="Whether deliveries are made.")
    created_at: datetime = strawberry.field(description="When it was added.")

    @classmethod
    def from_model(cls, webhook: records.Webhook) -> Webhook:
        """Convert a stored webhook (without its secret)."""
        return cls(
            id=strawberry.ID(webhook.id),
            url=webhook.url,
            events=list(webhook.events),
            active=webhook.active,
            created_at=webhook.created_at,
        )


@strawberry.type(description="Who pays for the team, and where invoices go.")
class BillingProfile:
    company: str = strawberry.field(description="Company name.")
    email: str = strawberry.field(description="Invoice address.")
    address: str = strawberry.field(description="Postal address.")
    tax_id: str = strawberry.field(description="Tax id.")

    @classmethod
    def from_model(cls, profile: records.BillingProfile) -> BillingProfile:
        """Convert a stored profile."""
        return cls(
            company=profile.company,
            email=profile.email,
            address=profile.address,
            tax_id=profile.tax_id,
        )


@strawberry.input(description="A new domain.")
class DomainCreateInput:
    name: str = strawberry.field(description="The DNS name, e.g. `mail.example.com`.")


@strawberry.input(description="Names a domain.")
class DomainIdInput:
    id: strawberry.ID = strawberry.field(description="The domain.")


@strawberry.type(description="The domain after the change.")
class DomainPayload:
    domain: Domain = strawberry.field(description="The domain.")


@strawberry.input(description="A new webhook.")
class WebhookCreateInput:
    url: str = strawberry.field(description="An https URL.")
    events: list[str] = strawberry.field(description="Events to receive.")


@strawberry.input(description="Change a webhook; absent fields stay.")
class WebhookUpdateInput:
    id: strawberry.ID = strawberry.field(description="The webhook.")
    url: str | None = strawberry.field(default=None, description="A new https URL.")
    events: list[str] | None = strawberry.field(default=None, description="New events.")
    active: bool | None = strawberry.field(default=None, description="Pause or resume.")


@strawberry.input(description="Names a webhook.")
class WebhookIdInput:
    id: strawberry.ID = strawberry.field(description="The webhook.")


@strawberry.type(description="The webhook after the change.")
class WebhookPayload:
    webhook: Webhook = strawberry.field(description="The webhook.")


@strawberry.type(description="A webhook and its signing secret, shown only here.")
class WebhookSecretPayload:
    webhook: Webhook = strawberry.field(description="The webhook.")
    signing_secret: str = strawberry.field(description="The signing secret. Store it now.")


@strawberry.input(description="Billing fields to change; absent fields stay.")
class BillingProfileUpdateInput:
    company: str | None = strawberry.field(default=None, description="Company name.")
    email: str | None = strawberry.field(default=None, description="Invoice address.")
    address: str | None = strawberry.field(default=None, description="Postal address.")
    tax_id: str | None = strawberry.field(default=None, description="Tax id.")


@strawberry.type(description="The billing profile after the change.")
class BillingProfilePayload:
    billing_profile: BillingProfile = strawberry.field(description="The profile.")


@strawberry.type
class ResourceQueries:
    @strawberry.field(description="The team's domains. `domain.read`.")
    async def domains(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Domain]:
        page = await domain_resolvers.list_domains(info.context.actor, first, after)
        return connection_of(page, Domain.from_model)

    @strawberry.field(description="The team's webhooks. `webhook.read`.")
    async def webhooks(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Webhook]:
        page = await webhook_resolvers.list_webhooks(info.context.actor, first, after)
        return connection_of(page, Webhook.from_model)

    @strawberry.field(description="The team's billing profile. `billing.read`.")
    async def billing_profile(self, info: Info) -> BillingProfile:
        profile = await billing_resolvers.get_billing_profile(info.context.actor)
        return BillingProfile.from_model(profile)


@strawberry.type
class ResourceMutations:
    @strawberry.mutation(
        description="Add a domain. `domain.create`; limit applies. CONFLICT (reason "
        "`DOMAIN_UNAVAILABLE`) if another team holds it."
    )
    async def domain_create(
        self,
        info: Info,
        input: Annotated[DomainCreateInput, strawberry.argument(description="The domain to add.")],
    ) -> DomainPayload:
        domain = await domain_resolvers.create_domain(
            info.context.actor, input.name, info.context.services.shared_domain
        )
        return DomainPayload(domain=Domain.from_model(domain))

    @strawberry.mutation(
        description="Verify a domain by its DNS TXT record. `domain.verify`; idempotent. "
        "CONFLICT with reason `DNS_RECORD_NOT_FOUND` (publish the record, then retry) or "
        "`DOMAIN_UNAVAILABLE` (another team holds it); UNAVAILABLE if DNS does not answer."
    )
    async def domain_verify(
        self,
        info: Info,
        input: Annotated[DomainIdInput, strawberry.argument(description="The domain to verify.")],
    ) -> DomainPayload:
        domain = await domain_resolvers.verify_domain(
            info.context.actor, input.id, info.context.services.txt_lookup
        )
        return DomainPayload(domain=Domain.from_model(domain))

    @strawberry.mutation(description="Remove a domain. `domain.delete`.")
    async def domain_delete(
        self,
        info: Info,
        input: Annotated[DomainIdInput, strawberry.argument(description="The domain to remove.")],
    ) -> DomainPayload:
        domain = await domain_resolvers.delete_domain(info.context.actor, input.id)
        return DomainPayload(domain=Domain.from_model(domain))

    @strawberry.mutation(description="Add a webhook. `webhook.create`; limit applies.")
    async def webhook_create(
        self,
        info: Info,
        input: Annotated[
            WebhookCreateInput, strawberry.argument(description="The webhook's URL and events.")
        ],
    ) -> WebhookSecretPayload:
        created = await webhook_resolvers.create_webhook(
            info.context.actor, input.url, input.events
        )
        return WebhookSecretPayload(
            webhook=Webhook.from_model(created.webhook), signing_secret=created.signing_secret
        )

    @strawberry.mutation(description="Change a webhook. `webhook.update`.")
    async def webhook_update(
        self,
        info: Info,
        input: Annotated[
            WebhookUpdateInput, strawberry.argument(description="The webhook and what to change.")
        ],
    ) -> WebhookPayload:
        webhook = await webhook_resolvers.update_webhook(
            info.context.actor, input.id, url=input.url, events=input.events, active=input.active
        )
        return WebhookPayload(webhook=Webhook.from_model(webhook))

    @strawberry.mutation(description="Replace a webhook's signing secret. `webhook.manage`.")
    async def webhook_secret_rotate(
        self,
        info: Info,
        input: Annotated[
            WebhookIdInput,
            strawberry.argument(description="The webhook whose signing secret to replace."),
        ],
    ) -> WebhookSecretPayload:
        rotated = await webhook_resolvers.rotate_webhook_secret(info.context.actor, input.id)
        return WebhookSecretPayload(
            webhook=Webhook.from_model(rotated.webhook), signing_secret=rotated.signing_secret
        )

    @strawberry.mutation(description="Remove a webhook. `webhook.delete`.")
    async def webhook_delete(
        self,
        info: Info,
        input: Annotated[WebhookIdInput, strawberry.argument(description="The webhook to remove.")],
    ) -> WebhookPayload:
        webhook = await webhook_resolvers.delete_webhook(info.context.actor, input.id)
        return WebhookPayload(webhook=Webhook.from_model(webhook))

    @strawberry.mutation(description="Change the billing profile. `billing.update`.")
    async def billing_profile_update(
        self,
        info: Info,
        input: Annotated[
            BillingProfileUpdateInput,
            strawberry.argument(description="The billing fields to change; absent fields stay."),
        ],
    ) -> BillingProfilePayload:
        changes = billing_resolvers.BillingChanges(
            company=input.company, email=input.email, address=input.address, tax_id=input.tax_id
        )
        profile = await billing_resolvers.update_billing_profile(info.context.actor, changes)
        return BillingProfilePayload(billing_profile=BillingProfile.from_model(profile))
