"""A person's request against a key's, on the same server: `{ viewer { team { id } } }`.

    python -m bench.people            # about 30 s
    python -m bench.people --quick

One `mailkeys serve --workers 1` on the embedded default trusts the test suite's OpenID
provider (tests/node/oidc_provider.mjs, a real oidc-provider); a person's JWT (verified once,
then recognised by its HMAC until shortly before it expires) is compared with an API key.
Target: the person's throughput at least 0.8 x the key's.
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
from tests.oidc import OidcProvider

VIEWER = json.dumps({"query": "{ viewer { team { id } } }"})


def _person_team(url: str, token: str) -> str:
    """A team the person owns; its id."""
    response = httpx.post(
        f"{url}/graphql",
        json={"query": 'mutation { teamCreate(input: {name: "Bench people"}) { team { id } } }'},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return str(response.json()["data"]["teamCreate"]["team"]["id"])


def run(quick: bool) -> list[Figure]:
    """Measure both; returns the summary's figures."""
    if wrk_path() is None:
        raise RuntimeError("this benchmark needs wrk (apt-get install wrk)")
    seconds = 3 if quick else 10
    with tempfile.TemporaryDirectory(prefix="mailkeys-people-") as raw:
        workdir = Path(raw)
        (workdir / "oidc").mkdir()
        provider = OidcProvider(workdir / "oidc", access_token_ttl=3600)
        provider.start()
        try:
            env = base_env(
                MAILKEYS_DATABASE_URL="sqlite://mailkeys.sqlite3?busy_timeout=5000",
                MAILKEYS_OPERATOR_TOKEN=secrets.token_urlsafe(32),
                MAILKEYS_OIDC_ISSUER=provider.issuer,
                # one client's load: the per-credential budget must not be what is measured
                MAILKEYS_RATE_LIMIT_INFRASTRUCTURE="100000000",
                MAILKEYS_RATE_LIMIT_PERSON="100000000",
            )
            key = create_team(workdir, env, "Bench keys").token
            with Server(workdir, env, free_port()) as server:
                server.start()
                person = provider.login("bench@example.com")
                team = _person_team(server.url, person)
                with httpx.Client(timeout=30) as client:
                    by_key = client.post(
                        f"{server.url}/graphql",
                        content=VIEWER,
                        headers={
                            "Authorization": f"Bearer {key}",
                            "Content-Type": "application/json",
                        },
                    )
                    by_person = client.post(
                        f"{server.url}/graphql",
                        content=VIEWER,
                        headers={
                            "Authorization": f"Bearer {person}",
                            "X-Team-Id": team,
                            "Content-Type": "application/json",
                        },
                    )
                key_request = Request(
                    f"{server.url}/graphql",
                    VIEWER,
                    {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                    by_key.text,
                )
                person_request = Request(
                    f"{server.url}/graphql",
                    VIEWER,
                    {
                        "Authorization": f"Bearer {person}",
                        "X-Team-Id": team,
                        "Content-Type": "application/json",
                    },
                    by_person.text,
                )
                run_load("wrk", key_request, 2, 16)  # warm both
                run_load("wrk", person_request, 2, 16)
                keys = run_load("wrk", key_request, seconds, 16)
                people = run_load("wrk", person_request, seconds, 16)
        finally:
            provider.close()
    for label, result in (("API key", keys), ("person (JWT)", people)):
        if result.errors:
            raise RuntimeError(f"{label}: {result.errors} wrong answers")
        say(
            f"  {label:<13} {result.rate:8.1f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms"
        )
    ratio = people.rate / keys.rate
    say(f"  ratio person / key: {ratio:.2f} (target >= 0.80)")
    return [
        Figure("viewer with an API key", f"{keys.rate:.1f} req/s"),
        Figure("viewer as a person (JWT + X-Team-Id)", f"{people.rate:.1f} req/s"),
        Figure("ratio person / key", f"{ratio:.2f}", ">= 0.80", ratio >= 0.8),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run")
    options = parser.parse_args(argv)
    say("mailkeys people benchmark")
    say("reproduce: python -m bench.people" + (" --quick" if options.quick else ""))
    say(f"load generator: {wrk_version()}; load average at start {load_average()}")
    _summary(run(options.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
