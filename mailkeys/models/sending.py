"""What a send reads: the sender mailbox with its domain's standing, and the team's providers.

A send is the request an email platform serves most, so each of these is one hand-written
statement (`hot_reads`); delivery groups, which few keys use, keep the models.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.models.hot_reads import all_rows, first_row
from mailkeys.models.mailboxes import MailboxStatus
from mailkeys.models.routing import DeliveryGroup

_SENDER_SQL = (
    "SELECT m.id, m.team_id, m.status, EXISTS (SELECT 1 FROM domain d"
    " WHERE d.team_id = m.team_id AND d.verified_name = {first}) AS domain_held"
    " FROM mailbox m WHERE m.address = {second} AND m.team_id = {third}"
)
_PROVIDERS_SQL = "SELECT id FROM provider WHERE team_id = {param} AND active"


@dataclass(frozen=True, slots=True)
class Sender:
    """A mailbox of the team as a send sees it."""

    id: str
    team_id: str
    status: MailboxStatus
    # The team holds the address's domain (verified, or carried over from before DNS checks).
    domain_held: bool


async def fetch_sender(team_id: str, address: str, domain: str) -> Sender | None:
    """The team's mailbox at `address` (whose domain is `domain`), or None."""
    row = await first_row(_SENDER_SQL, [domain, address, team_id])
    if row is None:
        return None
    return Sender(row["id"], row["team_id"], MailboxStatus(row["status"]), bool(row["domain_held"]))


async def active_provider_ids(team_id: str) -> list[str]:
    """The ids of the team's active providers."""
    rows = await all_rows(_PROVIDERS_SQL, [team_id])
    return [str(row["id"]) for row in rows]


async def group_provider_ids(team_id: str, group_ids: list[str]) -> set[str]:
    """The providers in any of the team's delivery groups `group_ids`."""
    groups = await DeliveryGroup.filter(id__in=group_ids, team_id=team_id).prefetch_related(
        "providers"
    )
    return {provider.id for group in groups for provider in group.providers}


async def known_group_count(team_id: str, group_ids: list[str]) -> int:
    """How many of `group_ids` are delivery groups of the team."""
    return await DeliveryGroup.filter(id__in=group_ids, team_id=team_id).count()
