"""The consent page: its headers, its CSRF token, a denial, a bad choice, a bad registration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from mailkeys.auth.services import Services
from mailkeys.models import AppConnection, AuthorizationCode, MemberRole
from tests.apps_flow import (  # noqa: F401
    BASE,
    REDIRECT_URI,
    Member,
    admin_fixture,
    consent,
    consent_cookie,
    hidden_fields,
    http_client,
    http_fixture,
    make_member,
    settings_fixture,
    team_fixture,
)
from tests.conftest import Gql, TeamHandle
from tests.test_apps_oauth import register_public


async def authorize_url(http: httpx.AsyncClient) -> str:
    client_id = await register_public(http)
    return (
        f"{BASE}/oauth/authorize?client_id={client_id}&response_type=code&state=xyz"
        f"&redirect_uri={REDIRECT_URI}&code_challenge={'c' * 43}&code_challenge_method=S256"
    )


async def test_the_page_is_strict_and_asks_for_nothing_without_a_session(
    http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    url = await authorize_url(http)
    http.cookies.set("mailkeys_consent", await consent_cookie(services, admin), path="/oauth")
    page = await http.get(url)

    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self' http://127.0.0.1:9" in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script" not in page.text
    assert hidden_fields(page.text)["csrf"]
    assert page.headers["cache-control"] == "no-store"

    http.cookies.clear()
    # without a session (and no identity provider configured here): no consent at all
    anonymous = await http.get(url)
    assert anonymous.status_code == 503
    assert "location" not in anonymous.headers


async def test_a_wrong_csrf_token_changes_nothing(
    http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    url = await authorize_url(http)
    http.cookies.set("mailkeys_consent", await consent_cookie(services, admin), path="/oauth")
    form = hidden_fields((await http.get(url)).text)
    form.update(csrf="forged", line="management", group_keys="read", decision="allow")

    answer = await http.post("/oauth/authorize", data=form)

    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert await AppConnection.all().count() == 0
    assert await AuthorizationCode.all().count() == 0


async def test_denying_redirects_with_access_denied_and_the_state(
    http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    url = await authorize_url(http)
    cookie = await consent_cookie(services, admin)
    answer = await consent(http, url, cookie, {"decision": "deny"})

    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert "error=access_denied" in location
    assert "state=xyz" in location
    assert await AppConnection.all().count() == 0


async def test_a_customised_permission_outside_its_group_is_refused(
    http: httpx.AsyncClient, services: Services, admin: Member
) -> None:
    url = await authorize_url(http)
    cookie = await consent_cookie(services, admin)
    answer = await consent(
        http,
        url,
        cookie,
        {"line": "management", "group_keys": "custom", "custom_keys": "billing.update"},
    )
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert await AppConnection.all().count() == 0


async def test_registration_refuses_what_it_cannot_honour(http: httpx.AsyncClient) -> None:
    cases = [
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"]}, None),
        ({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt"}, None),
    ]
    for metadata, error in cases:
        answer = await http.post("/oauth/register", json=metadata)
        assert answer.status_code == 400, (metadata, answer.text)
        assert answer.json()["error"] == (error or "invalid_client_metadata"), answer.text
    not_json = await http.post("/oauth/register", content=b"{", headers={"content-type": "x"})
    assert not_json.status_code == 400


async def test_a_teams_own_app_connects_to_that_team_only(
    http: httpx.AsyncClient,
    gql: Gql,
    services: Services,
    make_team: Callable[..., Awaitable[TeamHandle]],
) -> None:
    owner_team, other_team = await make_team("Owner Co"), await make_team("Other Co")
    registered = await gql(
        "mutation($i: AppRegisterInput!) { appRegister(input: $i) { app { id } } }",
        {"i": {"name": "Owner's CRM", "redirectUris": [REDIRECT_URI], "public": True}},
        token=owner_team.token,
    )
    client_id = registered.ok()["appRegister"]["app"]["id"]
    outsider = await make_member(other_team.id, MemberRole.OWNER, "olga@example.com")
    url = (
        f"{BASE}/oauth/authorize?client_id={client_id}&response_type=code"
        f"&code_challenge={'d' * 43}&code_challenge_method=S256"
    )
    http.cookies.set("mailkeys_consent", await consent_cookie(services, outsider), path="/oauth")

    page = await http.get(url)

    assert page.status_code == 403
    assert "location" not in page.headers
