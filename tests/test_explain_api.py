"""explainAccess and whoCan: the decision, the matched rule, the chain, and every other gate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mailkeys import policy
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from tests.conftest import OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

EXPLAIN = """
query($input: ExplainAccessInput!) {
  explainAccess(input: $input) {
    allowed policyAllowed outcome role roleChain matchedRule policyVersion reason
    credentialId credentialType teamId permission domain resourceTeamId resourceMailboxId
    gates { name passed detail }
  }
}
"""
WHO_CAN = """
query($input: WhoCanInput!, $first: Int, $after: String) {
  whoCan(input: $input, first: $first, after: $after) {
    policyVersion
    credentials {
      totalCount pageInfo { hasNextPage endCursor }
      edges {
        node { id credentialType name display preset permissions mailboxId role matchedRule }
      }
    }
  }
}
"""


@dataclass
class Mailboxes:
    """A team with a provider, two mailboxes, and credentials of every kind."""

    team: TeamHandle
    first: str
    second: str
    reader: KeyHandle
    sender_all: KeyHandle
    sender_second: KeyHandle
    mailbox_key: KeyHandle
    password_id: str


async def ok(gql: Gql, token: str, query: str, **variables: Any) -> Any:
    return (await gql(query, variables, token=token)).ok()


@pytest.fixture
async def setup(gql: Gql, make_team: MakeTeam, make_key: MakeKey) -> Mailboxes:
    team = await make_team()
    await ok(
        gql, team.token, 'mutation { providerCreate(input: {name: "ses"}) { provider { id } } }'
    )
    ids = []
    for address in ("one@example.com", "two@example.com"):
        created = await ok(
            gql,
            team.token,
            "mutation($a: String!) { mailboxCreate(input: {address: $a}) { mailbox { id } } }",
            a=address,
        )
        ids.append(created["mailboxCreate"]["mailbox"]["id"])
    first, second = ids
    password = await ok(
        gql,
        team.token,
        'mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, appName: "Mail"}) '
        "{ mailboxPassword { id } } }",
        m=first,
    )
    return Mailboxes(
        team=team,
        first=first,
        second=second,
        reader=await make_key(team.token, preset="root:readonly"),
        sender_all=await make_key(team.token, type="SENDING", permissions=["email.send"]),
        sender_second=await make_key(
            team.token, type="SENDING", permissions=["email.send"], mailboxIds=[second]
        ),
        mailbox_key=await make_key(
            team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=first
        ),
        password_id=password["mailboxPasswordCreate"]["mailboxPassword"]["id"],
    )


async def explain(gql: Gql, token: str, **explain_input: Any) -> Any:
    return await gql(EXPLAIN, {"input": explain_input}, token=token)


def gates(answer: dict[str, Any]) -> dict[str, bool]:
    return {gate["name"]: gate["passed"] for gate in answer["gates"]}


# ---------------------------------------------------------------------------------------------
# explainAccess
# ---------------------------------------------------------------------------------------------


async def test_allowed_by_a_wildcard_rule(gql: Gql, setup: Mailboxes) -> None:
    answer = (
        await explain(gql, setup.team.token, credentialId=setup.reader.id, permission="key.read")
    ).ok()["explainAccess"]

    assert answer["allowed"] is True
    assert answer["outcome"] == "allowed"
    assert answer["role"] == "root:readonly"
    assert answer["roleChain"] == ["root:readonly"]
    assert answer["matchedRule"] == "p, root:readonly, *.read, team"
    assert answer["policyVersion"] == 1
    assert answer["domain"] == "team"
    assert answer["resourceTeamId"] == setup.team.id
    assert gates(answer) == {"revoked": True, "expired": True}


async def test_denied_when_no_rule_matches(gql: Gql, setup: Mailboxes) -> None:
    answer = (
        await explain(gql, OPERATOR_TOKEN, credentialId=setup.reader.id, permission="key.revoke")
    ).ok()["explainAccess"]

    assert answer["allowed"] is False
    assert answer["outcome"] == "policy_denies"
    assert answer["matchedRule"] is None
    assert "no rule grants key.revoke to root:readonly" in answer["reason"]


async def test_the_role_chain_follows_inheritance(gql: Gql, setup: Mailboxes) -> None:
    text = shipped_policy_text() + (
        "p2, root:auditor, Auditor\n"
        "g, root:auditor, role:readers\n"
        "p, role:readers, logs.read, team\n"
    )
    policy.install(build_snapshot(shipped_model_text(), text, version=2))
    auditor = (
        await ok(
            gql,
            setup.team.token,
            'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:auditor"}) '
            "{ apiKey { id } } }",
        )
    )["apiKeyCreate"]["apiKey"]["id"]

    answer = (
        await explain(gql, OPERATOR_TOKEN, credentialId=auditor, permission="logs.read")
    ).ok()["explainAccess"]

    assert answer["allowed"] is True
    assert answer["roleChain"] == ["root:auditor", "role:readers"]
    assert answer["matchedRule"] == "p, role:readers, logs.read, team"
    assert answer["policyVersion"] == 2


async def test_binding_and_listed_permissions_are_explained(gql: Gql, setup: Mailboxes) -> None:
    outside = (
        await explain(
            gql,
            setup.team.token,
            credentialId=setup.sender_second.id,
            permission="email.send",
            resourceId=setup.first,
        )
    ).ok()["explainAccess"]
    unlisted = (
        await explain(
            gql,
            setup.team.token,
            credentialId=setup.mailbox_key.id,
            permission="email.send",
            resourceId=setup.first,
        )
    ).ok()["explainAccess"]

    assert (outside["allowed"], outside["outcome"]) == (False, "not_bound")
    assert outside["matchedRule"] == "p, kind:sending, email.send, mailbox"
    assert gates(outside)["mailbox_binding"] is False
    assert outside["resourceMailboxId"] == setup.first
    assert (unlisted["allowed"], unlisted["outcome"]) == (False, "not_listed")


async def test_revocation_is_a_gate_outside_the_policy(gql: Gql, setup: Mailboxes) -> None:
    await ok(
        gql,
        setup.team.token,
        "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }",
        id=setup.reader.id,
    )

    answer = (
        await explain(gql, setup.team.token, credentialId=setup.reader.id, permission="key.read")
    ).ok()["explainAccess"]

    assert answer["policyAllowed"] is True
    assert answer["allowed"] is False
    assert gates(answer)["revoked"] is False
    assert "revoked" in answer["reason"]


async def test_suspension_and_send_scope_are_gates(gql: Gql, setup: Mailboxes) -> None:
    await ok(
        gql,
        setup.team.token,
        "mutation($m: ID!) { mailboxSuspend(input: {id: $m}) { mailbox { id } } }",
        m=setup.first,
    )

    password = (
        await explain(
            gql,
            setup.team.token,
            credentialId=setup.password_id,
            permission="email.send",
            resourceId=setup.first,
        )
    ).ok()["explainAccess"]
    broad = (
        await explain(
            gql,
            setup.team.token,
            credentialId=setup.sender_all.id,
            permission="email.send",
            resourceId=setup.first,
        )
    ).ok()["explainAccess"]
    elsewhere = (
        await explain(
            gql,
            setup.team.token,
            credentialId=setup.sender_all.id,
            permission="email.send",
            resourceId=setup.second,
        )
    ).ok()["explainAccess"]

    assert password["credentialType"] == "password"
    assert password["policyAllowed"] is True
    assert password["allowed"] is False
    assert gates(password)["mailbox_suspended"] is False
    assert broad["allowed"] is False
    assert gates(broad)["sender_mailbox_suspended"] is False
    assert elsewhere["allowed"] is True
    assert gates(elsewhere)["send_scope"] is True


async def test_an_empty_send_scope_is_a_failed_gate(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox = await ok(
        gql,
        team.token,
        'mutation { mailboxCreate(input: {address: "x@example.com"}) { mailbox { id } } }',
    )
    sender = await make_key(team.token, type="SENDING", permissions=["email.send"])

    answer = (
        await explain(
            gql,
            team.token,
            credentialId=sender.id,
            permission="email.send",
            resourceId=mailbox["mailboxCreate"]["mailbox"]["id"],
        )
    ).ok()["explainAccess"]

    assert answer["policyAllowed"] is True
    assert answer["allowed"] is False
    assert gates(answer)["send_scope"] is False


async def test_another_teams_credential_is_not_found_for_a_team_admin(
    gql: Gql, setup: Mailboxes, make_team: MakeTeam
) -> None:
    other = await make_team("Other")

    hidden = await explain(gql, other.token, credentialId=setup.reader.id, permission="key.read")
    foreign_resource = await explain(
        gql, other.token, credentialId=other.key_id, permission="email.send", resourceId=setup.first
    )
    operator = await explain(
        gql,
        OPERATOR_TOKEN,
        credentialId=other.key_id,
        permission="key.read",
        resourceId=setup.team.id,
    )

    assert hidden.codes == ["NOT_FOUND"]
    assert foreign_resource.codes == ["NOT_FOUND"]
    # the operator sees everything: the policy answer for another team's resource is a denial
    assert operator.ok()["explainAccess"]["outcome"] == "not_found"


async def test_explaining_needs_key_read_or_the_operator(
    gql: Gql, setup: Mailboxes, make_key: MakeKey
) -> None:
    billing = await make_key(setup.team.token, preset="root:billing_admin")

    refused = await explain(gql, billing.token, credentialId=setup.reader.id, permission="key.read")
    anonymous = await explain(gql, "", credentialId=setup.reader.id, permission="key.read")

    assert refused.codes == ["FORBIDDEN"]
    assert anonymous.codes == ["UNAUTHENTICATED"]


async def test_unknown_permission_or_credential(gql: Gql, setup: Mailboxes) -> None:
    bad_permission = await explain(
        gql, OPERATOR_TOKEN, credentialId=setup.reader.id, permission="key.destroy"
    )
    missing = await explain(gql, OPERATOR_TOKEN, credentialId="nope", permission="key.read")

    assert bad_permission.codes == ["BAD_USER_INPUT"]
    assert bad_permission.errors[0]["extensions"]["field"] == "permission"
    assert missing.codes == ["NOT_FOUND"]


# ---------------------------------------------------------------------------------------------
# whoCan
# ---------------------------------------------------------------------------------------------


async def who_can(gql: Gql, token: str, **query: Any) -> Any:
    first = query.pop("first", None)
    after = query.pop("after", None)
    return await gql(WHO_CAN, {"input": query, "first": first, "after": after}, token=token)


async def test_who_can_send_from_a_mailbox(gql: Gql, setup: Mailboxes) -> None:
    answer = (
        await who_can(
            gql,
            setup.team.token,
            teamId=setup.team.id,
            permission="email.send",
            resourceId=setup.first,
        )
    ).ok()["whoCan"]

    nodes = [edge["node"] for edge in answer["credentials"]["edges"]]
    # the broad sending key and the password; not the key bound to the second mailbox, not
    # the mailbox key (it does not list email.send), not the infrastructure keys
    assert {node["id"] for node in nodes} == {setup.sender_all.id, setup.password_id}
    assert answer["policyVersion"] == 1
    password = next(node for node in nodes if node["credentialType"] == "password")
    assert password["name"] == "Mail"
    assert password["mailboxId"] == setup.first
    assert password["matchedRule"] == "p, kind:password, email.send, mailbox"
    assert all(setup.team.token not in str(node) for node in nodes)


async def test_who_can_manage_keys_lists_full_access_keys(gql: Gql, setup: Mailboxes) -> None:
    answer = (
        await who_can(gql, OPERATOR_TOKEN, teamId=setup.team.id, permission="key.revoke")
    ).ok()["whoCan"]

    nodes = [edge["node"] for edge in answer["credentials"]["edges"]]
    assert [(n["id"], n["preset"], n["role"]) for n in nodes] == [
        (setup.team.key_id, "root:full", "root:full")
    ]
    assert nodes[0]["matchedRule"] == "p, root:full, *, team"


async def test_who_can_follows_revocation_suspension_and_paging(
    gql: Gql, setup: Mailboxes, make_key: MakeKey
) -> None:
    readers = [await make_key(setup.team.token, preset="root:readonly") for _ in range(3)]
    await ok(
        gql,
        setup.team.token,
        "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }",
        id=readers[0].id,
    )

    first = (
        await who_can(gql, setup.team.token, teamId=setup.team.id, permission="key.read", first=2)
    ).ok()["whoCan"]["credentials"]
    rest = (
        await who_can(
            gql,
            setup.team.token,
            teamId=setup.team.id,
            permission="key.read",
            first=2,
            after=first["pageInfo"]["endCursor"],
        )
    ).ok()["whoCan"]["credentials"]

    ids = [edge["node"]["id"] for edge in [*first["edges"], *rest["edges"]]]
    # the first Full Access key, the fixture's reader and two of the three new readers
    assert first["totalCount"] == 4
    assert sorted(ids) == sorted([setup.team.key_id, setup.reader.id, readers[1].id, readers[2].id])
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_who_can_is_limited_to_the_admins_team(
    gql: Gql, setup: Mailboxes, make_team: MakeTeam
) -> None:
    other = await make_team("Other")

    hidden = await who_can(gql, other.token, teamId=setup.team.id, permission="key.read")
    missing = await who_can(gql, OPERATOR_TOKEN, teamId="team_nope", permission="key.read")
    foreign_mailbox = await who_can(
        gql, other.token, teamId=other.id, permission="email.send", resourceId=setup.first
    )

    assert hidden.codes == ["NOT_FOUND"]
    assert missing.codes == ["NOT_FOUND"]
    assert foreign_mailbox.codes == ["NOT_FOUND"]


async def test_who_can_uses_the_live_policy(gql: Gql, setup: Mailboxes) -> None:
    text = shipped_policy_text() + "p, root:readonly, key.revoke, team\n"
    policy.install(build_snapshot(shipped_model_text(), text, version=2))

    answer = (
        await who_can(gql, setup.team.token, teamId=setup.team.id, permission="key.revoke")
    ).ok()["whoCan"]

    ids = {edge["node"]["id"] for edge in answer["credentials"]["edges"]}
    assert ids == {setup.team.key_id, setup.reader.id}
    assert answer["policyVersion"] == 2


async def test_passwords_are_shown_only_to_who_may_list_them(
    gql: Gql, setup: Mailboxes, make_key: MakeKey
) -> None:
    # a preset that may read keys but not mailboxes
    text = (
        shipped_policy_text()
        + "p2, root:key_reader, Key Reader\np, root:key_reader, key.read, team\n"
    )
    policy.install(build_snapshot(shipped_model_text(), text, version=2))
    key_reader = await make_key(setup.team.token, preset="root:key_reader")

    explained = await explain(
        gql, key_reader.token, credentialId=setup.password_id, permission="email.send"
    )
    listed = (
        await who_can(
            gql,
            key_reader.token,
            teamId=setup.team.id,
            permission="email.send",
            resourceId=setup.first,
        )
    ).ok()["whoCan"]["credentials"]

    assert explained.codes == ["NOT_FOUND"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [setup.sender_all.id]
