"""A person connects an app in headless Chromium: sign-in at the real identity provider, the
consent page, the code back to the app, and the app's tokens working on /graphql.

The app is authlib's OAuth client; its redirect URI is a port nobody listens on, where the
browser's request is caught (as the app's own server would receive it).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import Route, expect, sync_playwright

from tests.oidc import MakeOidc
from tests.served import free_port, serve_on
from tests.test_graphiql import CHROMIUM_FLAGS, chromium

pytestmark = pytest.mark.process
TEAM_CREATE = 'mutation { teamCreate(input: {name: "Alice Co"}) { team { id } } }'


def test_a_person_connects_an_app_in_headless_chromium(make_oidc: MakeOidc, tmp_path: Path) -> None:
    executable = chromium()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = make_oidc(dashboard_redirect_uri=f"{base}/oauth/callback")
    app_redirect = f"http://127.0.0.1:{free_port()}/callback"

    with serve_on(
        tmp_path,
        port,
        MAILKEYS_OIDC_ISSUER=provider.issuer,
        MAILKEYS_OIDC_CLIENT_ID="mailkeys-dashboard",
        MAILKEYS_PUBLIC_URL=base,
    ) as mailkeys:
        # alice owns a team; an MCP client discovers mailkeys and registers itself
        alice = provider.login("alice@example.com")
        httpx.post(
            f"{mailkeys.url}/graphql",
            json={"query": TEAM_CREATE},
            headers={"Authorization": f"Bearer {alice}"},
        ).raise_for_status()
        metadata = httpx.get(f"{base}/.well-known/oauth-authorization-server").json()
        registered = httpx.post(
            metadata["registration_endpoint"],
            json={
                "client_name": "Notes MCP",
                "redirect_uris": [app_redirect],
                "token_endpoint_auth_method": "none",
            },
        ).json()
        oauth = OAuth2Client(
            client_id=registered["client_id"],
            token_endpoint_auth_method="none",
            redirect_uri=app_redirect,
            code_challenge_method="S256",
        )
        verifier = "chromium-" + "v" * 60
        url, state = oauth.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=executable,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1000, "height": 1400},
            )
            try:
                page = browser.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda error: problems.append(str(error)))
                page.on(
                    "console",
                    lambda message: (
                        problems.append(message.text) if message.type == "error" else None
                    ),
                )
                arrived: list[str] = []

                def at_the_app(route: Route) -> None:
                    arrived.append(route.request.url)
                    route.fulfill(status=200, body="connected", content_type="text/plain")

                page.route(f"{app_redirect}**", at_the_app)

                # the app sends alice to mailkeys, which sends her to sign in first
                page.goto(url)
                page.get_by_label("Email").fill("alice@example.com")
                page.get_by_role("button", name="Sign in to mailkeys-dashboard").click()
                page.get_by_role("button", name="Continue").click()

                # the consent page: labelled controls in named groups
                expect(
                    page.get_by_role("heading", name="Connect Notes MCP to mailkeys")
                ).to_be_visible()
                page.get_by_label("Management: administer the team").check()
                keys = page.get_by_role("group", name="Keys", exact=True)
                keys.get_by_label("Read", exact=True).check()
                page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
                page.get_by_role("button", name="Allow").click()
                page.wait_for_url(f"{app_redirect}**", timeout=15_000)
            finally:
                browser.close()

        assert len(arrived) == 1, arrived
        assert not problems, problems
        with oauth:
            token = oauth.fetch_token(
                metadata["token_endpoint"],
                authorization_response=arrived[0],
                code_verifier=verifier,
            )
        assert state in arrived[0]
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ apiKeys { totalCount } }"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert answer.json() == {"data": {"apiKeys": {"totalCount": 0}}}
        refused = httpx.post(
            f"{base}/graphql",
            json={"query": "{ mailboxes { totalCount } }"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
