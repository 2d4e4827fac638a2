"""Mailbox passwords: one per device or app, shown once, revocable one by one (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.errors import ConflictError, PermissionDeniedError
from mailkeys.models import LimitedResource, Mailbox, MailboxPassword, MailboxStatus
from mailkeys.policy import Actor, CredentialKind, authorize, can_issue, current
from mailkeys.policy.vocabulary import KIND_ROLES, MAILBOX_PERMISSIONS, Domain
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.resolvers.common import limited_creation, team_row
from mailkeys.tokens import issue_password
from mailkeys.validation import clean_name


@dataclass(frozen=True)
class IssuedMailboxPassword:
    """A stored password row and the password itself, which the caller sees this once."""

    row: MailboxPassword
    mailbox: Mailbox
    password: str = field(repr=False)


def password_permissions() -> list[str]:
    """What the live policy lets a mailbox password hold: every such mailbox permission."""
    role = KIND_ROLES[CredentialKind.PASSWORD]
    snapshot = current()
    return [p for p in MAILBOX_PERMISSIONS if snapshot.decide(role, p, Domain.MAILBOX).allowed]


async def create_password(
    actor: Actor, mailbox_id: str, app_name: str, hasher: BoundedHasher
) -> IssuedMailboxPassword:
    """Issue a password for an app on an active mailbox; counts as one active credential."""
    team_id = str(actor.team_id)
    async with audited(actor, "mailbox_password.create", "mailbox", mailbox_id, team_id):
        authorize(actor, "mailbox.admin.manage")
        name = clean_name("appName", app_name, required=True)
        mailbox = await team_row(Mailbox, actor, mailbox_id, "Mailbox")
        if mailbox.status is not MailboxStatus.ACTIVE:
            raise ConflictError("The mailbox is suspended; resume it before adding passwords.")
        permissions = password_permissions()
        if not can_issue(actor, permissions):
            raise PermissionDeniedError("mailbox.admin.manage")
        issued = issue_password()
        secret_hash = await hasher.hash(issued.password)
        async with limited_creation(team_id, LimitedResource.CREDENTIALS):
            row = await MailboxPassword.create(
                id=issued.password_id,
                team_id=team_id,
                mailbox_id=mailbox.id,
                app_name=name,
                permissions=permissions,
                secret_hash=secret_hash,
                display=f"…{issued.password[-4:]}",
                created_at=clock.now(),
                created_by=actor.label,
            )
            await record_event(
                actor, "mailbox_password.create", "mailbox_password", row.id, team_id,
                details={"mailbox": mailbox.id, "app": name},
            )  # fmt: skip
    return IssuedMailboxPassword(row=row, mailbox=mailbox, password=issued.password)


async def list_passwords(actor: Actor, mailbox_id: str) -> list[MailboxPassword]:
    """The mailbox's passwords with their last use, newest first; no secrets."""
    authorize(actor, "mailbox.admin.read")
    mailbox = await team_row(Mailbox, actor, mailbox_id, "Mailbox")
    return await MailboxPassword.filter(mailbox_id=mailbox.id).order_by("-created_at")


async def revoke_password(actor: Actor, password_id: str) -> MailboxPassword:
    """Revoke one password now (idempotent)."""
    team_id = str(actor.team_id)
    async with (
        audited(actor, "mailbox_password.revoke", "mailbox_password", password_id, team_id),
        in_transaction(),
    ):
        authorize(actor, "mailbox.admin.manage")
        row = await team_row(MailboxPassword, actor, password_id, "MailboxPassword")
        if row.revoked_at is None:
            row.revoked_at = clock.now()
            await row.save(update_fields=["revoked_at"])
            await record_event(
                actor, "mailbox_password.revoke", "mailbox_password", row.id, team_id
            )
    return row
