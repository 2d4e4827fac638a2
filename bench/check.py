"""The gateways' credential check against a raw Starlette JSON route, on the same server.

    python -m bench.check            # about 30 s
    python -m bench.check --quick

Warm checks/s of `POST /v1/credentials/check` (a mailbox password, SMTP, gateway token) are
compared with `GET /healthz` (a plain Starlette route answering JSON) on one
`mailkeys serve --workers 1` process on the embedded default; target ratio >= 0.3.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
from pathlib import Path

import httpx

from bench.common import base_env, free_port, load_average
from bench.core import Figure, _summary, say
from bench.load import Request, run_load, wrk_path, wrk_version
from bench.server import Server, create_team
from mailkeys.settings import DEFAULT_SHARED_DOMAIN

# On the shared domain: no domain to verify first.
ADDRESS = f"gateway-bench@{DEFAULT_SHARED_DOMAIN}"


def _setup(url: str, token: str) -> str:
    """A mailbox and a password for it; returns the password."""
    with httpx.Client(base_url=url, timeout=30) as client:

        def call(query: str, **variables: str) -> dict[str, object]:
            response = client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            body: dict[str, object] = response.json()
            if "errors" in body:
                raise RuntimeError(str(body["errors"]))
            return body

        created = call(
            "mutation($a: String!) { mailboxCreate(input: {address: $a}) { mailbox { id } } }",
            a=ADDRESS,
        )
        mailbox_id = created["data"]["mailboxCreate"]["mailbox"]["id"]  # type: ignore[index]
        issued = call(
            "mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, "
            'appName: "bench"}) { password } }',
            m=mailbox_id,
        )
        return str(issued["data"]["mailboxPasswordCreate"]["password"])  # type: ignore[index]


def run(quick: bool) -> list[Figure]:
    """Measure both routes; returns the summary's figures."""
    if wrk_path() is None:
        raise RuntimeError("this benchmark needs wrk (apt-get install wrk)")
    seconds = 3 if quick else 10
    with tempfile.TemporaryDirectory(prefix="mailkeys-check-") as raw:
        workdir = Path(raw)
        gateway = secrets.token_urlsafe(32)
        env = base_env(
            MAILKEYS_DATABASE_URL="sqlite://mailkeys.sqlite3?busy_timeout=5000",
            MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
            MAILKEYS_GATEWAY_TOKEN=gateway,
        )
        first = create_team(workdir, env, "Bench")
        with Server(workdir, env, free_port()) as server:
            server.start()
            password = _setup(server.url, first.token)
            body = json.dumps({"address": ADDRESS, "secret": password, "protocol": "SMTP"})
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {gateway}"}
            with httpx.Client(timeout=30) as client:
                answer = client.post(
                    f"{server.url}/v1/credentials/check", content=body, headers=headers
                )
                health = client.get(f"{server.url}/healthz")
            if not answer.json()["allowed"]:
                raise RuntimeError(f"the check refused the password: {answer.text}")
            check = Request(f"{server.url}/v1/credentials/check", body, headers, answer.text)
            raw_route = Request(f"{server.url}/healthz", "", {}, health.text, method="GET")
            run_load("wrk", check, 2, 8)  # warm: the password is verified once, then cached
            run_load("wrk", raw_route, 2, 8)
            checks = run_load("wrk", check, seconds, 8)
            plain = run_load("wrk", raw_route, seconds, 8)
    for label, result in (("credential check", checks), ("GET /healthz", plain)):
        if result.errors:
            raise RuntimeError(f"{label}: {result.errors} wrong answers")
        say(
            f"  {label:<17} {result.rate:8.1f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms"
        )
    ratio = checks.rate / plain.rate
    say(f"  ratio check / raw route: {ratio:.2f} (target >= 0.30)")
    return [
        Figure("warm credential checks", f"{checks.rate:.1f} req/s"),
        Figure("raw Starlette JSON route (/healthz)", f"{plain.rate:.1f} req/s"),
        Figure("ratio check / raw route", f"{ratio:.2f}", ">= 0.30", ratio >= 0.3),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run")
    options = parser.parse_args(argv)
    say("mailkeys credential-check benchmark")
    say("reproduce: python -m bench.check" + (" --quick" if options.quick else ""))
    say(f"load generator: {wrk_version()}; load average at start {load_average()}")
    _summary(run(options.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
