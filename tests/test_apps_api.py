"""Connected apps as a team sees them over GraphQL, and as the gateways' check sees them.

Listing (app, product lines, mailbox set, who authorized, last use, request count),
disconnecting (the next request is refused), the credential slot a connection takes,
registering apps, and the Mailbox and Sending lines at the gateways' credential check.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.clock import ManualClock
from mailkeys.models import AuditEvent, Team
from tests.apps_flow import (  # noqa: F401
    BASE,
    REDIRECT_URI,
    Member,
    admin_fixture,
    http_client,
    http_fixture,
    make_member,
    settings_fixture,
    team_fixture,
)
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN, Gql, TeamHandle
from tests.test_apps_oauth import connect, graphql, register_public

CONNECTIONS = """
{ appConnections { totalCount edges { node {
    id app { id name registeredBy public } productLines groups permissions mailboxIds
    authorizedBy authorizedByEmail lastUsedAt requestCount
} } } }
"""
DISCONNECT = """
mutation($id: ID!) { appConnectionDisconnect(input: {id: $id}) { appConnection { id } } }
"""
REGISTER = """
mutation($input: AppRegisterInput!) {
  appRegister(input: $input) { app { id name public registeredBy redirectUris } clientSecret }
}
"""
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
CHECK = """
query($address: String!, $secret: String!, $protocol: CheckProtocol!) {
  credentialCheck(address: $address, secret: $secret, protocol: $protocol) {
    allowed mailboxId permissions
  }
}
"""
LIMIT = """
mutation($team: ID!, $limit: Int!) {
  teamLimitsUpdate(input: {teamId: $team, resource: CREDENTIALS, limit: $limit}) { __typename }
}
"""


async def test_the_team_lists_its_connections_with_use_and_who_authorized(
    app: Starlette,
    http: httpx.AsyncClient,
    gql: Gql,
    services: Services,
    team: TeamHandle,
    admin: Member,
    manual_clock: ManualClock,
) -> None:
    mailbox = (await gql(MAILBOX_CREATE, {"address": "news@example.com"}, token=team.token)).ok()
    mailbox_id = mailbox["mailboxCreate"]["mailbox"]["id"]
    client_id = await register_public(http)
    choice = {
        "line": ["management", "sending"],
        "group_keys": "read",
        "group_domains": "custom",
        "custom_domains": "domain.verify",
        "mailbox_scope": "chosen",
        "mailbox": mailbox_id,
    }
    token = await connect(app, http, services, admin, client_id, choice)
    for _ in range(3):
        assert (await graphql(http, token["access_token"])).status_code == 200
    await services.flush_last_used()

    listed = (await gql(CONNECTIONS, token=team.token)).ok()["appConnections"]

    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    assert node["app"] == {
        "id": client_id,
        "name": "Claude-ish MCP client",
        "registeredBy": "DCR",
        "public": True,
    }
    assert node["productLines"] == ["management", "sending"]
    assert node["groups"] == ["domains:custom", "keys:read"]
    assert node["permissions"] == ["domain.verify", "email.send", "key.read"]
    assert node["mailboxIds"] == [mailbox_id]
    assert (node["authorizedBy"], node["authorizedByEmail"]) == (admin.person_id, admin.email)
    assert node["requestCount"] == 3
    assert node["lastUsedAt"] is not None


async def test_disconnecting_refuses_the_next_request_and_the_refresh(
    app: Starlette,
    http: httpx.AsyncClient,
    gql: Gql,
    services: Services,
    team: TeamHandle,
    admin: Member,
) -> None:
    client_id = await register_public(http)
    token = await connect(app, http, services, admin, client_id)
    assert (await graphql(http, token["access_token"])).status_code == 200
    listed = (await gql(CONNECTIONS, token=team.token)).ok()
    connection_id = listed["appConnections"]["edges"][0]["node"]["id"]

    (await gql(DISCONNECT, {"id": connection_id}, token=team.token)).ok()

    refused = await graphql(http, token["access_token"])
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refresh = await http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert (await gql(CONNECTIONS, token=team.token)).ok()["appConnections"]["totalCount"] == 0
    again = await gql(DISCONNECT, {"id": connection_id}, token=team.token)
    assert again.ok()["appConnectionDisconnect"]["appConnection"]["id"] == connection_id
    actions = await AuditEvent.filter(team_id=team.id).values_list("action", flat=True)
    assert {"app.connect", "app.token.issue", "app.disconnect"} <= {str(a) for a in actions}


async def test_a_connection_takes_one_credential_slot(
    app: Starlette,
    http: httpx.AsyncClient,
    gql: Gql,
    services: Services,
    team: TeamHandle,
    admin: Member,
) -> None:
    # the team's first key takes the only slot
    (await gql(LIMIT, {"team": team.id, "limit": 1}, token=OPERATOR_TOKEN)).ok()
    client_id = await register_public(http)
    with pytest.raises(AssertionError, match="303"):
        await connect(app, http, services, admin, client_id)

    (await gql(LIMIT, {"team": team.id, "limit": 2}, token=OPERATOR_TOKEN)).ok()
    await connect(app, http, services, admin, client_id)
    # re-authorizing the same app updates its connection: no second slot
    await connect(app, http, services, admin, client_id)
    other = await register_public(http)
    with pytest.raises(AssertionError, match="303"):
        await connect(app, http, services, admin, other)


async def test_registering_apps_shows_the_secret_once(gql: Gql, team: TeamHandle) -> None:
    app_input: dict[str, Any] = {"name": "Partner CRM", "redirectUris": [REDIRECT_URI]}
    by_team = (await gql(REGISTER, {"input": app_input}, token=team.token)).ok()["appRegister"]
    by_operator = (await gql(REGISTER, {"input": {**app_input, "public": True}},
                             token=OPERATOR_TOKEN)).ok()["appRegister"]  # fmt: skip
    bad = await gql(
        REGISTER, {"input": {**app_input, "redirectUris": ["http://evil.example/cb"]}},
        token=team.token,
    )  # fmt: skip

    assert by_team["app"]["registeredBy"] == "TEAM"
    assert len(by_team["clientSecret"]) == 43
    assert (by_operator["app"]["registeredBy"], by_operator["clientSecret"]) == ("OPERATOR", None)
    assert bad.codes == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "redirectUris"


async def test_the_gateways_check_accepts_the_sending_line_on_its_mailbox_set(
    app: Starlette,
    http: httpx.AsyncClient,
    gql: Gql,
    services: Services,
    team: TeamHandle,
    admin: Member,
) -> None:
    ids = []
    for address in ("news@example.com", "ops@example.com"):
        created = (await gql(MAILBOX_CREATE, {"address": address}, token=team.token)).ok()
        ids.append(created["mailboxCreate"]["mailbox"]["id"])
    client_id = await register_public(http)
    choice = {"line": "sending", "mailbox_scope": "chosen", "mailbox": ids[0]}
    token = (await connect(app, http, services, admin, client_id, choice))["access_token"]

    async def check(address: str, protocol: str) -> dict[str, Any]:
        variables = {"address": address, "secret": token, "protocol": protocol}
        result: dict[str, Any] = (await gql(CHECK, variables, token=GATEWAY_TOKEN)).ok()
        return dict(result["credentialCheck"])

    assert await check("news@example.com", "SMTP") == {
        "allowed": True,
        "mailboxId": ids[0],
        "permissions": ["email.send"],
    }
    assert (await check("news@example.com", "IMAP"))["allowed"] is False
    assert (await check("ops@example.com", "SMTP"))["allowed"] is False
    lean = await http.post(
        "/v1/credentials/check",
        json={"address": "news@example.com", "secret": token, "protocol": "smtp"},
        headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
    )
    assert lean.json()["allowed"] is True


async def test_the_viewer_of_an_app_token_is_its_connection(
    app: Starlette,
    http: httpx.AsyncClient,
    services: Services,
    team: TeamHandle,
    admin: Member,
) -> None:
    client_id = await register_public(http)
    token = (await connect(app, http, services, admin, client_id))["access_token"]
    query = "{ viewer { kind team { id } apiKey { id } permissions } }"
    viewer = (await graphql(http, token, query)).json()["data"]["viewer"]
    assert viewer == {
        "kind": "APP",
        "team": {"id": team.id},
        "apiKey": None,
        "permissions": ["key.read"],
    }


async def test_a_connection_of_a_team_waiting_for_its_purge_may_do_nothing(
    app: Starlette,
    http: httpx.AsyncClient,
    gql: Gql,
    services: Services,
    team: TeamHandle,
    admin: Member,
) -> None:
    (await gql(MAILBOX_CREATE, {"address": "news@example.com"}, token=team.token)).ok()
    client_id = await register_public(http)
    choice = {"line": ["management", "sending"], "group_keys": "read"}
    token = (await connect(app, http, services, admin, client_id, choice))["access_token"]
    # the owner asked for the team's deletion (teamDelete, a person's operation)
    await Team.filter(id=team.id).update(deletion_requested_at=clock.now())

    refused = await graphql(http, token)
    variables = {"address": "news@example.com", "secret": token, "protocol": "SMTP"}
    checked = (await gql(CHECK, variables, token=GATEWAY_TOKEN)).ok()["credentialCheck"]

    assert refused.status_code == 200
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["FORBIDDEN"]
    assert checked["allowed"] is False
