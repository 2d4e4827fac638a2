"""Connected apps over OAuth: discovery, registration, consent, tokens, refresh, revocation.

A real OAuth client (authlib's httpx client) against the real app; the consent form is posted
as a browser posts it, by a person whose consent session is sealed as signing in seals it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from starlette.applications import Starlette

from mailkeys.auth.services import Services
from mailkeys.clock import ManualClock
from mailkeys.models import AppConnection, AppToken, AuditEvent, MemberRole
from mailkeys.policy import OPERATOR
from mailkeys.resolvers.apps import AppRegistration, register_app
from tests.apps_flow import (  # noqa: F401
    BASE,
    REDIRECT_URI,
    Member,
    admin_fixture,
    consent,
    consent_cookie,
    http_client,
    http_fixture,
    make_member,
    oauth_client,
    settings_fixture,
    team_fixture,
)
from tests.conftest import TeamHandle

KEYS = "{ apiKeys { totalCount } }"
KEYS_READ = {"line": "management", "group_keys": "read"}


async def register_public(http: httpx.AsyncClient) -> str:
    answer = await http.post(
        "/oauth/register",
        json={
            "client_name": "Claude-ish MCP client",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        },
    )
    assert answer.status_code == 201, answer.text
    assert "client_secret" not in answer.json()
    return str(answer.json()["client_id"])


async def connect(
    app: Starlette,
    http: httpx.AsyncClient,
    services: Services,
    member: Member,
    client_id: str,
    choice: dict[str, Any] = KEYS_READ,
    secret: str | None = None,
) -> dict[str, Any]:
    """The whole flow: authorization URL, consent, code for tokens; the token answer."""
    async with oauth_client(app, client_id, secret) as oauth:
        verifier = "v" * 64
        url, _ = oauth.create_authorization_url(f"{BASE}/oauth/authorize", code_verifier=verifier)
        answer = await consent(http, url, await consent_cookie(services, member), choice)
        assert answer.status_code == 303, answer.text
        token = await oauth.fetch_token(
            f"{BASE}/oauth/token",
            authorization_response=answer.headers["location"],
            code_verifier=verifier,
        )
    return dict(token)


async def graphql(http: httpx.AsyncClient, token: str, query: str = KEYS) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )


async def test_mcp_style_discovery_registration_and_connection(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == BASE
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["registration_endpoint"] == f"{BASE}/oauth/register"
    client_id = await register_public(http)

    token = await connect(app, http, services, admin, client_id)

    assert token["access_token"].startswith("smx_app_")
    assert token["refresh_token"].startswith("smx_apr_")
    assert token["expires_in"] == 900
    answer = await graphql(http, token["access_token"])
    assert answer.json() == {"data": {"apiKeys": {"totalCount": 1}}}
    refused = await graphql(http, token["access_token"], "{ mailboxes { totalCount } }")
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["FORBIDDEN"]


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_grant(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    first = await connect(app, http, services, admin, client_id)
    async with oauth_client(app, client_id) as oauth:
        second = dict(await oauth.refresh_token(f"{BASE}/oauth/token", first["refresh_token"]))
        assert second["refresh_token"] != first["refresh_token"]
        assert (await graphql(http, second["access_token"])).status_code == 200

        with pytest.raises(OAuthError) as reused:
            await oauth.refresh_token(f"{BASE}/oauth/token", first["refresh_token"])
        assert reused.value.error == "invalid_grant"

        # the whole family is gone: the newest refresh token and its access token too
        with pytest.raises(OAuthError) as after:
            await oauth.refresh_token(f"{BASE}/oauth/token", second["refresh_token"])
        assert after.value.error == "invalid_grant"
    assert (await graphql(http, second["access_token"])).status_code == 401
    events = await AuditEvent.filter(action="app.grant.revoke").values_list("outcome", flat=True)
    assert [str(outcome) for outcome in events] == ["refresh_token_reused"]


async def test_a_code_used_twice_revokes_what_it_issued(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    async with oauth_client(app, client_id) as oauth:
        verifier = "w" * 64
        url, _ = oauth.create_authorization_url(f"{BASE}/oauth/authorize", code_verifier=verifier)
        answer = await consent(http, url, await consent_cookie(services, admin), KEYS_READ)
        location = answer.headers["location"]
        token = await oauth.fetch_token(
            f"{BASE}/oauth/token", authorization_response=location, code_verifier=verifier
        )
        with pytest.raises(OAuthError) as again:
            await oauth.fetch_token(
                f"{BASE}/oauth/token", authorization_response=location, code_verifier=verifier
            )
    assert again.value.error == "invalid_grant"
    assert (await graphql(http, token["access_token"])).status_code == 401


async def test_an_expired_code_is_refused(
    app: Starlette,
    http: httpx.AsyncClient,
    services: Services,
    admin: Member,
    manual_clock: ManualClock,
) -> None:
    client_id = await register_public(http)
    async with oauth_client(app, client_id) as oauth:
        verifier = "x" * 64
        url, _ = oauth.create_authorization_url(f"{BASE}/oauth/authorize", code_verifier=verifier)
        answer = await consent(http, url, await consent_cookie(services, admin), KEYS_READ)
        manual_clock.advance(61)
        with pytest.raises(OAuthError) as expired:
            await oauth.fetch_token(
                f"{BASE}/oauth/token",
                authorization_response=answer.headers["location"],
                code_verifier=verifier,
            )
    assert expired.value.error == "invalid_grant"
    assert await AppToken.all().count() == 0


async def test_a_wrong_or_missing_verifier_is_refused_and_changes_nothing(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    async with oauth_client(app, client_id) as oauth:
        verifier = "y" * 64
        url, _ = oauth.create_authorization_url(f"{BASE}/oauth/authorize", code_verifier=verifier)
        answer = await consent(http, url, await consent_cookie(services, admin), KEYS_READ)
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        form["redirect_uri"] = REDIRECT_URI
        wrong = await http.post("/oauth/token", data={**form, "code_verifier": "z" * 64})
        missing = await http.post("/oauth/token", data=form)
        assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
        assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
        assert wrong.headers["cache-control"] == "no-store"
        assert await AppToken.all().count() == 0
        right = await http.post("/oauth/token", data={**form, "code_verifier": verifier})
    assert right.status_code == 200, right.text


async def test_unknown_client_and_unregistered_redirect_are_pages_not_redirects(
    http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    http.cookies.set("mailkeys_consent", await consent_cookie(services, admin), path="/oauth")
    common = "response_type=code&code_challenge=" + "a" * 43 + "&code_challenge_method=S256"
    unknown = await http.get(f"/oauth/authorize?client_id=app_nope&{common}")
    elsewhere = await http.get(
        f"/oauth/authorize?client_id={client_id}&redirect_uri=https://evil.example/cb&{common}"
    )
    prefix = await http.get(
        f"/oauth/authorize?client_id={client_id}&redirect_uri={REDIRECT_URI}/more&{common}"
    )
    for answer in (unknown, elsewhere, prefix):
        assert answer.status_code == 400
        assert "location" not in answer.headers
        assert "default-src 'none'" in answer.headers["content-security-policy"]
    token = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "abc", "client_id": "app_nope"},
    )
    assert token.json()["error"] == "invalid_client"


async def test_pkce_s256_is_required(
    http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    http.cookies.set("mailkeys_consent", await consent_cookie(services, admin), path="/oauth")
    base = f"/oauth/authorize?client_id={client_id}&response_type=code&state=s1"
    plain = await http.get(f"{base}&code_challenge={'a' * 43}&code_challenge_method=plain")
    none = await http.get(base)
    for answer in (plain, none):
        assert answer.status_code in (302, 303, 400)
        if "location" in answer.headers:
            assert answer.headers["location"].startswith(REDIRECT_URI)
            assert "error=invalid_request" in answer.headers["location"]


async def test_confidential_client_and_revocation(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    pepper = await services.hasher.tags.pepper()
    registered = await register_app(
        OPERATOR, AppRegistration("Partner CRM", [REDIRECT_URI], public=False), pepper
    )
    secret = registered.client_secret
    assert secret is not None
    token = await connect(app, http, services, admin, registered.app.id, secret=secret)
    async with oauth_client(app, registered.app.id, "wrong-secret") as bad:
        with pytest.raises(OAuthError) as refused:
            await bad.refresh_token(f"{BASE}/oauth/token", token["refresh_token"])
    assert refused.value.error == "invalid_client"
    async with oauth_client(app, registered.app.id, secret) as oauth:
        await oauth.revoke_token(f"{BASE}/oauth/revoke", token["refresh_token"])
        with pytest.raises(OAuthError) as revoked:
            await oauth.refresh_token(f"{BASE}/oauth/token", token["refresh_token"])
    assert revoked.value.error == "invalid_grant"
    assert (await graphql(http, token["access_token"])).status_code == 401


async def test_nobody_grants_above_their_role(
    http: httpx.AsyncClient, services: Services, team: TeamHandle
) -> None:
    member = await make_member(team.id, MemberRole.MEMBER, "mo@example.com")
    client_id = await register_public(http)
    url = (
        f"{BASE}/oauth/authorize?client_id={client_id}&response_type=code&state=s"
        f"&code_challenge={'b' * 43}&code_challenge_method=S256"
    )
    cookie = await consent_cookie(services, member)
    above = await consent(http, url, cookie, {"line": "management", "group_keys": "full"})
    assert above.status_code == 403
    assert "location" not in above.headers
    assert 'role="alert"' in above.text
    assert await AppConnection.all().count() == 0
    within = await consent(http, url, cookie, KEYS_READ)
    assert within.status_code == 303


async def test_reauthorizing_updates_the_one_connection_and_drops_at_once(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    wide = await connect(
        app, http, services, admin, client_id, {"line": "management", "group_keys": "full"}
    )
    narrow_choice = {"line": "management", "group_mailboxes": "read"}
    narrow = await connect(app, http, services, admin, client_id, narrow_choice)
    assert await AppConnection.all().count() == 1
    for token in (wide["access_token"], narrow["access_token"]):
        refused = await graphql(http, token)
        assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["FORBIDDEN"]
        allowed = await graphql(http, token, "{ mailboxes { totalCount } }")
        assert allowed.json() == {"data": {"mailboxes": {"totalCount": 0}}}


async def test_two_concurrent_uses_of_one_refresh_token_revoke_the_grant(
    app: Starlette, http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    client_id = await register_public(http)
    token = await connect(app, http, services, admin, client_id)
    form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    form["client_id"] = client_id

    first, second = await asyncio.gather(
        http.post("/oauth/token", data=form), http.post("/oauth/token", data=form)
    )

    # whichever order the two took, exactly one was answered, and it was a reuse
    assert sorted([first.status_code, second.status_code]) == [200, 400]
    winner = first if first.status_code == 200 else second
    loser = second if winner is first else first
    assert loser.json()["error"] == "invalid_grant"
    assert (await graphql(http, winner.json()["access_token"])).status_code == 401


async def test_tokens_and_codes_never_reach_the_log(
    app: Starlette,
    http: httpx.AsyncClient,
    services: Services,
    admin: Member,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client_id = await register_public(http)
    token = await connect(app, http, services, admin, client_id)
    async with oauth_client(app, client_id) as oauth:
        await oauth.refresh_token(f"{BASE}/oauth/token", token["refresh_token"])
    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert "smx_app_" not in logged
    assert "smx_apr_" not in logged
