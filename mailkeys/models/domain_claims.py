"""Who may use a domain: the team that verified it, or everybody on the shared domain."""

from __future__ import annotations

from mailkeys.models.resources import Domain
from mailkeys.validation import domain_of


async def holds_domain(team_id: str, name: str, *, proven: bool) -> bool:
    """True if the team has verified `name`; with `proven`, by DNS (not carried over from
    before DNS checks)."""
    query = Domain.filter(team_id=team_id, verified_name=name)
    if proven:
        query = query.filter(reverification_required=False)
    return await query.exists()


async def held_by_another_team(name: str, team_id: str) -> bool:
    """True if another team proved `name` by DNS (a carried-over claim yields to a proof)."""
    return (
        await Domain.filter(verified_name=name, reverification_required=False)
        .exclude(team_id=team_id)
        .exists()
    )


async def may_use_address(team_id: str, address: str, shared_domain: str) -> bool:
    """True if a mailbox of the team may send and be checked at `address`: on the shared
    domain, or on a domain the team holds (a claim carried over from before DNS checks
    counts, so existing mailboxes keep working until someone proves the domain)."""
    domain = domain_of(address)
    return domain == shared_domain or await holds_domain(team_id, domain, proven=False)
