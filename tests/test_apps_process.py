"""A disconnected app is refused on the very next request by another server process.

Two `mailkeys serve` processes on one database: the app connects and gets its tokens from
the first, the team disconnects it there, and the second refuses its access token and its
refresh token on their next use (every request reads the token's connection).
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mailkeys.auth.tags import Pepper
from mailkeys.http.oauth.session import SESSION_COOKIE, new_session, seal
from tests.apps_flow import REDIRECT_URI, hidden_fields, pkce_pair
from tests.conftest import OPERATOR_TOKEN
from tests.served import migrate, serve_together, sqlite_url

pytestmark = pytest.mark.process

PEPPER = "connected-apps-process-test-pepper-0123456789"
TEAM_CREATE = 'mutation { teamCreate(input: {name: "Acme"}) { team { id } secret } }'
KEYS = "{ apiKeys { totalCount } }"


def _member(database: Path, team_id: str) -> str:
    """An Admin of the team, as signing in at the identity provider would have recorded."""
    now = datetime.now(UTC).isoformat()
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO person (id, issuer, subject, email, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("usr_processadmin01", "http://127.0.0.1:1",
             hashlib.sha256(b"ada").hexdigest()[:32], "ada@example.com", now, now),
        )  # fmt: skip
        db.execute(
            "INSERT INTO membership (id, team_id, person_id, role, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ("mem_processadmin01", team_id, "usr_processadmin01", "admin", now),
        )
    return "usr_processadmin01"


def _graphql(url: str, token: str, query: str, **variables: object) -> httpx.Response:
    return httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_disconnection_holds_on_the_next_request_of_another_server(tmp_path: Path) -> None:
    migrate(sqlite_url(tmp_path))
    with serve_together(tmp_path, 2, MAILKEYS_SECRET_PEPPER=PEPPER) as (first, second):
        team = _graphql(first.url, OPERATOR_TOKEN, TEAM_CREATE).json()["data"]["teamCreate"]
        person_id = _member(tmp_path / "mailkeys.sqlite3", team["team"]["id"])
        registered = httpx.post(
            f"{first.url}/oauth/register",
            json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"},
        ).json()
        client_id = registered["client_id"]
        verifier, challenge = pkce_pair()
        cookie = seal(Pepper(PEPPER.encode()), new_session(person_id, "ada@example.com", 600))
        with httpx.Client(base_url=first.url, cookies={SESSION_COOKIE: cookie}) as browser:
            page = browser.get(
                "/oauth/authorize",
                params={
                    "client_id": client_id,
                    "response_type": "code",
                    "redirect_uri": REDIRECT_URI,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": "s1",
                },
            )
            form = {**hidden_fields(page.text), "line": "management", "group_keys": "read"}
            answer = browser.post("/oauth/authorize", data={**form, "decision": "allow"})
        code = httpx.URL(answer.headers["location"]).params["code"]
        token = httpx.post(
            f"{first.url}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        ).json()
        assert _graphql(second.url, token["access_token"], KEYS).status_code == 200

        listed = _graphql(first.url, team["secret"], "{ appConnections { edges { node { id } } } }")
        connection_id = listed.json()["data"]["appConnections"]["edges"][0]["node"]["id"]
        disconnect = (
            "mutation($id: ID!) { appConnectionDisconnect(input: {id: $id}) { __typename } }"
        )
        assert (
            "errors" not in _graphql(first.url, team["secret"], disconnect, id=connection_id).json()
        )

        assert _graphql(second.url, token["access_token"], KEYS).status_code == 401
        refresh = httpx.post(
            f"{second.url}/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": client_id,
            },
        )
        assert refresh.json()["error"] == "invalid_grant"
