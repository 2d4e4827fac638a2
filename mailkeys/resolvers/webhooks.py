"""Webhooks: where the team's events go, and the secret that signs them."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailkeys.errors import InvalidInputError
from mailkeys.models import LimitedResource, Webhook
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, team_for
from mailkeys.resolvers.changes import Action, change
from mailkeys.tokens import new_id, random_base62
from mailkeys.validation import https_url

EVENTS = frozenset(
    {"email.queued", "email.delivered", "email.bounced", "email.complained", "key.revoked"}
)
CREATE = Action("webhook.create", "webhook.create", "webhook")
UPDATE = Action("webhook.update", "webhook.update", "webhook")
DELETE = Action("webhook.delete", "webhook.delete", "webhook")
ROTATE_SECRET = Action("webhook.secret.rotate", "webhook.manage", "webhook")


@dataclass(frozen=True)
class WebhookWithSecret:
    """A webhook and its signing secret, which the caller sees this once."""

    webhook: Webhook
    signing_secret: str = field(repr=False)


def _events(events: list[str] | None) -> list[str]:
    chosen = sorted(set(events or []))
    unknown = [event for event in chosen if event not in EVENTS]
    if not chosen or unknown:
        raise InvalidInputError("events", f"Choose events among {', '.join(sorted(EVENTS))}.")
    return chosen


def _new_secret() -> str:
    return f"whsec_{random_base62(32)}"


async def create_webhook(actor: Actor, url: str, events: list[str]) -> WebhookWithSecret:
    """Add a webhook (limit: webhooks); its signing secret is shown once."""
    async with change(actor, CREATE) as attempt:
        clean_url, chosen = https_url("url", url), _events(events)
        secret = _new_secret()
        async with attempt.limited(LimitedResource.WEBHOOKS):
            webhook = await Webhook.create(
                id=new_id("whk"), team_id=attempt.team, url=clean_url, events=chosen,
                signing_secret=secret,
            )  # fmt: skip
            await attempt.succeeded(webhook.id)
    return WebhookWithSecret(webhook=webhook, signing_secret=secret)


async def update_webhook(
    actor: Actor,
    webhook_id: str,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change a webhook's URL, events or whether it is active."""
    async with change(actor, UPDATE, webhook_id) as attempt, attempt.transaction():
        webhook = await attempt.load(Webhook, webhook_id)
        if url is not None:
            webhook.url = https_url("url", url)
        if events is not None:
            webhook.events = _events(events)
        if active is not None:
            webhook.active = active
        await webhook.save(update_fields=["url", "events", "active"])
        await attempt.succeeded(webhook.id)
    return webhook


async def rotate_webhook_secret(actor: Actor, webhook_id: str) -> WebhookWithSecret:
    """Replace the signing secret (needs `webhook.manage`); the new one is shown once."""
    async with change(actor, ROTATE_SECRET, webhook_id) as attempt, attempt.transaction():
        webhook = await attempt.load(Webhook, webhook_id)
        secret = _new_secret()
        webhook.signing_secret = secret
        await webhook.save(update_fields=["signing_secret"])
        await attempt.succeeded(webhook.id)
    return WebhookWithSecret(webhook=webhook, signing_secret=secret)


async def delete_webhook(actor: Actor, webhook_id: str) -> Webhook:
    """Remove a webhook."""
    async with change(actor, DELETE, webhook_id) as attempt, attempt.transaction():
        webhook = await attempt.load(Webhook, webhook_id)
        await webhook.delete()
        await attempt.succeeded(webhook.id)
    return webhook


async def list_webhooks(actor: Actor, first: int | None, after: str | None) -> Page[Webhook]:
    """The team's webhooks, newest first; never their secrets."""
    team_id = team_for(actor, "webhook.read")
    return await keyset_page(Webhook.filter(team_id=team_id), first, after)
