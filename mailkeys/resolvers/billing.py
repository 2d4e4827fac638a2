"""The team's billing profile (Billing Admin's and Full Access's)."""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.models import BillingProfile
from mailkeys.policy import Actor, team_for
from mailkeys.resolvers.changes import Action, change
from mailkeys.validation import clean_name, clean_text, email_address

UPDATE = Action("billing.update", "billing.update", "team")


@dataclass(frozen=True)
class BillingChanges:
    """Fields of the billing profile to change; None leaves a field as it is."""

    company: str | None = None
    email: str | None = None
    address: str | None = None
    tax_id: str | None = None


async def get_billing_profile(actor: Actor) -> BillingProfile:
    """The team's billing profile (an empty one until first updated)."""
    team_id = team_for(actor, "billing.read")
    profile = await BillingProfile.filter(team_id=team_id).first()
    return profile or BillingProfile(team_id=team_id)


async def update_billing_profile(actor: Actor, changes: BillingChanges) -> BillingProfile:
    """Change the billing profile."""
    async with change(actor, UPDATE, actor.team_id) as attempt, attempt.transaction():
        profile, _ = await BillingProfile.get_or_create(team_id=attempt.team)
        if changes.company is not None:
            profile.company = clean_name("company", changes.company)
        if changes.email is not None:
            profile.email = email_address("email", changes.email) if changes.email else ""
        if changes.address is not None:
            profile.address = clean_text("address", changes.address, 1000)
        if changes.tax_id is not None:
            profile.tax_id = clean_name("taxId", changes.tax_id)
        await profile.save()
        await attempt.succeeded(attempt.team)
    return profile
