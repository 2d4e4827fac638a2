"""IP allowlists in the gateways' credential check: the mail client's address is `clientIp`.

A password or key with an allowlist is allowed only when the gateway says where the mail
client connects from, and that address is listed; every miss is the usual denial.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from mailkeys.models import AuditEvent
from tests.conftest import GATEWAY_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]
ADDRESS = "ops@example.com"
OFFICE = "203.0.113.0/24"
CHECK = """
query($address: String!, $secret: String!, $clientIp: String) {
  credentialCheck(address: $address, secret: $secret, protocol: SMTP, clientIp: $clientIp) {
    allowed mailboxId
  }
}
"""
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
PASSWORD_CREATE = """
mutation($mailbox: ID!, $ips: [String!]) {
  mailboxPasswordCreate(input: {mailboxId: $mailbox, appName: "phone", allowedIps: $ips}) {
    mailboxPassword { id allowedIps } password
  }
}
"""
PASSWORD_UPDATE = """
mutation($id: ID!, $ips: [String!]) {
  mailboxPasswordAllowedIpsUpdate(input: {id: $id, allowedIps: $ips}) {
    mailboxPassword { id allowedIps }
  }
}
"""
PASSWORD_REVOKE = "mutation($id: ID!) { mailboxPasswordRevoke(input: {id: $id}) { __typename } }"
TRANSPORTS = ("graphql", "json")


@dataclass
class Mailbox:
    """A mailbox of a team, with a password and a mailbox key that may be used from the office."""

    team: TeamHandle
    id: str
    password: str
    password_id: str
    key: KeyHandle


@pytest.fixture
async def mailbox(gql: Gql, make_team: MakeTeam, make_key: MakeKey) -> Mailbox:
    team = await make_team()
    created = (await gql(MAILBOX_CREATE, {"address": ADDRESS}, token=team.token)).ok()
    mailbox_id = created["mailboxCreate"]["mailbox"]["id"]
    variables = {"mailbox": mailbox_id, "ips": [OFFICE]}
    issued = (await gql(PASSWORD_CREATE, variables, token=team.token)).ok()["mailboxPasswordCreate"]
    assert issued["mailboxPassword"]["allowedIps"] == [OFFICE]
    key = await make_key(
        team.token,
        type="MAILBOX",
        permissions=["email.send"],
        mailboxId=mailbox_id,
        allowedIps=[OFFICE],
    )
    return Mailbox(team, mailbox_id, issued["password"], issued["mailboxPassword"]["id"], key)


Check = Callable[..., Awaitable[Any]]


@pytest.fixture
def check(gql: Gql, client: httpx.AsyncClient) -> Check:
    """The check's answer over either transport, with an optional clientIp."""

    async def run(transport: str, secret: str, client_ip: str | None = None) -> Any:
        if transport == "graphql":
            variables = {"address": ADDRESS, "secret": secret, "clientIp": client_ip}
            return (await gql(CHECK, variables, token=GATEWAY_TOKEN)).ok()["credentialCheck"]
        body: dict[str, Any] = {"address": ADDRESS, "secret": secret, "protocol": "SMTP"}
        if client_ip is not None:
            body["clientIp"] = client_ip
        response = await client.post(
            "/v1/credentials/check",
            json=body,
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        return {k: v for k, v in response.json().items() if k != "permissions"}

    return run


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_check_allows_a_listed_credential_only_from_its_addresses(
    check: Check, mailbox: Mailbox, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    allowed = {"allowed": True, "mailboxId": mailbox.id}
    denied = {"allowed": False, "mailboxId": None}

    for secret in (mailbox.password, mailbox.key.token):
        assert await check(transport, secret, "203.0.113.20") == allowed
        assert await check(transport, secret, "::ffff:203.0.113.20") == allowed
        with caplog.at_level(logging.INFO, logger="mailkeys.requests"):
            caplog.clear()
            assert await check(transport, secret, "198.51.100.1") == denied
            # the reason is logged (server-side only), never the secret
            assert [getattr(r, "auth_failure", None) for r in caplog.records] == ["ip_not_allowed"]
            assert secret not in caplog.text
        assert await check(transport, secret) == denied  # the gateway did not say


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_credential_without_an_allowlist_needs_no_client_ip(
    check: Check, gql: Gql, mailbox: Mailbox, transport: str
) -> None:
    variables = {"mailbox": mailbox.id, "ips": None}
    issued = (await gql(PASSWORD_CREATE, variables, mailbox.team.token)).ok()

    password = issued["mailboxPasswordCreate"]["password"]

    assert (await check(transport, password))["allowed"] is True
    assert (await check(transport, password, "198.51.100.1"))["allowed"] is True


async def test_a_malformed_client_ip_is_the_gateways_mistake(
    gql: Gql, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    variables = {"address": ADDRESS, "secret": mailbox.password, "clientIp": "203.0.113.300"}

    over_graphql = await gql(CHECK, variables, token=GATEWAY_TOKEN)
    over_json = await client.post(
        "/v1/credentials/check",
        json={**variables, "protocol": "SMTP"},
        headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
    )
    not_a_string = await client.post(
        "/v1/credentials/check",
        json={**variables, "protocol": "SMTP", "clientIp": 3405803796},
        headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
    )

    assert over_graphql.codes == ["BAD_USER_INPUT"]
    assert over_graphql.errors[0]["extensions"]["field"] == "clientIp"
    assert over_json.status_code == 400
    assert over_json.json()["field"] == "clientIp"
    assert not_a_string.status_code == 400


async def test_a_password_allowlist_changes_without_a_new_password(
    check: Check, gql: Gql, mailbox: Mailbox
) -> None:
    token = mailbox.team.token

    moved = (await gql(PASSWORD_UPDATE, {"id": mailbox.password_id, "ips": ["::/0"]}, token)).ok()

    assert moved["mailboxPasswordAllowedIpsUpdate"]["mailboxPassword"] == {
        "id": mailbox.password_id,
        "allowedIps": ["::/0"],
    }
    assert (await check("json", mailbox.password, "2001:db8::5"))["allowed"] is True
    assert (await check("json", mailbox.password, "203.0.113.20"))["allowed"] is False
    events = await AuditEvent.filter(action="mailbox_password.allowed_ips.update")
    assert [(e.target_id, e.details) for e in events] == [
        (mailbox.password_id, {"allowed_ips": ["::/0"], "previous": [OFFICE]})
    ]


async def test_changing_a_password_allowlist_needs_mailbox_admin_manage(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, mailbox: Mailbox
) -> None:
    reader = await make_key(mailbox.team.token, preset="root:readonly")
    other_team = await make_team("Other")
    revoked = (
        await gql(PASSWORD_CREATE, {"mailbox": mailbox.id, "ips": None}, mailbox.team.token)
    ).ok()["mailboxPasswordCreate"]["mailboxPassword"]["id"]
    (await gql(PASSWORD_REVOKE, {"id": revoked}, mailbox.team.token)).ok()
    change = {"id": mailbox.password_id, "ips": None}

    by_reader = await gql(PASSWORD_UPDATE, change, reader.token)
    by_other_team = await gql(PASSWORD_UPDATE, change, other_team.token)
    of_revoked = await gql(PASSWORD_UPDATE, {"id": revoked, "ips": None}, mailbox.team.token)
    bad = await gql(PASSWORD_UPDATE, {**change, "ips": ["10.0.0.1/8"]}, mailbox.team.token)

    assert by_reader.codes == ["FORBIDDEN"]
    assert by_other_team.codes == ["NOT_FOUND"]
    assert of_revoked.codes == ["CONFLICT"]
    assert bad.codes == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "allowedIps"
