"""Mailboxes: create, read, update, delete, suspend and resume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from mailkeys import clock
from mailkeys.errors import (
    AddressUnavailableError,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from mailkeys.models import (
    ApiKey,
    KeyType,
    LimitedResource,
    Mailbox,
    MailboxPassword,
    MailboxStatus,
)
from mailkeys.models.domain_claims import holds_domain
from mailkeys.models.pagination import keyset_page
from mailkeys.pages import Page
from mailkeys.policy import Actor, Resource, is_allowed, load_for, team_for
from mailkeys.resolvers.changes import Action, Attempt, change, record_event
from mailkeys.resolvers.domains import PLATFORM_LABEL
from mailkeys.tokens import new_id
from mailkeys.validation import clean_name, clean_text, domain_of, email_address

MAX_SIGNATURE = 10_000
# Admins of the team, or a mailbox-class credential on its own mailbox: broadest first.
READ = ("mailbox.admin.read", "mailbox.read")
CREATE = Action("mailbox.create", "mailbox.admin.create", "mailbox")
DELETE = Action("mailbox.delete", "mailbox.admin.delete", "mailbox")
SUSPEND = Action("mailbox.suspend", "mailbox.admin.manage", "mailbox")
RESUME = Action("mailbox.resume", "mailbox.admin.manage", "mailbox")
UPDATE = Action("mailbox.update", ("mailbox.admin.manage", "mailbox.settings.update"), "mailbox")


@dataclass(frozen=True)
class MailboxChanges:
    """Identity and settings a mailbox update may change; None leaves a field as it is."""

    display_name: str | None = None
    reply_to: str | None = None
    signature: str | None = None


async def create_mailbox(
    actor: Actor, address: str, display_name: str | None, shared_domain: str
) -> Mailbox:
    """Create a mailbox on the shared domain or on a domain the team proved by DNS.

    Addresses are unique across the platform. On the shared domain the first team to ask
    gets a local part, and a taken one is "not available" whoever holds it. On the team's
    own domain an address can only be the team's own: a mailbox another team kept there
    from before domains were checked is released (see `_release`).
    """
    async with change(actor, CREATE) as attempt:
        address = email_address("address", address)
        name = clean_name("displayName", display_name)
        on_shared = domain_of(address) == shared_domain
        if not on_shared and not await holds_domain(attempt.team, domain_of(address), proven=True):
            raise InvalidInputError(
                "address",
                "The address must be on the shared domain or on a domain the team has verified.",
            )
        async with attempt.limited(LimitedResource.MAILBOXES):
            taken = await Mailbox.filter(address=address).first()
            if taken is not None and on_shared:
                raise AddressUnavailableError()
            if taken is not None and taken.team_id == attempt.team:
                raise ConflictError("The team already has this address.")
            if taken is not None:
                await _release(attempt, taken)
            mailbox = await Mailbox.create(
                id=new_id("mbx"), team_id=attempt.team, address=address, display_name=name
            )
            await attempt.succeeded(mailbox.id)
    return mailbox


async def _release(attempt: Attempt, stale: Mailbox) -> None:
    """Delete another team's mailbox on a domain the creating team proved by DNS.

    Only mailboxes created before domains were checked (or kept after their team lost the
    domain) can be there; their team cannot use them (`may_use_address`), and keeping them
    would lock the domain's holder out of its own address. Their audit trail names the
    platform, not the team that proved the domain.
    """
    revoked = await _remove(stale, clock.now())
    await record_event(
        attempt.actor,
        DELETE.name,
        DELETE.target,
        stale.id,
        stale.team_id,
        details={"reason": "domain_proved_by_another_team", **revoked},
        actor_label=PLATFORM_LABEL,
    )


async def get_mailbox(actor: Actor, mailbox_id: str) -> Mailbox:
    """A mailbox: for its own credentials with `mailbox.read`, or `mailbox.admin.read`."""
    return await load_for(actor, READ, Mailbox, mailbox_id)


async def list_mailboxes(actor: Actor, first: int | None, after: str | None) -> Page[Mailbox]:
    """The team's mailboxes (admin), or the ones a mailbox-class credential is bound to."""
    if is_allowed(actor, "mailbox.admin.read"):
        team_id = team_for(actor, "mailbox.admin.read")
        return await keyset_page(Mailbox.filter(team_id=team_id), first, after)
    if actor.mailbox_ids is None:  # a sending key for all of the team's mailboxes
        team_id = team_for(actor, "mailbox.read")
        return await keyset_page(Mailbox.filter(team_id=team_id), first, after)
    team_id = actor.own_team("mailbox.read")
    readable = [
        mailbox_id
        for mailbox_id in actor.mailbox_ids
        if is_allowed(actor, "mailbox.read", Resource(actor.team_id, mailbox_id))
    ]
    if not readable:
        raise PermissionDeniedError("mailbox.read")
    query = Mailbox.filter(team_id=team_id, id__in=readable)
    return await keyset_page(query, first, after)


async def update_mailbox(actor: Actor, mailbox_id: str, changes: MailboxChanges) -> Mailbox:
    """Change identity and settings: `mailbox.settings.update` on it, or the admin permission."""
    async with change(actor, UPDATE, mailbox_id) as attempt:
        mailbox = await attempt.load(Mailbox, mailbox_id)
        if changes.display_name is not None:
            mailbox.display_name = clean_name("displayName", changes.display_name)
        if changes.reply_to is not None:
            mailbox.reply_to = (
                email_address("replyTo", changes.reply_to) if changes.reply_to else ""
            )
        if changes.signature is not None:
            mailbox.signature = clean_text("signature", changes.signature, MAX_SIGNATURE)
        async with attempt.transaction():
            await mailbox.save(update_fields=["display_name", "reply_to", "signature"])
            await attempt.succeeded(mailbox.id)
    return mailbox


async def delete_mailbox(actor: Actor, mailbox_id: str) -> Mailbox:
    """Delete a mailbox: its keys and passwords are revoked first (keys stay on record)."""
    async with change(actor, DELETE, mailbox_id) as attempt:
        mailbox = await attempt.load(Mailbox, mailbox_id)
        async with attempt.transaction():
            revoked = await _remove(mailbox, clock.now())
            await attempt.succeeded(mailbox.id, revoked)
    return mailbox


async def _remove(mailbox: Mailbox, now: datetime) -> dict[str, int]:
    """Revoke the mailbox's keys and passwords, unbind sending keys, delete it."""
    live = Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)
    revoked_keys = await ApiKey.filter(live, mailbox_id=mailbox.id).update(revoked_at=now)
    revoked_passwords = await MailboxPassword.filter(
        mailbox_id=mailbox.id, revoked_at__isnull=True
    ).update(revoked_at=now)
    await _unbind_sending_keys(mailbox.team_id, mailbox.id)
    await mailbox.delete()
    return {"revoked_keys": revoked_keys, "revoked_passwords": revoked_passwords}


async def _unbind_sending_keys(team_id: str, mailbox_id: str) -> None:
    """Sending keys narrowed to a deleted mailbox forget it (an empty list means none)."""
    narrowed = await ApiKey.filter(team_id=team_id, type=KeyType.SENDING, mailbox_ids__isnull=False)
    for key in narrowed:
        if key.mailbox_ids and mailbox_id in key.mailbox_ids:
            key.mailbox_ids = [m for m in key.mailbox_ids if m != mailbox_id]
            await key.save(update_fields=["mailbox_ids"])


async def set_mailbox_status(actor: Actor, mailbox_id: str, status: MailboxStatus) -> Mailbox:
    """Suspend or resume (idempotent). Suspension deletes nothing; its credentials just stop."""
    action = SUSPEND if status is MailboxStatus.SUSPENDED else RESUME
    async with change(actor, action, mailbox_id) as attempt, attempt.transaction():
        mailbox = await attempt.load(Mailbox, mailbox_id)
        if mailbox.status is not status:
            mailbox.status = status
            await mailbox.save(update_fields=["status"])
            await attempt.succeeded(mailbox.id)
    return mailbox
