"""Team limits hold under concurrency (SPEC §4)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mailkeys import clock
from mailkeys.clock import ManualClock
from mailkeys.models import ApiKey, KeyType
from tests.conftest import Gql, TeamHandle

KEY_CREATE = """
mutation($name: String) {
  apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly", name: $name}) {
    apiKey { id } secret
  }
}
"""


async def fill_team(team_id: str, count: int) -> None:
    """Store `count` more active keys directly (issuing 98 through the API is slow and moot)."""
    now = clock.now()
    await ApiKey.bulk_create(
        [
            ApiKey(
                id=f"filler{team_id[-6:]}{i:04d}",
                team_id=team_id,
                type=KeyType.INFRASTRUCTURE,
                preset="root:readonly",
                secret_hash="$argon2id$unused",
                display_token="smx_root_filler",
                created_at=now,
                created_by="test",
                slot_id=f"filler{team_id[-6:]}{i:04d}",
            )
            for i in range(count)
        ]
    )


async def test_concurrent_creates_at_99_active_yield_exactly_one(
    gql: Gql, make_team: Callable[..., Awaitable[TeamHandle]]
) -> None:
    # given a team at 99 of its 100 active credentials
    team = await make_team()
    await fill_team(team.id, 98)

    # when 20 creations race
    results = await asyncio.gather(
        *(gql(KEY_CREATE, {"name": f"racer {i}"}, token=team.token) for i in range(20))
    )

    # then exactly one wins and the others are told the limit
    codes = [result.codes for result in results]
    assert codes.count([]) == 1, codes
    assert codes.count(["LIMIT_EXCEEDED"]) == 19, codes
    assert await ApiKey.filter(team_id=team.id).count() == 100


async def test_revoked_and_expired_keys_free_their_slot(
    gql: Gql, make_team: Callable[..., Awaitable[TeamHandle]], manual_clock: ManualClock
) -> None:
    team = await make_team()
    await fill_team(team.id, 99)
    assert (await gql(KEY_CREATE, token=team.token)).codes == ["LIMIT_EXCEEDED"]

    await ApiKey.filter(id=f"filler{team.id[-6:]}0000").update(revoked_at=clock.now())
    await ApiKey.filter(id=f"filler{team.id[-6:]}0001").update(expires_at=clock.now())
    manual_clock.advance(1)

    assert (await gql(KEY_CREATE, token=team.token)).ok()
    assert (await gql(KEY_CREATE, token=team.token)).ok()
    assert (await gql(KEY_CREATE, token=team.token)).codes == ["LIMIT_EXCEEDED"]
