"""GraphiQL: served from the package (no CDN), and usable in a real browser with a pasted key."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from mailkeys.http.graphiql import ASSETS, CONTENT_SECURITY_POLICY, STATIC
from mailkeys.settings import Settings
from tests.conftest import test_settings
from tests.served import serve, server_env

VIEWER_QUERY = """{
  viewer {
    kind
    team { id name }
    apiKey { id preset status }
  }
}"""
BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# The flags every headless Chromium of the test suite runs with: no network of its own
# (no first-run, sync, component or background fetches), no GPU, a fresh profile.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def test_browsers_get_the_local_graphiql_page(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=BROWSER_ACCEPT)

    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    # every script and stylesheet comes from this origin: nothing from a CDN
    assert all(s.startswith("/static/graphiql/") or s.startswith("data:") for s in sources)
    for source in sources:
        if source.startswith("/static/"):
            assert (await client.get(source)).status_code == 200, source


def test_vendored_files_match_the_pages_integrity_hashes() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    pinned = dict(re.findall(r'/static/graphiql/([\w.-]+)"\s+integrity="([^"]+)"', page))

    assert set(pinned) == set(ASSETS) - {"init.js"}
    for name, integrity in pinned.items():
        digest = base64.b64encode(hashlib.sha384((STATIC / name).read_bytes()).digest())
        assert integrity == f"sha384-{digest.decode()}", name
    licences = {path.name for path in STATIC.glob("LICENSE.*")}
    assert licences == {"LICENSE.graphiql", "LICENSE.react"}


async def test_assets_are_compressed_and_revalidated(client: httpx.AsyncClient) -> None:
    url = "/static/graphiql/graphiql.min.js"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    compressed = await client.get(url, headers={"Accept-Encoding": "gzip"})
    revalidated = await client.get(url, headers={"If-None-Match": plain.headers["etag"]})
    unknown = await client.get("/static/graphiql/../settings.py")
    unlisted = await client.get("/static/graphiql/README.md")

    assert plain.content == (STATIC / "graphiql.min.js").read_bytes()
    assert plain.headers["content-type"].startswith("text/javascript")
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == plain.content  # httpx decoded it
    assert int(compressed.headers["content-length"]) < len(plain.content) / 3
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content
    assert revalidated.status_code == 304
    assert unknown.status_code == unlisted.status_code == 404


@pytest.mark.parametrize("settings", [test_settings(graphiql=False)])
async def test_graphiql_can_be_switched_off(client: httpx.AsyncClient, settings: Settings) -> None:
    page = await client.get("/graphql", headers=BROWSER_ACCEPT)
    asset = await client.get("/static/graphiql/init.js")
    query = await client.post("/graphql", json={"query": "{ __typename }"})

    assert page.status_code == asset.status_code == 404
    assert query.json() == {"data": {"__typename": "Query"}}


def chromium() -> str:
    """Debian's Chromium, or a skip saying how to get it (a failure under CI, which has it)."""
    path = shutil.which("chromium")
    if path is None:
        message = (
            "the GraphiQL browser test needs Debian's chromium "
            "(apt-get install chromium chromium-driver; .ci/run installs it)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.mark.process
def test_graphiql_runs_a_query_in_headless_chromium(tmp_path: Path) -> None:
    executable = chromium()
    created = subprocess.run(
        [sys.executable, "-m", "mailkeys.cli", "team", "create", "Acme"],
        cwd=tmp_path,
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = next(line.split()[1] for line in created.splitlines() if line.startswith("key:"))

    with serve(tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 760},
        )
        try:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )

            # a user opens GraphiQL, pastes a key as a header, and runs a query
            page.goto(f"{server.url}/graphql")
            headers = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
            headers_editor = page.locator(headers)
            query_editor = page.locator(".graphiql-query-editor .CodeMirror")
            result = page.locator(".result-window")

            def paste(editor_selector: str, text: str) -> None:
                page.locator(editor_selector).first.click()
                page.keyboard.press("Control+A")
                page.keyboard.insert_text(text)

            query_editor.wait_for(timeout=30_000)
            headers_editor.wait_for(timeout=10_000)  # the Headers tab is open from the start
            paste(headers, f'{{"Authorization": "Bearer {key}"}}')
            paste(".graphiql-query-editor .CodeMirror", "{ __typename }")
            page.locator(".graphiql-execute-button").click()
            # (locators, not string evaluation: the page's CSP forbids eval, as it should)
            page.locator(".result-window", has_text='"Query"').wait_for(timeout=15_000)
            typename_answer = result.inner_text()
            page.screenshot(path=str(tmp_path / "graphiql-typename.png"), mask=[headers_editor])

            # the pasted key is what the page sends
            paste(".graphiql-query-editor .CodeMirror", VIEWER_QUERY)
            page.locator(".graphiql-execute-button").click()
            page.locator(".result-window", has_text='"Acme"').wait_for(timeout=15_000)
            viewer_answer = result.inner_text()
            page.screenshot(path=str(tmp_path / "graphiql-viewer.png"), mask=[headers_editor])
            page.wait_for_timeout(1_000)  # GraphiQL writes its tab state after 500 ms
            stored = page.evaluate("() => JSON.stringify(window.localStorage)")
        finally:
            browser.close()

    assert re.search(r'"__typename":\s*"Query"', typename_answer), typename_answer
    assert re.search(r'"name":\s*"Acme"', viewer_answer), viewer_answer
    assert re.search(r'"preset":\s*"root:full"', viewer_answer), viewer_answer
    assert (tmp_path / "graphiql-typename.png").stat().st_size > 10_000
    assert not problems, problems
    # everything the page loaded came from mailkeys itself
    assert requested
    assert all(url.startswith(server.url) or url.startswith("data:") for url in requested)
    assert key not in server.output()
    # the key did not outlive the tab: GraphiQL's history and tabs were stored without it
    assert "graphiql:queries" in stored
    assert key not in stored
