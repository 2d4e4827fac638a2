"""API keys over GraphQL through the real ASGI app: every operation and its error codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from mailkeys import clock
from mailkeys.clock import ManualClock
from mailkeys.models import Mailbox, Provider
from tests.conftest import OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

ROTATE = """
mutation($id: ID!, $grace: Int) {
  apiKeyRotate(input: {id: $id, gracePeriodSeconds: $grace}) {
    apiKey { id status rotatedFromId } secret previous { id status rotatedToId revokedAt }
  }
}
"""
REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id status } } }"
VIEWER = "{ viewer { team { id } apiKey { id type preset permissions } } }"
KEYS = """
query($first: Int, $after: String, $type: ApiKeyType, $status: ApiKeyStatus) {
  apiKeys(first: $first, after: $after, type: $type, status: $status) {
    edges { node { id name type status displayToken createdAt lastUsedAt expiresAt } cursor }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""
LIMIT_TO_TWO = """
mutation($t: ID!) {
  teamLimitsUpdate(input: {teamId: $t, resource: CREDENTIALS, limit: 2}) { team { id } }
}
"""
KEY_CREATE = """
mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { apiKey { id } secret } }
"""


async def add_mailbox(team_id: str, address: str = "ops@example.com") -> str:
    """Mailboxes arrive with their own issue; until then tests store one directly."""
    mailbox = await Mailbox.create(
        id=f"mbx_{address.split('@')[0]}", team_id=team_id, address=address
    )
    return mailbox.id


async def test_created_key_authenticates_and_shows_its_preset(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly", name="reporting")

    viewer = (await gql(VIEWER, token=key.token)).ok()["viewer"]

    assert viewer["team"]["id"] == team.id
    assert viewer["apiKey"]["id"] == key.id
    assert viewer["apiKey"]["preset"] == "root:readonly"
    assert "key.read" in viewer["apiKey"]["permissions"]
    assert "key.create" not in viewer["apiKey"]["permissions"]
    assert key.token.startswith("smx_root_")
    assert key.node["displayToken"].endswith(key.token[-4:])


async def test_sending_and_mailbox_keys_use_the_mailbox_prefix(
    make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox_id = await add_mailbox(team.id)

    sending = await make_key(team.token, type="SENDING", permissions=["email.send"])
    mailbox = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=mailbox_id
    )

    assert sending.token.startswith("smx_mbx_")
    assert sending.node["sendScope"]["mode"] == "ALL"
    assert mailbox.token.startswith("smx_mbx_")
    assert mailbox.node["mailboxId"] == mailbox_id


async def test_send_scope_validates_against_the_team(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team("A")
    other = await make_team("B")
    mine = await Provider.create(id="prv_mine", team_id=team.id, name="ses")
    theirs = await Provider.create(id="prv_theirs", team_id=other.id, name="ses")

    ok = await make_key(
        team.token,
        type="SENDING",
        permissions=["email.send"],
        sendScope={"mode": "PROVIDERS", "providerIds": [mine.id]},
    )
    refused = await gql(
        KEY_CREATE,
        {
            "input": {
                "type": "SENDING",
                "permissions": ["email.send"],
                "sendScope": {"mode": "PROVIDERS", "providerIds": [theirs.id]},
            }
        },
        token=team.token,
    )

    assert ok.node["sendScope"] == {
        "mode": "PROVIDERS",
        "providerIds": [mine.id],
        "deliveryGroupIds": [],
    }
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "sendScope.providerIds"


FULL = {"type": "INFRASTRUCTURE", "preset": "root:full"}
SEND = {"type": "SENDING", "permissions": ["email.send"]}
PAST = "2001-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("key_input", "field"),
    [
        ({"type": "INFRASTRUCTURE"}, "preset"),
        ({"type": "INFRASTRUCTURE", "preset": "root:nope"}, "preset"),
        ({**FULL, "permissions": ["email.send"]}, "permissions"),
        ({"type": "SENDING", "permissions": []}, "permissions"),
        ({"type": "SENDING", "permissions": ["key.read"]}, "permissions"),
        ({**SEND, "preset": "root:full"}, "preset"),
        ({**SEND, "mailboxIds": ["mbx_unknown"]}, "mailboxIds"),
        ({**SEND, "sendScope": {"mode": "PROVIDERS"}}, "sendScope.providerIds"),
        ({"type": "MAILBOX", "permissions": ["email.send"]}, "mailboxId"),
        ({"type": "MAILBOX", "permissions": ["email.send"], "mailboxId": "mbx_x"}, "mailboxId"),
        ({**FULL, "name": "x" * 201}, "name"),
        ({**FULL, "expiresAt": PAST}, "expiresAt"),
    ],
)
async def test_invalid_key_input_names_the_field(
    gql: Gql, make_team: MakeTeam, key_input: dict[str, Any], field: str
) -> None:
    team = await make_team()

    result = await gql(KEY_CREATE, {"input": key_input}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field
    assert result.errors[0]["extensions"]["retryable"] is False


async def test_invalid_input_stores_nothing(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    await gql(KEY_CREATE, {"input": {"type": "SENDING", "permissions": []}}, token=team.token)
    listed = (await gql(KEYS, token=team.token)).ok()["apiKeys"]

    assert listed["totalCount"] == 1  # only the team's first key


async def test_no_key_may_create_a_key_with_more_than_it_holds(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    readonly = await make_key(team.token, preset="root:readonly")

    result = await gql(
        KEY_CREATE,
        {"input": {"type": "INFRASTRUCTURE", "preset": "root:full"}},
        token=readonly.token,
    )

    assert result.codes == ["FORBIDDEN"]


async def test_mailbox_class_keys_cannot_administer_the_team(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    sending = await make_key(team.token, type="SENDING", permissions=["email.send"])

    listing = await gql(KEYS, token=sending.token)
    creating = await gql(
        KEY_CREATE,
        {"input": {"type": "SENDING", "permissions": ["email.send"]}},
        token=sending.token,
    )

    assert listing.codes == ["FORBIDDEN"]
    assert creating.codes == ["FORBIDDEN"]


async def test_rotation_keeps_both_working_until_the_grace_ends(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, manual_clock: ManualClock
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly")

    rotated = (await gql(ROTATE, {"id": key.id, "grace": 3600}, token=team.token)).ok()
    payload = rotated["apiKeyRotate"]

    assert payload["apiKey"]["rotatedFromId"] == key.id
    assert payload["previous"]["rotatedToId"] == payload["apiKey"]["id"]
    assert payload["previous"]["status"] == "ACTIVE"
    assert (await gql(VIEWER, token=key.token)).ok()
    assert (await gql(VIEWER, token=payload["secret"])).ok()
    manual_clock.advance(3599)  # the last second of the grace
    assert (await gql(VIEWER, token=key.token)).ok()
    manual_clock.advance(1)  # the grace is over
    assert (await gql(VIEWER, token=key.token)).codes == ["UNAUTHENTICATED"]
    assert (await gql(VIEWER, token=payload["secret"])).ok()


async def test_rotation_with_zero_grace_revokes_the_predecessor_now(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly")

    payload = (await gql(ROTATE, {"id": key.id, "grace": 0}, token=team.token)).ok()["apiKeyRotate"]

    assert payload["previous"]["status"] == "REVOKED"
    assert (await gql(VIEWER, token=key.token)).codes == ["UNAUTHENTICATED"]
    assert (await gql(VIEWER, token=payload["secret"])).ok()


@pytest.mark.parametrize("grace", [-1, 7 * 24 * 3600 + 1])
async def test_rotation_grace_is_bounded(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, grace: int
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly")

    result = await gql(ROTATE, {"id": key.id, "grace": grace}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "gracePeriodSeconds"


async def test_rotating_twice_or_after_revocation_is_a_conflict(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    rotated_key = await make_key(team.token, preset="root:readonly")
    revoked_key = await make_key(team.token, preset="root:readonly")
    (await gql(ROTATE, {"id": rotated_key.id}, token=team.token)).ok()
    (await gql(REVOKE, {"id": revoked_key.id}, token=team.token)).ok()

    again = await gql(ROTATE, {"id": rotated_key.id}, token=team.token)
    after_revoke = await gql(ROTATE, {"id": revoked_key.id}, token=team.token)

    assert again.codes == ["CONFLICT"]
    assert after_revoke.codes == ["CONFLICT"]


async def test_revoke_is_immediate_and_idempotent(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly")
    assert (await gql(VIEWER, token=key.token)).ok()

    first = (await gql(REVOKE, {"id": key.id}, token=team.token)).ok()
    second = (await gql(REVOKE, {"id": key.id}, token=team.token)).ok()
    refused = await gql(VIEWER, token=key.token)

    assert first["apiKeyRevoke"]["apiKey"]["status"] == "REVOKED"
    assert second["apiKeyRevoke"]["apiKey"]["status"] == "REVOKED"
    assert refused.status == 401
    assert refused.codes == ["UNAUTHENTICATED"]


async def test_another_teams_key_is_not_found(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    their_key = await make_key(theirs.token, preset="root:readonly")

    for query, variables in (
        ("query($id: ID!) { apiKey(id: $id) { id } }", {"id": their_key.id}),
        (REVOKE, {"id": their_key.id}),
        (ROTATE, {"id": their_key.id}),
    ):
        result = await gql(query, variables, token=mine.token)
        assert result.codes == ["NOT_FOUND"], query
    assert (await gql(VIEWER, token=their_key.token)).ok()


async def test_expired_key_fails_like_a_revoked_one(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, manual_clock: ManualClock
) -> None:
    team = await make_team()
    soon = (clock.now() + timedelta(seconds=1)).isoformat()
    key = await make_key(team.token, preset="root:readonly", expiresAt=soon)
    assert (await gql(VIEWER, token=key.token)).ok()

    manual_clock.advance(1)  # the key's last second is over
    result = await gql(VIEWER, token=key.token)
    listed = (await gql(KEYS, {"status": "EXPIRED"}, token=team.token)).ok()["apiKeys"]

    assert result.codes == ["UNAUTHENTICATED"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [key.id]


async def test_list_pages_with_keyset_cursors_and_filters(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    made = [await make_key(team.token, preset="root:readonly", name=f"k{i}") for i in range(5)]
    await make_key(team.token, type="SENDING", permissions=["email.send"])
    (await gql(REVOKE, {"id": made[0].id}, token=team.token)).ok()

    seen: list[str] = []
    after = None
    while True:
        page = (await gql(KEYS, {"first": 2, "after": after}, token=team.token)).ok()["apiKeys"]
        assert page["totalCount"] == 7
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    sending = (await gql(KEYS, {"type": "SENDING"}, token=team.token)).ok()["apiKeys"]
    revoked = (await gql(KEYS, {"status": "REVOKED"}, token=team.token)).ok()["apiKeys"]
    active = (await gql(KEYS, {"status": "ACTIVE"}, token=team.token)).ok()["apiKeys"]

    assert len(seen) == len(set(seen)) == 7
    assert seen[-1] == team.key_id  # newest first; the team's first key is the oldest
    assert sending["totalCount"] == 1
    assert [edge["node"]["id"] for edge in revoked["edges"]] == [made[0].id]
    assert active["totalCount"] == 6


@pytest.mark.parametrize(("first", "after"), [(0, None), (101, None), (10, "not-a-cursor")])
async def test_bad_paging_arguments_are_bad_input(
    gql: Gql, make_team: MakeTeam, first: int, after: str | None
) -> None:
    team = await make_team()

    result = await gql(KEYS, {"first": first, "after": after}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]


async def test_every_change_is_audited_without_secrets(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly")
    rotated = (await gql(ROTATE, {"id": key.id}, token=team.token)).ok()["apiKeyRotate"]
    (await gql(REVOKE, {"id": key.id}, token=team.token)).ok()
    await gql(
        KEY_CREATE,
        {"input": {"type": "INFRASTRUCTURE", "preset": "root:full"}},
        token=rotated["secret"],
    )

    events = (
        await gql(
            "{ auditEvents(first: 50) "
            "{ edges { node { action actor targetId outcome details } } } }",
            token=team.token,
        )
    ).ok()["auditEvents"]["edges"]
    actions = [(e["node"]["action"], e["node"]["outcome"]) for e in events]

    assert actions == [
        ("key.create", "permission_denied"),
        ("key.revoke", "success"),
        ("key.rotate", "success"),
        ("key.create", "success"),
        ("team.create", "success"),
    ]
    text = repr(events)
    for secret in (team.token, key.token, rotated["secret"]):
        assert secret not in text


async def test_audit_needs_logs_read(gql: Gql, make_team: MakeTeam, make_key: MakeKey) -> None:
    team = await make_team()
    billing = await make_key(team.token, preset="root:billing_admin")

    result = await gql("{ auditEvents { totalCount } }", token=billing.token)

    assert result.codes == ["FORBIDDEN"]


async def test_presets_come_from_the_live_policy(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    presets = (await gql("{ presets { id name permissions } }", token=team.token)).ok()["presets"]

    assert [p["id"] for p in presets] == [
        "root:full",
        "root:readonly",
        "root:provider_admin",
        "root:billing_admin",
        "root:webhook_admin",
    ]
    assert presets[3] == {
        "id": "root:billing_admin",
        "name": "Billing Admin",
        "permissions": ["billing.read", "billing.update"],
    }


async def test_team_create_and_limits_are_operator_only(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    update = """
    mutation($team: ID!, $limit: Int!) {
      teamLimitsUpdate(input: {teamId: $team, resource: CREDENTIALS, limit: $limit}) {
        team { limits { resource used limit } }
      }
    }
    """

    by_team = await gql(update, {"team": team.id, "limit": 5}, token=team.token)
    create_by_team = await gql(
        'mutation { teamCreate(input: {name: "x"}) { team { id } } }', token=team.token
    )
    by_operator = (await gql(update, {"team": team.id, "limit": 5}, token=OPERATOR_TOKEN)).ok()
    unknown_team = await gql(update, {"team": "team_nope", "limit": 5}, token=OPERATOR_TOKEN)
    negative = await gql(update, {"team": team.id, "limit": -1}, token=OPERATOR_TOKEN)
    empty_name = await gql(
        'mutation { teamCreate(input: {name: " "}) { team { id } } }', token=OPERATOR_TOKEN
    )

    assert by_team.codes == ["FORBIDDEN"]
    assert create_by_team.codes == ["FORBIDDEN"]
    limits = by_operator["teamLimitsUpdate"]["team"]["limits"]
    assert {"resource": "CREDENTIALS", "used": 1, "limit": 5} in limits
    assert unknown_team.codes == ["NOT_FOUND"]
    assert negative.codes == ["BAD_USER_INPUT"]
    assert empty_name.codes == ["BAD_USER_INPUT"]


async def test_limit_exceeded_names_resource_and_limit(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await gql(
        LIMIT_TO_TWO,
        {"t": team.id},
        token=OPERATOR_TOKEN,
    )
    await make_key(team.token, preset="root:readonly")

    result = await gql(
        KEY_CREATE,
        {"input": {"type": "INFRASTRUCTURE", "preset": "root:readonly"}},
        token=team.token,
    )

    assert result.codes == ["LIMIT_EXCEEDED"]
    assert result.errors[0]["extensions"]["resource"] == "credentials"
    assert result.errors[0]["extensions"]["limit"] == 2
    assert result.errors[0]["extensions"]["retryable"] is False


async def test_a_team_at_its_limit_can_still_rotate(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await gql(
        LIMIT_TO_TWO,
        {"t": team.id},
        token=OPERATOR_TOKEN,
    )
    key = await make_key(team.token, preset="root:readonly")

    rotated = await gql(ROTATE, {"id": key.id, "grace": 600}, token=team.token)
    viewer = (
        await gql("{ viewer { team { limits { resource used limit } } } }", token=team.token)
    ).ok()

    assert rotated.ok()
    assert {"resource": "CREDENTIALS", "used": 2, "limit": 2} in viewer["viewer"]["team"]["limits"]
