"""Team limits hold under concurrency (docs/limits.md)."""

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


ROTATE = """
mutation($id: ID!, $grace: Int) {
  apiKeyRotate(input: {id: $id, gracePeriodSeconds: $grace}) { apiKey { id } secret }
}
"""
VIEWER = "{ viewer { apiKey { id } } }"
LIMITS = "query($id: ID!) { team(id: $id) { limits { resource used limit } } }"


async def test_a_rotation_chain_holds_one_slot_per_pair_not_one_per_chain(
    gql: Gql, make_team: Callable[..., Awaitable[TeamHandle]]
) -> None:
    # given a team at 100 of 100: its first key and 99 others
    team = await make_team()
    await fill_team(team.id, 99)

    # when its key is rotated with a grace period, then the successor again and again
    current, tokens = team.key_id, [team.token]
    outcomes = []
    for _ in range(20):
        rotated = await gql(ROTATE, {"id": current, "grace": 3600}, token=team.token)
        outcomes.append(rotated.codes)
        if rotated.codes:
            break
        current = rotated.ok()["apiKeyRotate"]["apiKey"]["id"]
        tokens.append(rotated.ok()["apiKeyRotate"]["secret"])

    # then the first rotation fits (a pair shares a slot) and the next one does not: a third
    # live key of the chain needs a slot of its own
    assert outcomes == [[], ["LIMIT_EXCEEDED"]]
    live = [token for token in tokens if (await gql(VIEWER, token=token)).status == 200]
    assert len(live) == 2
    used = (await gql(LIMITS, {"id": team.id}, token=team.token)).ok()["team"]["limits"]
    assert {"resource": "CREDENTIALS", "used": 100, "limit": 100} in used


async def test_a_rotation_that_revokes_its_predecessor_now_fits_at_the_limit(
    gql: Gql, make_team: Callable[..., Awaitable[TeamHandle]]
) -> None:
    team = await make_team()
    await fill_team(team.id, 99)
    current = team.key_id
    for _ in range(5):  # grace 0: only the successor stays live, again and again
        rotated = (await gql(ROTATE, {"id": current, "grace": 0}, token=team.token)).ok()
        current = rotated["apiKeyRotate"]["apiKey"]["id"]
        team.token = rotated["apiKeyRotate"]["secret"]
    used = (await gql(LIMITS, {"id": team.id}, token=team.token)).ok()["team"]["limits"]
    assert {"resource": "CREDENTIALS", "used": 100, "limit": 100} in used
