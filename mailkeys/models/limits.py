"""Counting a team's use of each limited resource, consistently with how limits are checked."""

from __future__ import annotations

from datetime import datetime

from tortoise.functions import Count

from mailkeys.errors import LimitExceededError
from mailkeys.models.apps import AppConnection
from mailkeys.models.keys import ApiKey, live_key_filter
from mailkeys.models.mailboxes import Mailbox, MailboxPassword
from mailkeys.models.people import Invitation
from mailkeys.models.resources import Domain, Webhook
from mailkeys.models.routing import Provider
from mailkeys.models.teams import LimitedResource, Team, team_limit


def slot_cost(live_keys: int) -> int:
    """What the live keys of one rotation chain cost: a predecessor and its successor share
    one slot, and every further live key of the chain takes a slot of its own."""
    return max(1, live_keys - 1)


async def count_active_credentials(team_id: str, now: datetime) -> int:
    """Active keys (by rotation chain, see `slot_cost`), mailbox passwords and connected
    apps (one slot per connection, whatever its tokens)."""
    chains = (
        await ApiKey.filter(live_key_filter(now), team_id=team_id)
        .annotate(live=Count("id"))
        .group_by("slot_id")
        .values("live")
    )
    passwords = await MailboxPassword.filter(team_id=team_id, revoked_at__isnull=True).count()
    apps = await AppConnection.filter(team_id=team_id, revoked_at__isnull=True).count()
    return sum(slot_cost(int(chain["live"])) for chain in chains) + passwords + apps


async def count_used(team_id: str, resource: LimitedResource, now: datetime) -> int:
    """How much of `resource` the team uses now."""
    if resource is LimitedResource.CREDENTIALS:
        return await count_active_credentials(team_id, now)
    if resource is LimitedResource.MAILBOXES:
        return await Mailbox.filter(team_id=team_id).count()
    if resource is LimitedResource.PROVIDERS:
        return await Provider.filter(team_id=team_id).count()
    if resource is LimitedResource.DOMAINS:
        return await Domain.filter(team_id=team_id).count()
    if resource is LimitedResource.INVITATIONS:  # pending ones
        return await Invitation.filter(
            team_id=team_id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).count()
    return await Webhook.filter(team_id=team_id).count()


async def lock_team(team_id: str) -> Team | None:
    """Lock the team row for the current transaction (PostgreSQL); serialises limit checks.

    SQLite ignores FOR UPDATE; there a transaction already holds the only writer.
    """
    return await Team.filter(id=team_id).select_for_update().first()


async def check_limit(team_id: str, resource: LimitedResource, now: datetime) -> None:
    """Raise LimitExceededError if the team cannot have one more `resource`.

    Call inside the creating transaction, after `lock_team`, so concurrent creations
    see each other's rows.
    """
    limit = await team_limit(team_id, resource)
    if await count_used(team_id, resource, now) >= limit:
        raise LimitExceededError(resource.value, limit)


async def check_no_growth_past_limit(
    team_id: str, resource: LimitedResource, before: int, now: datetime
) -> None:
    """Raise LimitExceededError if a change grew the team's use of `resource` past its limit.

    For changes that may or may not take a slot (a rotation); call inside the transaction,
    after the change's writes and with the use counted before them.
    """
    after = await count_used(team_id, resource, now)
    limit = await team_limit(team_id, resource)
    if after > before and after > limit:
        raise LimitExceededError(resource.value, limit)
