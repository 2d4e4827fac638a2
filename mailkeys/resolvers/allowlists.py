"""Changing where a key or a mailbox password may be used from, without rotating it.

Widening an allowlist hands a credential's powers to more of the network, so it needs what
issuing that credential needs: `key.create` and holding (or being allowed to delegate) every
permission of the key, or `mailbox.admin.manage` and the password's permissions.
"""

from __future__ import annotations

from mailkeys import clock
from mailkeys.auth.allowlist import clean_allowlist
from mailkeys.errors import ConflictError, PermissionDeniedError
from mailkeys.models import ApiKey, KeyStatus, MailboxPassword
from mailkeys.policy import Actor, can_issue
from mailkeys.resolvers.changes import Action, change
from mailkeys.resolvers.key_config import KeyConfig, check_no_escalation

KEY_UPDATE = Action("key.allowed_ips.update", "key.create", "api_key")
PASSWORD_UPDATE = Action(
    "mailbox_password.allowed_ips.update", "mailbox.admin.manage", "mailbox_password"
)
FIELD = "allowedIps"


async def update_key_allowed_ips(
    actor: Actor, key_id: str, allowed_ips: list[str] | None
) -> ApiKey:
    """Replace a live key's allowlist (None: any address); its token stays the same."""
    async with change(actor, KEY_UPDATE, key_id) as attempt:
        cleaned = clean_allowlist(FIELD, allowed_ips)
        async with attempt.transaction():
            key = await attempt.load(ApiKey, key_id, ("mailbox",))
            check_no_escalation(actor, KeyConfig.of(key))
            if key.status_at(clock.now(), None) in (KeyStatus.REVOKED, KeyStatus.EXPIRED):
                raise ConflictError("Only a live key's allowlist can be changed.")
            previous, key.allowed_ips = key.allowed_ips, cleaned
            await key.save(update_fields=["allowed_ips"])
            await attempt.succeeded(key.id, {"allowed_ips": cleaned, "previous": previous})
    return key


async def update_password_allowed_ips(
    actor: Actor, password_id: str, allowed_ips: list[str] | None
) -> MailboxPassword:
    """Replace a live password's allowlist (None: any address); the password stays the same."""
    async with change(actor, PASSWORD_UPDATE, password_id) as attempt:
        cleaned = clean_allowlist(FIELD, allowed_ips)
        async with attempt.transaction():
            row = await attempt.load(MailboxPassword, password_id)
            if not can_issue(actor, list(row.permissions)):
                raise PermissionDeniedError(PASSWORD_UPDATE.permissions[0])
            if row.revoked_at is not None:
                raise ConflictError("Only a live password's allowlist can be changed.")
            previous, row.allowed_ips = row.allowed_ips, cleaned
            await row.save(update_fields=["allowed_ips"])
            await attempt.succeeded(row.id, {"allowed_ips": cleaned, "previous": previous})
    return row
