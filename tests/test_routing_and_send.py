"""Providers, delivery groups, the keys routed through them, and the send operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mailkeys.models import Message, Provider
from tests.conftest import OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

PROVIDER_FIELDS = "id name active createdAt"
PROVIDER_CREATE = f"""
mutation($name: String!) {{
  providerCreate(input: {{name: $name}}) {{ provider {{ {PROVIDER_FIELDS} }} }}
}}
"""
PROVIDER_UPDATE = f"""
mutation($id: ID!, $name: String) {{
  providerUpdate(input: {{id: $id, name: $name}}) {{ provider {{ {PROVIDER_FIELDS} }} }}
}}
"""
PROVIDER_ACTIVATE = (
    "mutation($id: ID!) { providerActivate(input: {id: $id}) { provider { active } } }"
)
PROVIDER_DEACTIVATE = (
    "mutation($id: ID!) { providerDeactivate(input: {id: $id}) { provider { active } } }"
)
PROVIDER_DELETE = """
mutation($id: ID!, $confirm: Boolean!) {
  providerDelete(input: {id: $id, confirm: $confirm}) { provider { id } }
}
"""
PROVIDER = f"query($id: ID!) {{ provider(id: $id) {{ {PROVIDER_FIELDS} }} }}"
PROVIDERS = "{ providers { edges { node { id name active } } totalCount } }"
GROUP_FIELDS = "id name providerIds createdAt"
GROUP_CREATE = f"""
mutation($name: String!, $providers: [ID!]!) {{
  deliveryGroupCreate(input: {{name: $name, providerIds: $providers}}) {{
    deliveryGroup {{ {GROUP_FIELDS} }}
  }}
}}
"""
GROUP_UPDATE = f"""
mutation($id: ID!, $name: String, $providers: [ID!]) {{
  deliveryGroupUpdate(input: {{id: $id, name: $name, providerIds: $providers}}) {{
    deliveryGroup {{ {GROUP_FIELDS} }}
  }}
}}
"""
GROUP_DELETE = """
mutation($id: ID!, $confirm: Boolean!) {
  deliveryGroupDelete(input: {id: $id, confirm: $confirm}) { deliveryGroup { id } }
}
"""
GROUP = f"query($id: ID!) {{ deliveryGroup(id: $id) {{ {GROUP_FIELDS} }} }}"
GROUPS = "{ deliveryGroups { edges { node { id name providerIds } } totalCount } }"
DEPENDENTS = "query($id: ID!) { dependents(id: $id) { id name displayToken } }"
KEY_SCOPE = (
    "query($id: ID!) { apiKey(id: $id) { sendScope { mode providerIds deliveryGroupIds } } }"
)
KEY_CREATE = """
mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { apiKey { id } secret } }
"""
REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }"
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
SEND = """
mutation($input: EmailSendInput!) {
  emailSend(input: $input) { message { id status providerId mailboxId createdAt } }
}
"""
SET_LIMIT = """
mutation($team: ID!, $limit: Int!) {
  teamLimitsUpdate(input: {teamId: $team, resource: PROVIDERS, limit: $limit}) { team { id } }
}
"""
LIMITS = "{ viewer { team { limits { resource used limit } } } }"
SENDER = "news@example.com"


async def add_provider(gql: Gql, token: str, name: str = "ses") -> str:
    """Create a provider and return its id."""
    result = await gql(PROVIDER_CREATE, {"name": name}, token=token)
    provider_id: str = result.ok()["providerCreate"]["provider"]["id"]
    return provider_id


async def add_group(gql: Gql, token: str, name: str, providers: list[str]) -> str:
    """Create a delivery group and return its id."""
    result = await gql(GROUP_CREATE, {"name": name, "providers": providers}, token=token)
    group_id: str = result.ok()["deliveryGroupCreate"]["deliveryGroup"]["id"]
    return group_id


async def add_mailbox(gql: Gql, token: str, address: str = SENDER) -> str:
    """Create a mailbox and return its id."""
    result = await gql(MAILBOX_CREATE, {"address": address}, token=token)
    mailbox_id: str = result.ok()["mailboxCreate"]["mailbox"]["id"]
    return mailbox_id


async def deactivate(gql: Gql, token: str, provider_id: str) -> None:
    """Stop a provider taking mail."""
    (await gql(PROVIDER_DEACTIVATE, {"id": provider_id}, token=token)).ok()


def email(sender: str = SENDER, hint: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """A valid `EmailSendInput`."""
    message: dict[str, Any] = {
        "from": sender,
        "to": ["rcpt@example.net"],
        "subject": "Hello",
        "text": "Hello there",
    }
    if hint is not None:
        message["deliveryGroupHint"] = hint
    message.update(fields)
    return {"input": message}


async def sent_through(gql: Gql, token: str, **kwargs: Any) -> str:
    """Send one message and return the provider chosen."""
    result = await gql(SEND, email(**kwargs), token=token)
    provider_id: str = result.ok()["emailSend"]["message"]["providerId"]
    return provider_id


async def sending_key(
    make_key: MakeKey,
    team: TeamHandle,
    providers: list[str] | None = None,
    groups: list[str] | None = None,
    permissions: list[str] | None = None,
    **extra: Any,
) -> KeyHandle:
    """A sending key scoped to all providers, a provider list, or delivery groups."""
    scope: dict[str, Any] = {"mode": "ALL"}
    if providers is not None:
        scope = {"mode": "PROVIDERS", "providerIds": providers}
    if groups is not None:
        scope = {"mode": "DELIVERY_GROUPS", "deliveryGroupIds": groups}
    return await make_key(
        team.token,
        type="SENDING",
        permissions=permissions or ["email.send"],
        sendScope=scope,
        **extra,
    )


def assert_no_active_providers(result: Any) -> None:
    """The retryable "no active providers" conflict."""
    assert result.codes == ["CONFLICT"], result.body
    extensions = result.errors[0]["extensions"]
    assert extensions["retryable"] is True
    assert extensions["reason"] == "NO_ACTIVE_PROVIDERS"


# --- providers -------------------------------------------------------------------------------


async def test_provider_lifecycle(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    created = (await gql(PROVIDER_CREATE, {"name": "ses-eu"}, token=team.token)).ok()
    provider_id = created["providerCreate"]["provider"]["id"]
    renamed = (
        await gql(PROVIDER_UPDATE, {"id": provider_id, "name": "ses-us"}, token=team.token)
    ).ok()
    off = (await gql(PROVIDER_DEACTIVATE, {"id": provider_id}, token=team.token)).ok()
    read_off = (await gql(PROVIDER, {"id": provider_id}, token=team.token)).ok()
    on = (await gql(PROVIDER_ACTIVATE, {"id": provider_id}, token=team.token)).ok()
    listed = (await gql(PROVIDERS, token=team.token)).ok()
    deleted = (
        await gql(PROVIDER_DELETE, {"id": provider_id, "confirm": False}, token=team.token)
    ).ok()
    after = (await gql(PROVIDERS, token=team.token)).ok()

    assert created["providerCreate"]["provider"]["active"] is True
    assert renamed["providerUpdate"]["provider"]["name"] == "ses-us"
    assert renamed["providerUpdate"]["provider"]["active"] is True
    assert off["providerDeactivate"]["provider"]["active"] is False
    assert read_off["provider"]["active"] is False
    assert read_off["provider"]["name"] == "ses-us"
    assert on["providerActivate"]["provider"]["active"] is True
    assert listed["providers"]["edges"] == [
        {"node": {"id": provider_id, "name": "ses-us", "active": True}}
    ]
    assert deleted["providerDelete"]["provider"]["id"] == provider_id
    assert after["providers"]["totalCount"] == 0
    assert (await gql(PROVIDER, {"id": provider_id}, token=team.token)).codes == ["NOT_FOUND"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_provider_name_is_checked(gql: Gql, make_team: MakeTeam, name: str) -> None:
    team = await make_team()

    result = await gql(PROVIDER_CREATE, {"name": name}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "name"


async def test_provider_limit_defaults_to_200_and_holds(gql: Gql, make_team: MakeTeam) -> None:
    # given a team whose provider limit the operator lowered to 2, with 2 providers
    team = await make_team()
    default = (await gql(LIMITS, token=team.token)).ok()["viewer"]["team"]["limits"]
    (await gql(SET_LIMIT, {"team": team.id, "limit": 2}, token=OPERATOR_TOKEN)).ok()
    await add_provider(gql, team.token, "one")
    await add_provider(gql, team.token, "two")

    # when it adds a third
    result = await gql(PROVIDER_CREATE, {"name": "three"}, token=team.token)

    # then the limit is named and nothing is stored
    assert {"resource": "PROVIDERS", "used": 0, "limit": 200} in default
    assert result.codes == ["LIMIT_EXCEEDED"]
    assert result.errors[0]["extensions"]["resource"] == "providers"
    assert result.errors[0]["extensions"]["limit"] == 2
    assert result.errors[0]["extensions"]["retryable"] is False
    assert await Provider.filter(team_id=team.id).count() == 2


async def test_delivery_group_membership(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    first = await add_provider(gql, team.token, "first")
    second = await add_provider(gql, team.token, "second")

    group_id = await add_group(gql, team.token, "bulk", [first, second])
    read = (await gql(GROUP, {"id": group_id}, token=team.token)).ok()["deliveryGroup"]
    narrowed = (
        await gql(GROUP_UPDATE, {"id": group_id, "providers": [second]}, token=team.token)
    ).ok()["deliveryGroupUpdate"]["deliveryGroup"]
    renamed = (
        await gql(GROUP_UPDATE, {"id": group_id, "name": "transactional"}, token=team.token)
    ).ok()["deliveryGroupUpdate"]["deliveryGroup"]
    emptied = (await gql(GROUP_UPDATE, {"id": group_id, "providers": []}, token=team.token)).ok()[
        "deliveryGroupUpdate"
    ]["deliveryGroup"]
    listed = (await gql(GROUPS, token=team.token)).ok()["deliveryGroups"]
    deleted = await gql(GROUP_DELETE, {"id": group_id, "confirm": False}, token=team.token)

    assert read["name"] == "bulk"
    assert sorted(read["providerIds"]) == sorted([first, second])
    assert narrowed["providerIds"] == [second]
    assert renamed["name"] == "transactional"
    assert renamed["providerIds"] == [second]  # absent members stay
    assert emptied["providerIds"] == []
    assert listed["totalCount"] == 1
    assert deleted.ok()["deliveryGroupDelete"]["deliveryGroup"]["id"] == group_id
    assert (await gql(GROUP, {"id": group_id}, token=team.token)).codes == ["NOT_FOUND"]
    # the providers outlive the group
    assert (await gql(PROVIDERS, token=team.token)).ok()["providers"]["totalCount"] == 2


async def test_a_deleted_provider_leaves_its_groups(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    kept = await add_provider(gql, team.token, "kept")
    dropped = await add_provider(gql, team.token, "dropped")
    group_id = await add_group(gql, team.token, "g", [kept, dropped])
    key = await sending_key(make_key, team, groups=[group_id])

    # the key routes through the provider via its group: deleting it needs confirmation
    refused = await gql(PROVIDER_DELETE, {"id": dropped, "confirm": False}, token=team.token)
    (await gql(PROVIDER_DELETE, {"id": dropped, "confirm": True}, token=team.token)).ok()
    group = (await gql(GROUP, {"id": group_id}, token=team.token)).ok()["deliveryGroup"]

    assert refused.codes == ["CONFLICT"]
    assert refused.errors[0]["extensions"]["dependentKeyIds"] == [key.id]
    assert group["providerIds"] == [kept]
    assert [await sent_through(gql, key.token) for _ in range(2)] == [kept] * 2


async def test_a_group_takes_only_the_teams_providers(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team("A")
    other = await make_team("B")
    mine = await add_provider(gql, team.token)
    theirs = await add_provider(gql, other.token)
    group_id = await add_group(gql, team.token, "g", [mine])

    created = await gql(GROUP_CREATE, {"name": "x", "providers": [mine, theirs]}, token=team.token)
    updated = await gql(GROUP_UPDATE, {"id": group_id, "providers": [theirs]}, token=team.token)
    unknown = await gql(GROUP_CREATE, {"name": "x", "providers": ["prv_nope"]}, token=team.token)

    for result in (created, updated, unknown):
        assert result.codes == ["BAD_USER_INPUT"]
        assert result.errors[0]["extensions"]["field"] == "providerIds"
    group = (await gql(GROUP, {"id": group_id}, token=team.token)).ok()["deliveryGroup"]
    assert group["providerIds"] == [mine]
    assert (await gql(GROUPS, token=team.token)).ok()["deliveryGroups"]["totalCount"] == 1


async def test_another_teams_providers_and_groups_are_not_found(
    gql: Gql, make_team: MakeTeam
) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    provider_id = await add_provider(gql, theirs.token)
    group_id = await add_group(gql, theirs.token, "g", [provider_id])

    for query, variables in (
        (PROVIDER, {"id": provider_id}),
        (PROVIDER_UPDATE, {"id": provider_id, "name": "mine now"}),
        (PROVIDER_DEACTIVATE, {"id": provider_id}),
        (PROVIDER_ACTIVATE, {"id": provider_id}),
        (PROVIDER_DELETE, {"id": provider_id, "confirm": True}),
        (DEPENDENTS, {"id": provider_id}),
        (GROUP, {"id": group_id}),
        (GROUP_UPDATE, {"id": group_id, "name": "mine now"}),
        (GROUP_DELETE, {"id": group_id, "confirm": True}),
        (DEPENDENTS, {"id": group_id}),
    ):
        result = await gql(query, variables, token=mine.token)
        assert result.codes == ["NOT_FOUND"], query
    # nothing of theirs changed
    their_provider = (await gql(PROVIDER, {"id": provider_id}, token=theirs.token)).ok()
    assert (their_provider["provider"]["name"], their_provider["provider"]["active"]) == (
        "ses",
        True,
    )
    assert (await gql(GROUP, {"id": group_id}, token=theirs.token)).ok()["deliveryGroup"][
        "name"
    ] == "g"
    assert (await gql(PROVIDERS, token=mine.token)).ok()["providers"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("scope_kind", "field"),
    [("providers", "sendScope.providerIds"), ("groups", "sendScope.deliveryGroupIds")],
)
async def test_send_scopes_reject_another_teams_ids(
    gql: Gql, make_team: MakeTeam, scope_kind: str, field: str
) -> None:
    team = await make_team("A")
    other = await make_team("B")
    mine = await add_provider(gql, team.token)
    my_group = await add_group(gql, team.token, "mine", [mine])
    theirs = await add_provider(gql, other.token)
    their_group = await add_group(gql, other.token, "theirs", [theirs])
    if scope_kind == "providers":
        scope = {"mode": "PROVIDERS", "providerIds": [mine, theirs]}
    else:
        scope = {"mode": "DELIVERY_GROUPS", "deliveryGroupIds": [my_group, their_group]}

    result = await gql(
        KEY_CREATE,
        {"input": {"type": "SENDING", "permissions": ["email.send"], "sendScope": scope}},
        token=team.token,
    )

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field


# --- dependents ------------------------------------------------------------------------------


async def test_deleting_a_provider_keys_depend_on_needs_confirmation(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given two live keys routed through a provider, and one revoked key
    team = await make_team()
    provider_id = await add_provider(gql, team.token, "a")
    spare = await add_provider(gql, team.token, "b")
    first = await sending_key(make_key, team, providers=[provider_id, spare], name="first")
    second = await sending_key(make_key, team, providers=[provider_id], name="second")
    revoked = await sending_key(make_key, team, providers=[provider_id], name="revoked")
    await sending_key(make_key, team, providers=[spare], name="unrelated")
    await sending_key(make_key, team, name="everything")
    (await gql(REVOKE, {"id": revoked.id}, token=team.token)).ok()

    # when it is listed in advance, and deleted without and then with confirmation
    listed = (await gql(DEPENDENTS, {"id": provider_id}, token=team.token)).ok()["dependents"]
    refused = await gql(PROVIDER_DELETE, {"id": provider_id, "confirm": False}, token=team.token)
    still_there = await gql(PROVIDER, {"id": provider_id}, token=team.token)
    confirmed = await gql(PROVIDER_DELETE, {"id": provider_id, "confirm": True}, token=team.token)

    # then the refusal names exactly the live dependent keys, and confirming drops it from them
    assert sorted(key["id"] for key in listed) == sorted([first.id, second.id])
    assert {key["name"] for key in listed} == {"first", "second"}
    assert refused.codes == ["CONFLICT"]
    assert sorted(refused.errors[0]["extensions"]["dependentKeyIds"]) == sorted(
        [first.id, second.id]
    )
    assert still_there.ok()["provider"]["id"] == provider_id
    assert confirmed.ok()["providerDelete"]["provider"]["id"] == provider_id
    scope = (await gql(KEY_SCOPE, {"id": first.id}, token=team.token)).ok()["apiKey"]["sendScope"]
    assert scope == {"mode": "PROVIDERS", "providerIds": [spare], "deliveryGroupIds": []}


async def test_deleting_a_group_keys_depend_on_needs_confirmation(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    provider_id = await add_provider(gql, team.token)
    group_id = await add_group(gql, team.token, "bulk", [provider_id])
    other_group = await add_group(gql, team.token, "other", [provider_id])
    key = await sending_key(make_key, team, groups=[group_id, other_group])

    listed = (await gql(DEPENDENTS, {"id": group_id}, token=team.token)).ok()["dependents"]
    refused = await gql(GROUP_DELETE, {"id": group_id, "confirm": False}, token=team.token)
    confirmed = await gql(GROUP_DELETE, {"id": group_id, "confirm": True}, token=team.token)

    assert [dependent["id"] for dependent in listed] == [key.id]
    assert refused.codes == ["CONFLICT"]
    assert refused.errors[0]["extensions"]["dependentKeyIds"] == [key.id]
    assert confirmed.ok()
    scope = (await gql(KEY_SCOPE, {"id": key.id}, token=team.token)).ok()["apiKey"]["sendScope"]
    assert scope["deliveryGroupIds"] == [other_group]


async def test_deleting_what_no_key_depends_on_needs_no_confirmation(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    provider_id = await add_provider(gql, team.token)
    group_id = await add_group(gql, team.token, "g", [provider_id])
    await sending_key(make_key, team)  # routes through ALL providers, names none

    assert (await gql(DEPENDENTS, {"id": provider_id}, token=team.token)).ok()["dependents"] == []
    assert (await gql(GROUP_DELETE, {"id": group_id, "confirm": False}, token=team.token)).ok()
    assert (
        await gql(PROVIDER_DELETE, {"id": provider_id, "confirm": False}, token=team.token)
    ).ok()


async def test_a_group_refused_for_dependents_is_audited(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    provider_id = await add_provider(gql, team.token)
    group_id = await add_group(gql, team.token, "g", [provider_id])
    await sending_key(make_key, team, groups=[group_id])

    await gql(GROUP_DELETE, {"id": group_id, "confirm": False}, token=team.token)
    events = (
        await gql(
            "{ auditEvents { edges { node { action targetId outcome } } } }", token=team.token
        )
    ).ok()["auditEvents"]["edges"]

    assert events[0]["node"] == {
        "action": "routing.delete",
        "targetId": group_id,
        "outcome": "dependents_conflict",
    }


# --- send ------------------------------------------------------------------------------------


async def test_send_queues_a_message_through_a_provider(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox_id = await add_mailbox(gql, team.token)
    provider_id = await add_provider(gql, team.token)
    key = await sending_key(make_key, team)

    result = await gql(
        SEND,
        email(to=["a@example.net", "B@Example.net"], html="<p>Hi</p>", subject="Greetings"),
        token=key.token,
    )

    message = result.ok()["emailSend"]["message"]
    assert message["status"] == "queued"
    assert message["providerId"] == provider_id
    assert message["mailboxId"] == mailbox_id
    stored = await Message.get(id=message["id"])
    assert stored.sender == SENDER
    assert stored.recipients == ["a@example.net", "b@example.net"]
    assert stored.subject == "Greetings"
    assert stored.html == "<p>Hi</p>"
    assert stored.provider_id == provider_id
    assert key.id in stored.credential_id


async def test_a_mailbox_key_sends_only_from_its_own_mailbox(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    own = await add_mailbox(gql, team.token, SENDER)
    await add_mailbox(gql, team.token, "other@example.com")
    await add_provider(gql, team.token)
    key = await make_key(team.token, type="MAILBOX", permissions=["email.send"], mailboxId=own)

    allowed = await gql(SEND, email(SENDER), token=key.token)
    refused = await gql(SEND, email("other@example.com"), token=key.token)

    assert allowed.ok()["emailSend"]["message"]["mailboxId"] == own
    assert refused.codes == ["FORBIDDEN"]
    assert await Message.filter(team_id=team.id).count() == 1


async def test_send_needs_email_send_on_the_sender(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    first = await add_mailbox(gql, team.token, SENDER)
    await add_mailbox(gql, team.token, "other@example.com")
    await add_provider(gql, team.token)
    reader = await sending_key(make_key, team, permissions=["mailbox.read"])
    narrowed = await sending_key(make_key, team, mailboxIds=[first])
    mailbox_reader = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=first
    )

    assert (await gql(SEND, email(SENDER), token=reader.token)).codes == ["FORBIDDEN"]
    assert (await gql(SEND, email(SENDER), token=mailbox_reader.token)).codes == ["FORBIDDEN"]
    assert (await gql(SEND, email("other@example.com"), token=narrowed.token)).codes == [
        "FORBIDDEN"
    ]
    assert (await gql(SEND, email(SENDER), token=narrowed.token)).ok()
    assert await Message.filter(team_id=team.id).count() == 1


async def test_infrastructure_keys_cannot_send_even_with_full_access(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    await add_provider(gql, team.token)
    full = await make_key(team.token, preset="root:full")

    for token in (team.token, full.token):
        result = await gql(SEND, email(), token=token)
        assert result.codes == ["FORBIDDEN"]
    assert await Message.filter(team_id=team.id).count() == 0


async def test_the_sender_must_be_a_mailbox_of_the_team(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team("A")
    other = await make_team("B")
    await add_mailbox(gql, other.token, "theirs@example.com")
    await add_provider(gql, team.token)
    key = await sending_key(make_key, team)

    theirs = await gql(SEND, email("theirs@example.com"), token=key.token)
    nobody = await gql(SEND, email("nobody@example.com"), token=key.token)

    # another team's mailbox is answered exactly like one that does not exist
    assert theirs.codes == nobody.codes == ["BAD_USER_INPUT"]
    assert theirs.errors[0]["extensions"]["field"] == nobody.errors[0]["extensions"]["field"]
    assert theirs.errors[0]["message"] == nobody.errors[0]["message"]
    assert await Message.all().count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"to": []}, "to"),
        ({"to": ["not an address"]}, "to"),
        ({"to": [f"r{i}@example.net" for i in range(51)]}, "to"),
        ({"text": None}, "text"),
        ({"from": "not an address"}, "from"),
    ],
)
async def test_invalid_messages_name_the_field(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, fields: dict[str, Any], field: str
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    await add_provider(gql, team.token)
    key = await sending_key(make_key, team)

    result = await gql(SEND, email(**fields), token=key.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field


async def test_two_sends_rotate_through_two_providers(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given two active providers
    team = await make_team()
    await add_mailbox(gql, team.token)
    first = await add_provider(gql, team.token, "first")
    second = await add_provider(gql, team.token, "second")
    key = await sending_key(make_key, team)

    # when four messages are sent
    chosen = [await sent_through(gql, key.token) for _ in range(4)]

    # then each provider takes every other one: least recently selected goes next
    assert {chosen[0], chosen[1]} == {first, second}
    assert chosen[2:] == chosen[:2]


async def test_a_new_provider_is_chosen_before_used_ones(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    first = await add_provider(gql, team.token, "first")
    key = await sending_key(make_key, team)
    assert await sent_through(gql, key.token) == first
    assert await sent_through(gql, key.token) == first

    second = await add_provider(gql, team.token, "second")

    assert await sent_through(gql, key.token) == second
    assert await sent_through(gql, key.token) == first


async def test_inactive_providers_take_no_mail(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    first = await add_provider(gql, team.token, "first")
    second = await add_provider(gql, team.token, "second")
    key = await sending_key(make_key, team)
    await deactivate(gql, team.token, second)

    chosen = [await sent_through(gql, key.token) for _ in range(3)]

    assert chosen == [first] * 3


async def test_a_provider_scope_uses_only_its_providers(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    first = await add_provider(gql, team.token, "first")
    await add_provider(gql, team.token, "second")
    third = await add_provider(gql, team.token, "third")
    key = await sending_key(make_key, team, providers=[first, third])

    chosen = [await sent_through(gql, key.token) for _ in range(4)]

    assert set(chosen) == {first, third}


async def test_send_never_falls_back_outside_the_scope(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a key scoped to provider A, which is inactive, while provider B is active
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_a = await add_provider(gql, team.token, "a")
    await add_provider(gql, team.token, "b")
    key = await sending_key(make_key, team, providers=[provider_a])
    await deactivate(gql, team.token, provider_a)

    # when it sends
    result = await gql(SEND, email(), token=key.token)

    # then it gets the retryable "no active providers" error, not provider B
    assert_no_active_providers(result)
    assert await Message.filter(team_id=team.id).count() == 0

    # and once A is active again, the same send succeeds through A
    (await gql(PROVIDER_ACTIVATE, {"id": provider_a}, token=team.token)).ok()
    assert await sent_through(gql, key.token) == provider_a


async def test_all_providers_inactive_is_a_retryable_conflict(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    only = await add_provider(gql, team.token)
    key = await sending_key(make_key, team)
    await deactivate(gql, team.token, only)

    assert_no_active_providers(await gql(SEND, email(), token=key.token))


async def test_a_team_without_providers_cannot_send(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    other = await make_team("Other")
    await add_provider(gql, other.token)  # another team's provider is never in the pool
    await add_mailbox(gql, team.token)
    key = await sending_key(make_key, team)
    mailbox_key = await make_key(
        team.token,
        type="MAILBOX",
        permissions=["email.send"],
        mailboxId=await add_mailbox(gql, team.token, "own@example.com"),
    )

    assert_no_active_providers(await gql(SEND, email(), token=key.token))
    assert_no_active_providers(await gql(SEND, email("own@example.com"), token=mailbox_key.token))


async def test_a_deleted_provider_leaves_its_keys_with_an_empty_pool(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a key scoped to provider A only, and an active provider B
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_a = await add_provider(gql, team.token, "a")
    await add_provider(gql, team.token, "b")
    key = await sending_key(make_key, team, providers=[provider_a])

    # when A is deleted with confirmation
    (await gql(PROVIDER_DELETE, {"id": provider_a, "confirm": True}, token=team.token)).ok()

    # then the key's pool is empty: it does not widen to B
    assert_no_active_providers(await gql(SEND, email(), token=key.token))


async def test_a_deleted_group_leaves_its_keys_with_an_empty_pool(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_id = await add_provider(gql, team.token)
    group_id = await add_group(gql, team.token, "g", [provider_id])
    key = await sending_key(make_key, team, groups=[group_id])
    assert await sent_through(gql, key.token) == provider_id

    (await gql(GROUP_DELETE, {"id": group_id, "confirm": True}, token=team.token)).ok()

    assert_no_active_providers(await gql(SEND, email(), token=key.token))


async def test_a_group_scope_uses_the_groups_current_members(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given groups G1 = {A} and G2 = {B}, and a key scoped to G1
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_a = await add_provider(gql, team.token, "a")
    provider_b = await add_provider(gql, team.token, "b")
    group_1 = await add_group(gql, team.token, "g1", [provider_a])
    await add_group(gql, team.token, "g2", [provider_b])
    key = await sending_key(make_key, team, groups=[group_1])

    # then its mail goes through A only
    assert [await sent_through(gql, key.token) for _ in range(3)] == [provider_a] * 3

    # and when G1's members change, so does its pool
    (await gql(GROUP_UPDATE, {"id": group_1, "providers": [provider_b]}, token=team.token)).ok()
    assert await sent_through(gql, key.token) == provider_b
    (await gql(GROUP_UPDATE, {"id": group_1, "providers": []}, token=team.token)).ok()
    assert_no_active_providers(await gql(SEND, email(), token=key.token))


async def test_the_hint_narrows_the_pool_to_its_groups(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_a = await add_provider(gql, team.token, "a")
    provider_b = await add_provider(gql, team.token, "b")
    group_1 = await add_group(gql, team.token, "g1", [provider_a])
    group_2 = await add_group(gql, team.token, "g2", [provider_b])
    key = await sending_key(make_key, team, groups=[group_1, group_2])

    hinted = [await sent_through(gql, key.token, hint=[group_2]) for _ in range(3)]
    unhinted = [await sent_through(gql, key.token) for _ in range(2)]

    assert hinted == [provider_b] * 3
    assert set(unhinted) <= {provider_a, provider_b}
    assert provider_a in unhinted  # least recently selected after three sends through B


async def test_the_hint_must_be_a_subset_of_the_keys_groups(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_a = await add_provider(gql, team.token, "a")
    provider_b = await add_provider(gql, team.token, "b")
    group_1 = await add_group(gql, team.token, "g1", [provider_a])
    group_2 = await add_group(gql, team.token, "g2", [provider_b])
    key = await sending_key(make_key, team, groups=[group_1])

    outside = await gql(SEND, email(hint=[group_2]), token=key.token)
    partly = await gql(SEND, email(hint=[group_1, group_2]), token=key.token)

    for result in (outside, partly):
        assert result.codes == ["BAD_USER_INPUT"]
        assert result.errors[0]["extensions"]["field"] == "deliveryGroupHint"
    assert await Message.filter(team_id=team.id).count() == 0


async def test_an_unknown_or_foreign_hint_is_bad_input(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team("A")
    other = await make_team("B")
    await add_mailbox(gql, team.token)
    await add_provider(gql, team.token)
    their_group = await add_group(
        gql, other.token, "theirs", [await add_provider(gql, other.token)]
    )
    key = await sending_key(make_key, team)

    for hint in (["dg_unknown"], [their_group]):
        result = await gql(SEND, email(hint=hint), token=key.token)
        assert result.codes == ["BAD_USER_INPUT"], hint
        assert result.errors[0]["extensions"]["field"] == "deliveryGroupHint"


async def test_a_hint_never_widens_a_provider_scope(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a key scoped to provider A, and a group holding only B
    team = await make_team()
    await add_mailbox(gql, team.token)
    provider_a = await add_provider(gql, team.token, "a")
    provider_b = await add_provider(gql, team.token, "b")
    group_b = await add_group(gql, team.token, "gb", [provider_b])
    key = await sending_key(make_key, team, providers=[provider_a])

    # when it hints at B's group, the pool is the intersection: empty
    assert_no_active_providers(await gql(SEND, email(hint=[group_b]), token=key.token))


async def test_the_hint_applies_to_keys_scoped_to_all_providers(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    await add_mailbox(gql, team.token)
    await add_provider(gql, team.token, "a")
    provider_b = await add_provider(gql, team.token, "b")
    group_b = await add_group(gql, team.token, "gb", [provider_b])
    key = await sending_key(make_key, team)

    assert [await sent_through(gql, key.token, hint=[group_b]) for _ in range(2)] == [
        provider_b
    ] * 2


async def test_routing_changes_need_their_permissions(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    provider_id = await add_provider(gql, team.token)
    group_id = await add_group(gql, team.token, "g", [provider_id])
    readonly = await make_key(team.token, preset="root:readonly")
    billing = await make_key(team.token, preset="root:billing_admin")
    sender = await sending_key(make_key, team)

    reads: list[tuple[str, dict[str, Any]]] = [
        (PROVIDERS, {}),
        (PROVIDER, {"id": provider_id}),
        (GROUPS, {}),
        (GROUP, {"id": group_id}),
        (DEPENDENTS, {"id": provider_id}),
    ]
    writes: list[tuple[str, dict[str, Any]]] = [
        (PROVIDER_CREATE, {"name": "x"}),
        (PROVIDER_UPDATE, {"id": provider_id, "name": "x"}),
        (PROVIDER_DEACTIVATE, {"id": provider_id}),
        (PROVIDER_ACTIVATE, {"id": provider_id}),
        (PROVIDER_DELETE, {"id": provider_id, "confirm": True}),
        (GROUP_CREATE, {"name": "x", "providers": []}),
        (GROUP_UPDATE, {"id": group_id, "name": "x"}),
        (GROUP_DELETE, {"id": group_id, "confirm": True}),
    ]
    for query, variables in reads:
        assert (await gql(query, variables, token=readonly.token)).codes == [], query
        assert (await gql(query, variables, token=billing.token)).codes == ["FORBIDDEN"], query
        assert (await gql(query, variables, token=sender.token)).codes == ["FORBIDDEN"], query
    for query, variables in writes:
        for key in (readonly, billing, sender):
            assert (await gql(query, variables, token=key.token)).codes == ["FORBIDDEN"], query
    assert (await gql(PROVIDER, {"id": provider_id}, token=team.token)).ok()["provider"][
        "name"
    ] == "ses"
