"""The example dashboard (examples/dashboard) signs a person in, in a real headless Chromium."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Request, Route, expect, sync_playwright

from tests.handmade_tokens import unverified_parts
from tests.oidc import (
    MakeOidc,
    subject_of,
)
from tests.served import free_port, serve
from tests.test_graphiql import CHROMIUM_FLAGS, chromium

DASHBOARD = Path(__file__).resolve().parents[1] / "examples" / "dashboard"
_READY = "dashboard ready "
KEY_CREATE = """
mutation($name: String!) {
  apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly", name: $name}) {
    apiKey { displayToken }
  }
}
"""


@contextmanager
def serve_dashboard(workdir: Path, port: int, *, issuer: str, mailkeys: str) -> Iterator[str]:
    """Run examples/dashboard/serve.py until the block ends; its URL."""
    log = workdir / "dashboard.log"
    command = [sys.executable, str(DASHBOARD / "serve.py"), "--port", str(port)]
    command += ["--issuer", issuer, "--mailkeys", mailkeys]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 15
        while not (ready := re.search(rf"{_READY}(\S+)", log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard server did not start:\n{log.read_text()}")
            time.sleep(0.02)
        yield ready[1]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


@pytest.mark.process
def test_the_dashboard_signs_a_person_in_with_pkce_in_headless_chromium(
    make_oidc: MakeOidc, tmp_path: Path
) -> None:
    executable = chromium()
    port = free_port()
    provider = make_oidc(dashboard_redirect_uri=f"http://127.0.0.1:{port}/")
    # Nobody listens there: the mailkeys half of the page is not tested here, only that the page
    # sends the token and reports the failure.
    mailkeys = f"http://127.0.0.1:{free_port()}"

    with (
        serve_dashboard(tmp_path, port, issuer=provider.issuer, mailkeys=mailkeys) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1100, "height": 900},
        )
        try:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            to_mailkeys: list[Request] = []

            def refuse(route: Route) -> None:
                to_mailkeys.append(route.request)
                route.abort("connectionrefused")

            page.route(f"{mailkeys}/**", refuse)

            # a person opens the dashboard and signs in at the provider
            page.goto(url)
            expect(page.get_by_role("status")).to_have_text("Not signed in.")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("Email").fill("alice@example.com")
            page.screenshot(path=str(tmp_path / "provider-login.png"))
            page.get_by_role("button", name="Sign in to mailkeys-dashboard").click()
            page.get_by_role("button", name="Continue").click()  # consent

            # back on the dashboard, signed in; mailkeys cannot be reached
            expect(page.get_by_role("alert")).to_contain_text(
                f"Could not reach mailkeys at {mailkeys}", timeout=15_000
            )
            expect(page.get_by_role("status")).to_have_text("Signed in as alice@example.com.")
            page.screenshot(path=str(tmp_path / "dashboard-signed-in.png"), full_page=True)
            email = page.locator("#email").inner_text()
            address = page.url
            storage = page.evaluate(
                "() => JSON.stringify([{...window.sessionStorage}, {...window.localStorage}])"
            )
        finally:
            browser.close()

    assert email == "alice@example.com"
    assert address == url  # the code and state are gone from the address bar
    assert storage == "[{},{}]"  # the verifier is gone; the token was never stored
    assert not problems, problems
    assert all(u.startswith("http://127.0.0.1:") for u in requested), requested
    # the page called mailkeys' GraphQL endpoint with the person's access token
    assert [r.url for r in to_mailkeys] == [f"{mailkeys}/graphql"]
    sent = to_mailkeys[0].headers
    assert sent["authorization"].startswith("Bearer ")
    header, claims = unverified_parts(sent["authorization"].removeprefix("Bearer "))
    assert header["kid"] == provider.keys[0].kid
    assert claims["aud"] == "mailkeys"
    assert claims["client_id"] == "mailkeys-dashboard"
    assert claims["sub"] == subject_of("alice@example.com")
    assert claims["email"] == "alice@example.com"
    assert "x-team-id" not in sent  # the viewer query names no team


@pytest.mark.process
def test_a_person_lists_and_creates_keys_from_another_origin_in_headless_chromium(
    make_oidc: MakeOidc, tmp_path: Path
) -> None:
    executable = chromium()
    dashboard_port = free_port()
    origin = f"http://127.0.0.1:{dashboard_port}"
    provider = make_oidc(dashboard_redirect_uri=f"{origin}/")

    with serve(
        tmp_path, MAILKEYS_OIDC_ISSUER=provider.issuer, MAILKEYS_CORS_ORIGINS=origin
    ) as mailkeys:
        # given alice's team, with one key already
        alice = provider.login("alice@example.com")
        created = httpx.post(
            f"{mailkeys.url}/graphql",
            json={"query": 'mutation { teamCreate(input: {name: "Alice Co"}) { team { id } } }'},
            headers={"Authorization": f"Bearer {alice}"},
        ).json()["data"]["teamCreate"]["team"]["id"]
        first = httpx.post(
            f"{mailkeys.url}/graphql",
            json={"query": KEY_CREATE, "variables": {"name": "deploy bot"}},
            headers={"Authorization": f"Bearer {alice}", "X-Team-Id": created},
        ).json()["data"]["apiKeyCreate"]["apiKey"]["displayToken"]

        with (
            serve_dashboard(
                tmp_path, dashboard_port, issuer=provider.issuer, mailkeys=mailkeys.url
            ) as url,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=executable,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1100, "height": 900},
            )
            try:
                page = browser.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda error: problems.append(str(error)))

                # when she signs in at the provider and comes back
                page.goto(url)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_label("Email").fill("alice@example.com")
                page.get_by_role("button", name="Sign in to mailkeys-dashboard").click()
                page.get_by_role("button", name="Continue").click()

                # then mailkeys knows her, across origins, and shows her team's keys
                expect(page.locator("#person")).to_have_text(
                    "alice@example.com (PERSON)", timeout=15_000
                )
                expect(page.get_by_label("Act on team")).to_have_value(created)
                keys = page.locator("#keys")
                expect(keys).to_contain_text("deploy bot")
                expect(keys).to_contain_text(first)

                # and she creates a key: its secret is shown once, and it joins the list
                page.get_by_label("Name").fill("ci reader")
                page.get_by_role("button", name="Create key").click()
                secret = page.locator("#secret")
                expect(secret).to_contain_text("smx_root_", timeout=15_000)
                expect(keys).to_contain_text("ci reader")
                page.screenshot(path=str(tmp_path / "dashboard-keys.png"), full_page=True)
                shown = secret.inner_text()
            finally:
                browser.close()

        # the secret works as a key, and the error line stayed empty
        answer = httpx.post(
            f"{mailkeys.url}/graphql",
            json={"query": "{ viewer { kind apiKey { name preset } } }"},
            headers={"Authorization": f"Bearer {shown.strip()}"},
        ).json()["data"]["viewer"]
    assert answer == {
        "kind": "INFRASTRUCTURE",
        "apiKey": {"name": "ci reader", "preset": "root:readonly"},
    }
    assert not problems, problems
