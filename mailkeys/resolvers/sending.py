"""A minimal Sending API: check the sender, pick a provider in scope, queue the message.

Provider choice: the eligible pool is the team's active providers that the key's send scope
(all, a provider list, or delivery groups) and the optional delivery-group hint allow. From
the pool, the provider selected least recently goes next (never-used first, ties by id), so
traffic rotates evenly; the choice is made and recorded in the same transaction as the
queued message (`models.outbox`, which commits concurrent sends together). An empty pool is
a retryable conflict, never a fallback outside scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.errors import (
    ConflictError,
    InvalidInputError,
    NoProviderAvailableError,
    SenderDomainNotVerifiedError,
)
from mailkeys.models import ApiKey, MailboxStatus, SendScopeMode
from mailkeys.models.key_facts import KeyFacts
from mailkeys.models.outbox import Outbox, Outgoing, Queued
from mailkeys.models.sending import (
    active_provider_ids,
    fetch_sender,
    group_provider_ids,
    known_group_count,
)
from mailkeys.policy import Actor, CredentialKind, Resource, authorize
from mailkeys.validation import clean_text, domain_of, email_address, unique_ids

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


async def _scope_of(actor: Actor, key: KeyFacts | None) -> Scope:
    """Where the credential may route: from the key authentication read, else its row."""
    if actor.kind is CredentialKind.SENDING and actor.credential_id:
        if key is not None and key.id == actor.credential_id:
            mode, ids = key.send_scope_mode, key.send_scope_ids
        else:
            stored = await ApiKey.get(id=actor.credential_id)
            mode, ids = stored.send_scope_mode, list(stored.send_scope_ids)
        if mode:
            return Scope(SendScopeMode(mode), ids)
    # Mailbox keys (and any other credential the policy lets send) use every active provider.
    return Scope(SendScopeMode.ALL, [])


async def eligible_providers(team_id: str, scope: Scope, hint: list[str] | None) -> list[str]:
    """The ids of the active providers a send may use, given the key's scope and the hint."""
    eligible = await active_provider_ids(team_id)
    if scope.mode is SendScopeMode.PROVIDERS:
        allowed = set(scope.ids)
        eligible = [provider for provider in eligible if provider in allowed]
    elif scope.mode is SendScopeMode.DELIVERY_GROUPS:
        grouped = await group_provider_ids(team_id, scope.ids)
        eligible = [provider for provider in eligible if provider in grouped]
    if hint:
        if scope.mode is SendScopeMode.DELIVERY_GROUPS and not set(hint) <= set(scope.ids):
            raise InvalidInputError(
                "deliveryGroupHint", "The hint must be a subset of this key's delivery groups."
            )
        if await known_group_count(team_id, hint) != len(hint):
            raise InvalidInputError("deliveryGroupHint", "Unknown delivery group.")
        hinted = await group_provider_ids(team_id, hint)
        eligible = [provider for provider in eligible if provider in hinted]
    return eligible


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


async def send_email(
    actor: Actor,
    email: OutgoingEmail,
    shared_domain: str,
    outbox: Outbox,
    key: KeyFacts | None = None,
) -> Queued:
    """Queue a message from one of the team's mailboxes through a provider in scope.

    The sender's address must be on the shared domain or on a domain its team holds. `key`
    is the sending key as authentication read it (its scope need not be read again).
    """
    email = _validate(email)
    team_id = actor.own_team("email.send")
    domain = domain_of(email.sender)
    sender = await fetch_sender(team_id, email.sender, domain)
    if sender is None:
        raise InvalidInputError("from", "The sender is not a mailbox of this team.")
    authorize(actor, "email.send", Resource(team_id=sender.team_id, mailbox_id=sender.id))
    if sender.status is not MailboxStatus.ACTIVE:
        raise ConflictError("The sender mailbox is suspended.")
    if domain != shared_domain and not sender.domain_held:
        raise SenderDomainNotVerifiedError()
    scope = await _scope_of(actor, key)
    eligible = await eligible_providers(sender.team_id, scope, email.delivery_group_hint)
    if not eligible:
        raise NoProviderAvailableError()
    return await outbox.put(
        Outgoing(
            team_id=sender.team_id,
            mailbox_id=sender.id,
            credential=actor.label,
            sender=email.sender,
            recipients=email.to,
            subject=email.subject,
            text=email.text or "",
            html=email.html or "",
            eligible=tuple(eligible),
        )
    )
