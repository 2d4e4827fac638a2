"""`mailkeys serve` believes X-Forwarded-For only from MAILKEYS_TRUSTED_PROXIES.

uvicorn has a rule of its own (it trusts 127.0.0.1 by default and rewrites the client
address); `serve` turns it off, so that a local process cannot claim an allowlisted address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import OPERATOR_TOKEN
from tests.served import serve

pytestmark = pytest.mark.process

VIEWER = {"query": "{ viewer { apiKey { id } } }"}


def call(client: httpx.Client, token: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    headers["Authorization"] = f"Bearer {token}"
    return client.post("/graphql", json=body, headers=headers)


def test_serve_believes_x_forwarded_for_only_from_trusted_proxies(tmp_path: Path) -> None:
    # given a key that may be used from 203.0.113.0/24 only
    with serve(tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        admin = call(
            client,
            OPERATOR_TOKEN,
            {"query": 'mutation { teamCreate(input: {name: "Acme"}) { secret } }'},
        ).json()["data"]["teamCreate"]["secret"]
        created = call(
            client,
            admin,
            {
                "query": "mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, "
                'preset: "root:readonly", allowedIps: ["203.0.113.0/24"]}) { secret } }'
            },
        ).json()
        token = created["data"]["apiKeyCreate"]["secret"]

        # when a local client (127.0.0.1) claims to forward for an allowed address
        claimed = call(client, token, VIEWER, **{"X-Forwarded-For": "203.0.113.7"})

    # then it is refused: no proxy is trusted by default, not even 127.0.0.1
    assert claimed.status_code == 401

    # and once 127.0.0.1 is declared a trusted proxy, its header names the client
    with (
        serve(tmp_path, MAILKEYS_TRUSTED_PROXIES="127.0.0.1") as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        forwarded = call(client, token, VIEWER, **{"X-Forwarded-For": "203.0.113.7"})
        direct = call(client, token, VIEWER)
    assert forwarded.status_code == 200, forwarded.text
    assert direct.status_code == 401
