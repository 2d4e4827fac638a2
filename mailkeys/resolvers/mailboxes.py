"""Mailboxes: create, read, update, delete, suspend and resume (SPEC §3, §5)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import ConflictError, PermissionDeniedError
from mailkeys.models import (
    ApiKey,
    KeyType,
    LimitedResource,
    Mailbox,
    MailboxPassword,
    MailboxStatus,
)
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import Actor, Resource, authorize, is_allowed
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.resolvers.common import limited_creation, team_row
from mailkeys.tokens import new_id
from mailkeys.validation import clean_name, clean_text, email_address

MAX_SIGNATURE = 10_000


@dataclass(frozen=True)
class MailboxChanges:
    """Identity and settings a mailbox update may change; None leaves a field as it is."""

    display_name: str | None = None
    reply_to: str | None = None
    signature: str | None = None


def authorize_mailbox(actor: Actor, mailbox: Mailbox, own: str, admin: str) -> None:
    """Allow a mailbox-class credential with `own` on this mailbox, or a team admin."""
    if is_allowed(actor, admin):
        return
    authorize(actor, own, Resource(team_id=mailbox.team_id, mailbox_id=mailbox.id))


async def create_mailbox(actor: Actor, address: str, display_name: str | None) -> Mailbox:
    """Create a mailbox; addresses are unique across the platform."""
    team_id = str(actor.team_id)
    async with audited(actor, "mailbox.create", "mailbox", None, team_id):
        authorize(actor, "mailbox.admin.create")
        address = email_address("address", address)
        name = clean_name("displayName", display_name)
        async with limited_creation(team_id, LimitedResource.MAILBOXES):
            if await Mailbox.filter(address=address).exists():
                raise ConflictError("That address is already in use.")
            mailbox = await Mailbox.create(
                id=new_id("mbx"), team_id=team_id, address=address, display_name=name
            )
            await record_event(actor, "mailbox.create", "mailbox", mailbox.id, team_id)
    return mailbox


async def get_mailbox(actor: Actor, mailbox_id: str) -> Mailbox:
    """A mailbox: for its own credentials with `mailbox.read`, or `mailbox.admin.read`."""
    mailbox = await team_row(Mailbox, actor, mailbox_id, "Mailbox")
    authorize_mailbox(actor, mailbox, "mailbox.read", "mailbox.admin.read")
    return mailbox


async def list_mailboxes(actor: Actor, first: int | None, after: str | None) -> Page[Mailbox]:
    """The team's mailboxes (admin), or the ones a mailbox-class credential is bound to."""
    query = Mailbox.filter(team_id=actor.team_id)
    if is_allowed(actor, "mailbox.admin.read"):
        return await keyset_page(query, first, after)
    if actor.mailbox_ids is None:  # a sending key for all of the team's mailboxes
        authorize(actor, "mailbox.read", Resource(team_id=actor.team_id))
        return await keyset_page(query, first, after)
    readable = [
        mailbox_id
        for mailbox_id in actor.mailbox_ids
        if is_allowed(actor, "mailbox.read", Resource(actor.team_id, mailbox_id))
    ]
    if not readable:
        raise PermissionDeniedError("mailbox.read")
    return await keyset_page(query.filter(id__in=readable), first, after)


async def update_mailbox(actor: Actor, mailbox_id: str, changes: MailboxChanges) -> Mailbox:
    """Change identity and settings: `mailbox.settings.update` on it, or the admin permission."""
    team_id = str(actor.team_id)
    async with audited(actor, "mailbox.update", "mailbox", mailbox_id, team_id):
        mailbox = await team_row(Mailbox, actor, mailbox_id, "Mailbox")
        authorize_mailbox(actor, mailbox, "mailbox.settings.update", "mailbox.admin.manage")
        if changes.display_name is not None:
            mailbox.display_name = clean_name("displayName", changes.display_name)
        if changes.reply_to is not None:
            mailbox.reply_to = (
                email_address("replyTo", changes.reply_to) if changes.reply_to else ""
            )
        if changes.signature is not None:
            mailbox.signature = clean_text("signature", changes.signature, MAX_SIGNATURE)
        async with in_transaction():
            await mailbox.save(update_fields=["display_name", "reply_to", "signature"])
            await record_event(actor, "mailbox.update", "mailbox", mailbox.id, team_id)
    return mailbox


async def delete_mailbox(actor: Actor, mailbox_id: str) -> Mailbox:
    """Delete a mailbox: its keys and passwords are revoked first (keys stay on record)."""
    team_id = str(actor.team_id)
    async with audited(actor, "mailbox.delete", "mailbox", mailbox_id, team_id):
        authorize(actor, "mailbox.admin.delete")
        mailbox = await team_row(Mailbox, actor, mailbox_id, "Mailbox")
        now = clock.now()
        live = Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)
        async with in_transaction():
            revoked_keys = await ApiKey.filter(live, mailbox_id=mailbox.id).update(revoked_at=now)
            revoked_passwords = await MailboxPassword.filter(
                mailbox_id=mailbox.id, revoked_at__isnull=True
            ).update(revoked_at=now)
            await _unbind_sending_keys(team_id, mailbox.id)
            await mailbox.delete()
            await record_event(
                actor, "mailbox.delete", "mailbox", mailbox.id, team_id,
                details={"revoked_keys": revoked_keys, "revoked_passwords": revoked_passwords},
            )  # fmt: skip
    return mailbox


async def _unbind_sending_keys(team_id: str, mailbox_id: str) -> None:
    """Sending keys narrowed to a deleted mailbox forget it (an empty list means none)."""
    narrowed = await ApiKey.filter(team_id=team_id, type=KeyType.SENDING, mailbox_ids__isnull=False)
    for key in narrowed:
        if key.mailbox_ids and mailbox_id in key.mailbox_ids:
            key.mailbox_ids = [m for m in key.mailbox_ids if m != mailbox_id]
            await key.save(update_fields=["mailbox_ids"])


async def set_mailbox_status(actor: Actor, mailbox_id: str, status: MailboxStatus) -> Mailbox:
    """Suspend or resume (idempotent). Suspension deletes nothing; its credentials just stop."""
    team_id = str(actor.team_id)
    action = "mailbox.suspend" if status is MailboxStatus.SUSPENDED else "mailbox.resume"
    async with audited(actor, action, "mailbox", mailbox_id, team_id):
        authorize(actor, "mailbox.admin.manage")
        async with in_transaction():
            mailbox = await team_row(Mailbox, actor, mailbox_id, "Mailbox")
            if mailbox.status is not status:
                mailbox.status = status
                await mailbox.save(update_fields=["status"])
                await record_event(actor, action, "mailbox", mailbox.id, team_id)
    return mailbox
