"""Connected apps: a query with an app's access token against the same query with an API key,
on the same server, and the token endpoint's refresh grants per second.

    python -m bench.apps            # about 1 minute
    python -m bench.apps --quick

One `mailkeys serve --workers 1` process on the embedded default. `{ apiKeys { totalCount } }`
is asked with the team's Full Access key and with an app's `smx_app_` token (Management, Keys:
Read), in interleaved rounds under wrk; target: the app's rate >= 0.9 x the key's. Then
concurrent app clients each rotate their own refresh token as fast as the server answers
(`grant_type=refresh_token`: one conditional update and two inserts per grant); each grant's
answer is checked, and the rate is reported beside the server's CPU per grant.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import re
import secrets
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import base_env, free_port, load_average
from bench.core import Figure, _summary, say
from bench.load import Request, run_load, wrk_path, wrk_version
from bench.server import Server, create_team
from mailkeys.auth.tags import Pepper
from mailkeys.http.oauth.session import SESSION_COOKIE, new_session, seal

QUERY = '{"query":"{ apiKeys { totalCount } }"}'
REDIRECT = "http://127.0.0.1:9/callback"
PERSON = "usr_benchadmin0001"


def _member(database: Path, team_id: str) -> None:
    """An Admin of the team, as signing in at the identity provider would have recorded."""
    now = datetime.now(UTC).isoformat()
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO person (id, issuer, subject, email, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (PERSON, "http://127.0.0.1:1", hashlib.sha256(b"bench").hexdigest()[:32],
             "bench@example.com", now, now),
        )  # fmt: skip
        db.execute(
            "INSERT INTO membership (id, team_id, person_id, role, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ("mem_benchadmin0001", team_id, PERSON, "admin", now),
        )


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _tokens(url: str, pepper: str, client_id: str) -> dict[str, str]:
    """One consent and code exchange: a new token family of the app's one connection."""
    verifier, challenge = _pkce()
    cookie = seal(Pepper(pepper.encode()), new_session(PERSON, "bench@example.com", 600))
    with httpx.Client(base_url=url, cookies={SESSION_COOKIE: cookie}, timeout=30) as browser:
        page = browser.get(
            "/oauth/authorize",
            params={
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        form = {**hidden, "line": "management", "group_keys": "read", "decision": "allow"}
        answer = browser.post("/oauth/authorize", data=form)
        code = httpx.URL(answer.headers["location"]).params["code"]
        tokens = browser.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    tokens.raise_for_status()
    return dict(tokens.json())


async def _refresh_loop(
    url: str, client_id: str, refresh: str, until: float, counts: list[int]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while time.perf_counter() < until:
            answer = await client.post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh,
                    "client_id": client_id,
                },
            )
            body = answer.json()
            if answer.status_code != 200 or not body["refresh_token"].startswith("smx_apr_"):
                raise RuntimeError(f"refresh refused: {answer.status_code} {answer.text}")
            refresh = body["refresh_token"]
            counts[0] += 1


def _refreshes(server: Server, client_id: str, refreshes: list[str], seconds: int) -> float:
    counts = [0]
    before = server.cpu_seconds()
    started = time.perf_counter()

    async def run() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_refresh_loop(server.url, client_id, token, until, counts) for token in refreshes)
        )

    asyncio.run(run())
    elapsed = time.perf_counter() - started
    rate = counts[0] / elapsed
    cpu = (server.cpu_seconds() - before) / max(1, counts[0]) * 1e6
    say(f"  refresh grants: {rate:8.1f} grants/s over {elapsed:.1f} s, {cpu:.0f} us CPU/grant")
    return rate


def run(quick: bool) -> list[Figure]:
    """Measure; returns the summary's figures."""
    if wrk_path() is None:
        raise RuntimeError("this benchmark needs wrk (apt-get install wrk)")
    seconds, rounds, clients = (3, 2, 4) if quick else (8, 3, 8)
    pepper = secrets.token_urlsafe(40)
    with tempfile.TemporaryDirectory(prefix="mailkeys-apps-") as raw:
        workdir = Path(raw)
        env = base_env(
            MAILKEYS_DATABASE_URL="sqlite://mailkeys.sqlite3?busy_timeout=5000",
            MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
            MAILKEYS_SECRET_PEPPER=pepper,
            # Neither credential may be rate limited during the measurement.
            MAILKEYS_RATE_LIMIT_INFRASTRUCTURE="100000000",
            MAILKEYS_RATE_LIMIT_APP="100000000",
            MAILKEYS_OAUTH_ACCESS_TOKEN_SECONDS="3600",  # noqa: S106  # a lifetime, not a secret
        )
        first = create_team(workdir, env, "Bench")
        with Server(workdir, env, free_port()) as server:
            server.start()
            _member(workdir / "mailkeys.sqlite3", first.team_id)
            client_id = httpx.post(
                f"{server.url}/oauth/register",
                json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"},
            ).json()["client_id"]
            families = [_tokens(server.url, pepper, client_id) for _ in range(clients + 1)]
            app_token = families[0]["access_token"]

            def request(token: str) -> Request:
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
                expected = httpx.post(f"{server.url}/graphql", content=QUERY, headers=headers)
                return Request(f"{server.url}/graphql", QUERY, headers, expected.text)

            key, app = request(first.token), request(app_token)
            if key.expected != app.expected:
                raise RuntimeError(f"different answers: {key.expected} / {app.expected}")
            run_load("wrk", key, 2, 8)
            run_load("wrk", app, 2, 8)
            key_rates, app_rates = [], []
            for number in range(1, rounds + 1):  # interleaved against drift
                with_key = run_load("wrk", key, seconds, 8)
                with_app = run_load("wrk", app, seconds, 8)
                if with_key.errors or with_app.errors:
                    raise RuntimeError(f"wrong answers: {with_key.errors} / {with_app.errors}")
                key_rates.append(with_key.rate)
                app_rates.append(with_app.rate)
                say(
                    f"  round {number}/{rounds} ({seconds} s each): API key {with_key.rate:7.1f}"
                    f" req/s (p50 {with_key.p50_ms:.1f} ms) | app token {with_app.rate:7.1f}"
                    f" req/s (p50 {with_app.p50_ms:.1f} ms)"
                )
            refresh_rate = _refreshes(
                server, client_id, [f["refresh_token"] for f in families[1:]], seconds
            )
    key_rate = sum(key_rates) / len(key_rates)
    app_rate = sum(app_rates) / len(app_rates)
    ratio = app_rate / key_rate
    say(f"  API key {key_rate:.1f} req/s | app token {app_rate:.1f} req/s | ratio {ratio:.2f}")
    return [
        Figure("apiKeys query with an API key", f"{key_rate:.1f} req/s"),
        Figure("apiKeys query with an app token", f"{app_rate:.1f} req/s"),
        Figure("ratio app token / API key", f"{ratio:.2f}", ">= 0.90", ratio >= 0.9),
        Figure(f"refresh grants ({clients} clients)", f"{refresh_rate:.1f} grants/s"),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run")
    options = parser.parse_args(argv)
    say("mailkeys connected-apps benchmark")
    say("reproduce: python -m bench.apps" + (" --quick" if options.quick else ""))
    say(f"load generator: {wrk_version()}; load average at start {load_average()}")
    _summary(run(options.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
