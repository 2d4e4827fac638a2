"""The servers bench.pipeline compares: the baselines, mailkeys on SQLite and on PostgreSQL +
Redis, and the credentials it loads them with."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import (
    REPO,
    base_env,
    free_port,
)

CONNECTIONS = 32
RATE_LIMIT = "100000000"
REDIS_URL = "redis://127.0.0.1:6379/0"
GATEWAY_TOKEN = "bench-gateway-" + secrets.token_urlsafe(24)
PG = " (PG+Redis)"
PG_TWO = " (PG+Redis, 2 workers)"
TYPENAME = "{ __typename }"
VIEWER = "{ viewer { team { id } } }"
SEND = "mutation($input: EmailSendInput!) { emailSend(input: $input) { message { id status } } }"


def say(text: str = "") -> None:
    """Print a line now (the run takes minutes: show progress as it goes)."""
    print(text, flush=True)


# ----------------------------------------------------------------------------- servers


class Baseline:
    """`uvicorn bench.baselines:<app>` on a free port, one worker, no access log."""

    def __init__(self, app: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "uvicorn", f"bench.baselines:{app}"),
                *("--port", str(self.port), "--no-access-log", "--log-level", "warning"),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self._process.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{self.url}/json", json={}, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"bench.baselines:{app} did not start")

    def stop(self) -> None:
        """Terminate it."""
        self._process.terminate()
        self._process.wait(timeout=10)


@dataclass
class Credentials:
    """What the figures use: a Full Access key, a sending key and a mailbox password."""

    infrastructure: str
    sending: str
    password: str
    sender: str


def _graphql(
    client: httpx.Client, url: str, token: str, query: str, **variables: object
) -> dict[str, Any]:
    response = client.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"setup failed: {body}")
    data: dict[str, Any] = body["data"]
    return data


def prepare(url: str, first_key: str) -> Credentials:
    """A provider, a mailbox on the shared domain, a sending key and a mailbox password
    (each server its own address: two servers may share a database)."""
    sender = f"bench-{uuid.uuid4().hex[:8]}@mailkeys.example"
    with httpx.Client(timeout=30) as client:
        _graphql(
            client, url, first_key,
            "mutation { providerCreate(input: {name: \"ses\"}) { provider { id } } }",
        )  # fmt: skip
        mailbox = _graphql(
            client, url, first_key,
            "mutation($a: String!) { mailboxCreate(input: {address: $a}) { mailbox { id } } }",
            a=sender,
        )["mailboxCreate"]["mailbox"]["id"]  # fmt: skip
        sending = _graphql(
            client, url, first_key,
            "mutation { apiKeyCreate(input: {type: SENDING, name: \"bench\","
            " permissions: [\"email.send\"], sendScope: {mode: ALL}}) { secret } }",
        )["apiKeyCreate"]["secret"]  # fmt: skip
        password = _graphql(
            client, url, first_key,
            "mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, appName: \"b\"})"
            " { password } }",
            m=mailbox,
        )["mailboxPasswordCreate"]["password"]  # fmt: skip
    return Credentials(first_key, sending, password, sender)


def mailkeys_env(database_url: str, redis_url: str | None = None) -> dict[str, str]:
    """The service's defaults, but for where it stores and the benchmark's raised limits."""
    env = base_env(
        MAILKEYS_DATABASE_URL=database_url,
        MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
        MAILKEYS_GATEWAY_TOKEN=GATEWAY_TOKEN,
        MAILKEYS_RATE_LIMIT_INFRASTRUCTURE=RATE_LIMIT,
        MAILKEYS_RATE_LIMIT_MAILBOX=RATE_LIMIT,
    )
    if redis_url is not None:
        env["MAILKEYS_REDIS_URL"] = redis_url
        env["MAILKEYS_REDIS_PREFIX"] = f"mk-bench-{uuid.uuid4().hex}:"
    return env
