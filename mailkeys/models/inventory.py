"""How many credentials each team holds, by type and status: the `/metrics` inventory.

A handful of grouped counts, run when metrics are scraped (never per request): four for
keys (one per derived status), three for mailbox passwords, one for the number of teams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count

from mailkeys.models.keys import ApiKey, KeyStatus, status_filter
from mailkeys.models.mailboxes import MailboxPassword, MailboxStatus
from mailkeys.models.teams import Team

PASSWORD_TYPE = "password"  # noqa: S105  # a credential type, not a secret
# Mailbox passwords are revoked or live; a live one is suspended with its mailbox.
_PASSWORD_FILTERS: dict[KeyStatus, Q] = {
    KeyStatus.ACTIVE: Q(revoked_at__isnull=True, mailbox__status=MailboxStatus.ACTIVE),
    KeyStatus.SUSPENDED: Q(revoked_at__isnull=True, mailbox__status=MailboxStatus.SUSPENDED),
    KeyStatus.REVOKED: Q(revoked_at__isnull=False),
}


@dataclass(frozen=True)
class CredentialInventory:
    """Per (type, status): each team's number of such credentials (teams with none absent)."""

    teams: int
    counts: dict[tuple[str, str], dict[str, int]]


async def credential_inventory(now: datetime) -> CredentialInventory:
    """Count every team's keys and mailbox passwords by type and status at `now`."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for status in KeyStatus:
        rows = (
            await ApiKey.filter(status_filter(status, now))
            .annotate(n=Count("id"))
            .group_by("team_id", "type")
            .values("team_id", "type", "n")
        )
        for row in rows:
            counts.setdefault((str(row["type"]), status.value), {})[str(row["team_id"])] = int(
                row["n"]
            )
    for status, condition in _PASSWORD_FILTERS.items():
        rows = (
            await MailboxPassword.filter(condition)
            .annotate(n=Count("id"))
            .group_by("team_id")
            .values("team_id", "n")
        )
        per_team = counts.setdefault((PASSWORD_TYPE, status.value), {})
        for row in rows:
            per_team[str(row["team_id"])] = int(row["n"])
    return CredentialInventory(teams=await Team.all().count(), counts=counts)
