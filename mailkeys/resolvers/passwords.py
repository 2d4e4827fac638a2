"""Mailbox passwords: one per device or app, shown once, revocable one by one."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailkeys import clock
from mailkeys.auth.allowlist import clean_allowlist
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.errors import ConflictError, PermissionDeniedError
from mailkeys.models import LimitedResource, Mailbox, MailboxPassword, MailboxStatus
from mailkeys.policy import Actor, CredentialKind, can_issue, current, load_for
from mailkeys.policy.vocabulary import KIND_ROLES, MAILBOX_PERMISSIONS, Domain
from mailkeys.resolvers.changes import Action, change
from mailkeys.tokens import issue_password
from mailkeys.validation import clean_name

CREATE = Action("mailbox_password.create", "mailbox.admin.manage", "mailbox_password")
REVOKE = Action("mailbox_password.revoke", "mailbox.admin.manage", "mailbox_password")


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
    actor: Actor,
    mailbox_id: str,
    app_name: str,
    hasher: BoundedHasher,
    allowed_ips: list[str] | None = None,
) -> IssuedMailboxPassword:
    """Issue a password for an app on an active mailbox; counts as one active credential."""
    async with change(actor, CREATE) as attempt:
        name = clean_name("appName", app_name, required=True)
        allowed_ips = clean_allowlist("allowedIps", allowed_ips)
        mailbox = await attempt.load(Mailbox, mailbox_id)
        if mailbox.status is not MailboxStatus.ACTIVE:
            raise ConflictError("The mailbox is suspended; resume it before adding passwords.")
        permissions = password_permissions()
        if not can_issue(actor, permissions):
            raise PermissionDeniedError("mailbox.admin.manage")
        issued = issue_password()
        protected = await hasher.protect(issued.password)
        async with attempt.limited(LimitedResource.CREDENTIALS):
            row = await MailboxPassword.create(
                id=issued.password_id,
                team_id=mailbox.team_id,
                mailbox_id=mailbox.id,
                app_name=name,
                permissions=permissions,
                secret_hash=protected.secret_hash,
                secret_tag=protected.secret_tag,
                allowed_ips=allowed_ips,
                display=f"…{issued.password[-4:]}",
                created_at=clock.now(),
                created_by=actor.label,
            )
            details: dict[str, object] = {"mailbox": mailbox.id, "app": name}
            if allowed_ips is not None:
                details["allowed_ips"] = allowed_ips
            await attempt.succeeded(row.id, details)
    return IssuedMailboxPassword(row=row, mailbox=mailbox, password=issued.password)


async def list_passwords(actor: Actor, mailbox_id: str) -> list[MailboxPassword]:
    """The mailbox's passwords with their last use, newest first; no secrets."""
    mailbox = await load_for(actor, "mailbox.admin.read", Mailbox, mailbox_id)
    return await MailboxPassword.filter(mailbox_id=mailbox.id).order_by("-created_at")


async def revoke_password(actor: Actor, password_id: str) -> MailboxPassword:
    """Revoke one password now (idempotent)."""
    async with change(actor, REVOKE, password_id) as attempt, attempt.transaction():
        row = await attempt.load(MailboxPassword, password_id)
        if row.revoked_at is None:
            row.revoked_at = clock.now()
            await row.save(update_fields=["revoked_at"])
            await attempt.succeeded(row.id)
    return row
