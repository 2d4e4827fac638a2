"""Counting a team's use of each limited resource, consistently with how limits are checked."""

from __future__ import annotations

from datetime import datetime

from tortoise.functions import Count

from mailkeys.models.keys import ApiKey, live_key_filter
from mailkeys.models.mailboxes import Mailbox
from mailkeys.models.routing import Provider
from mailkeys.models.teams import LimitedResource, Team


async def count_active_credentials(team_id: str, now: datetime) -> int:
    """Active credentials of the team; a key and its rotation successor share one slot."""
    rows = (
        await ApiKey.filter(live_key_filter(now), team_id=team_id)
        .annotate(n=Count("id"))
        .group_by("slot_id")
        .values_list("slot_id", flat=True)
    )
    return len(rows)


async def count_used(team_id: str, resource: LimitedResource, now: datetime) -> int:
    """How much of `resource` the team uses now."""
    if resource is LimitedResource.CREDENTIALS:
        return await count_active_credentials(team_id, now)
    if resource is LimitedResource.MAILBOXES:
        return await Mailbox.filter(team_id=team_id).count()
    if resource is LimitedResource.PROVIDERS:
        return await Provider.filter(team_id=team_id).count()
    # Domains and webhooks arrive with the mailbox/resources issue.
    return 0


async def lock_team(team_id: str) -> Team | None:
    """Lock the team row for the current transaction (PostgreSQL); serialises limit checks.

    SQLite ignores FOR UPDATE; there a transaction already holds the only writer.
    """
    return await Team.filter(id=team_id).select_for_update().first()
