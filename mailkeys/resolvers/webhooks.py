"""Webhooks: where the team's events go, and the secret that signs them."""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from mailkeys.errors import InvalidInputError
from mailkeys.models import LimitedResource, Webhook
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import Actor, authorize
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.resolvers.common import limited_creation, team_row
from mailkeys.tokens import new_id, random_base62
from mailkeys.validation import https_url

EVENTS = frozenset(
    {"email.queued", "email.delivered", "email.bounced", "email.complained", "key.revoked"}
)


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
    team_id = str(actor.team_id)
    async with audited(actor, "webhook.create", "webhook", None, team_id):
        authorize(actor, "webhook.create")
        clean_url, chosen = https_url("url", url), _events(events)
        secret = _new_secret()
        async with limited_creation(team_id, LimitedResource.WEBHOOKS):
            webhook = await Webhook.create(
                id=new_id("whk"), team_id=team_id, url=clean_url, events=chosen,
                signing_secret=secret,
            )  # fmt: skip
            await record_event(actor, "webhook.create", "webhook", webhook.id, team_id)
    return WebhookWithSecret(webhook=webhook, signing_secret=secret)


async def update_webhook(
    actor: Actor,
    webhook_id: str,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change a webhook's URL, events or whether it is active."""
    team_id = str(actor.team_id)
    async with audited(actor, "webhook.update", "webhook", webhook_id, team_id), in_transaction():
        authorize(actor, "webhook.update")
        webhook = await team_row(Webhook, actor, webhook_id, "Webhook")
        if url is not None:
            webhook.url = https_url("url", url)
        if events is not None:
            webhook.events = _events(events)
        if active is not None:
            webhook.active = active
        await webhook.save(update_fields=["url", "events", "active"])
        await record_event(actor, "webhook.update", "webhook", webhook.id, team_id)
    return webhook


async def rotate_webhook_secret(actor: Actor, webhook_id: str) -> WebhookWithSecret:
    """Replace the signing secret (needs `webhook.manage`); the new one is shown once."""
    team_id = str(actor.team_id)
    async with (
        audited(actor, "webhook.manage", "webhook", webhook_id, team_id),
        in_transaction(),
    ):
        authorize(actor, "webhook.manage")
        webhook = await team_row(Webhook, actor, webhook_id, "Webhook")
        secret = _new_secret()
        webhook.signing_secret = secret
        await webhook.save(update_fields=["signing_secret"])
        await record_event(actor, "webhook.secret.rotate", "webhook", webhook.id, team_id)
    return WebhookWithSecret(webhook=webhook, signing_secret=secret)


async def delete_webhook(actor: Actor, webhook_id: str) -> Webhook:
    """Remove a webhook."""
    team_id = str(actor.team_id)
    async with audited(actor, "webhook.delete", "webhook", webhook_id, team_id), in_transaction():
        authorize(actor, "webhook.delete")
        webhook = await team_row(Webhook, actor, webhook_id, "Webhook")
        await webhook.delete()
        await record_event(actor, "webhook.delete", "webhook", webhook.id, team_id)
    return webhook


async def list_webhooks(actor: Actor, first: int | None, after: str | None) -> Page[Webhook]:
    """The team's webhooks, newest first; never their secrets."""
    authorize(actor, "webhook.read")
    return await keyset_page(Webhook.filter(team_id=actor.team_id), first, after)
