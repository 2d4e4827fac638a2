"""A minimal Sending API: check the sender, pick a provider in scope, queue the message.

Provider choice: the eligible pool is the team's active providers that the key's send scope
(all, a provider list, or delivery groups) and the optional delivery-group hint allow. From
the pool, the provider selected least recently goes next (never-used first, ties by id), so
traffic rotates evenly; the choice is recorded on the provider in the same transaction as
the queued message. An empty pool is a retryable conflict, never a fallback outside scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import (
    ConflictError,
    InvalidInputError,
    NoProviderAvailableError,
    SenderDomainNotVerifiedError,
)
from mailkeys.models import (
    ApiKey,
    DeliveryGroup,
    Mailbox,
    MailboxStatus,
    Message,
    Provider,
    SendScopeMode,
)
from mailkeys.models.domain_claims import may_use_address
from mailkeys.policy import Actor, CredentialKind, authorize, resource_of
from mailkeys.tokens import new_id
from mailkeys.validation import clean_text, email_address, unique_ids

MAX_RECIPIENTS = 50
MAX_BODY = 1_000_000


@dataclass(frozen=True)
class OutgoingEmail:
    """What the caller asks to send."""

    sender: str
    to: list[str]
    subject: str
    text: str | None = None
    html: str | None = None
    delivery_group_hint: list[str] | None = None


@dataclass(frozen=True)
class Scope:
    """Where a credential may route: a mode and the ids it names."""

    mode: SendScopeMode
    ids: list[str]


async def _scope_of(actor: Actor) -> Scope:
    if actor.kind is CredentialKind.SENDING and actor.credential_id:
        key = await ApiKey.get(id=actor.credential_id)
        if key.send_scope_mode:
            return Scope(SendScopeMode(key.send_scope_mode), list(key.send_scope_ids))
    # Mailbox keys (and any other credential the policy lets send) use every active provider.
    return Scope(SendScopeMode.ALL, [])


async def _group_members(team_id: str, group_ids: list[str]) -> set[str]:
    groups = await DeliveryGroup.filter(id__in=group_ids, team_id=team_id).prefetch_related(
        "providers"
    )
    return {provider.id for group in groups for provider in group.providers}


async def eligible_pool(team_id: str, scope: Scope, hint: list[str] | None) -> list[Provider]:
    """The active providers a send may use, given the key's scope and the hint."""
    query = Provider.filter(team_id=team_id, active=True)
    if scope.mode is SendScopeMode.PROVIDERS:
        query = query.filter(id__in=scope.ids)
    elif scope.mode is SendScopeMode.DELIVERY_GROUPS:
        query = query.filter(id__in=list(await _group_members(team_id, scope.ids)))
    if hint:
        if scope.mode is SendScopeMode.DELIVERY_GROUPS and not set(hint) <= set(scope.ids):
            raise InvalidInputError(
                "deliveryGroupHint", "The hint must be a subset of this key's delivery groups."
            )
        known = await DeliveryGroup.filter(id__in=hint, team_id=team_id).count()
        if known != len(hint):
            raise InvalidInputError("deliveryGroupHint", "Unknown delivery group.")
        query = query.filter(id__in=list(await _group_members(team_id, hint)))
    return await query


def _validate(email: OutgoingEmail) -> OutgoingEmail:
    if not 1 <= len(email.to) <= MAX_RECIPIENTS:
        raise InvalidInputError("to", f"Between 1 and {MAX_RECIPIENTS} recipients.")
    if not (email.text or email.html):
        raise InvalidInputError("text", "A message needs text or html.")
    return OutgoingEmail(
        sender=email_address("from", email.sender),
        to=[email_address("to", address) for address in email.to],
        subject=clean_text("subject", email.subject, 998),
        text=clean_text("text", email.text, MAX_BODY),
        html=clean_text("html", email.html, MAX_BODY),
        delivery_group_hint=unique_ids("deliveryGroupHint", email.delivery_group_hint),
    )


async def send_email(actor: Actor, email: OutgoingEmail, shared_domain: str) -> Message:
    """Queue a message from one of the team's mailboxes through a provider in scope.

    The sender's address must be on the shared domain or on a domain its team holds.
    """
    email = _validate(email)
    team_id = actor.own_team("email.send")
    mailbox = await Mailbox.filter(address=email.sender, team_id=team_id).first()
    if mailbox is None:
        raise InvalidInputError("from", "The sender is not a mailbox of this team.")
    authorize(actor, "email.send", resource_of(mailbox))
    if mailbox.status is not MailboxStatus.ACTIVE:
        raise ConflictError("The sender mailbox is suspended.")
    if not await may_use_address(mailbox.team_id, mailbox.address, shared_domain):
        raise SenderDomainNotVerifiedError()
    pool = await eligible_pool(mailbox.team_id, await _scope_of(actor), email.delivery_group_hint)
    if not pool:
        raise NoProviderAvailableError()
    # Sorted here: SQLite and PostgreSQL disagree on where NULLs go in ORDER BY.
    chosen = min(pool, key=lambda p: (p.last_selected_at is not None, p.last_selected_at, p.id))
    async with in_transaction():
        provider = await Provider.filter(id=chosen.id).select_for_update().first()
        if provider is None:  # deleted meanwhile
            raise NoProviderAvailableError()
        provider.last_selected_at = clock.now()
        await provider.save(update_fields=["last_selected_at"])
        return await Message.create(
            id=new_id("msg"),
            team_id=mailbox.team_id,
            mailbox_id=mailbox.id,
            provider_id=provider.id,
            credential_id=actor.label,
            sender=email.sender,
            recipients=email.to,
            subject=email.subject,
            text=email.text or "",
            html=email.html or "",
        )
