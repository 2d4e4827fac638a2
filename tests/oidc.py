"""A real OpenID Connect provider for tests: `tests/node/oidc_provider.mjs` (npm oidc-provider).

Fixtures (import them into a test module, or list this module in `pytest_plugins`):

- `oidc`: one provider for the whole session; its `login(email)` tokens are cached per email.
  It refuses `stop()`, `start()` and `rotate_keys()`, which would break other tests' tokens.
- `make_oidc(**options)`: providers of the test's own (e.g. `alg="ES256"`), for outage and
  key-rotation tests; `oidc_private` is one with the defaults.

`login(email)` runs the authorization code flow with PKCE over HTTP, as a browser would, and
returns the access token: a JWT for the audience `mailkeys` with `email` and `email_verified`.
`sign(...)` and `bad_token(...)` (see tests/handmade_tokens.py) make tokens by hand for the tests
of refusals.
Without Node.js the fixtures skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.handmade_tokens import (
    BadToken,
    Default,
    SigningKey,
    bad_token,
    new_signing_key,
    person_claims,
    sign,
)
from tests.nodejs import node_project
from tests.oidc_login import Endpoints, authorization_code_flow, client_credentials

AUDIENCE = "mailkeys"
DASHBOARD_CLIENT_ID = "mailkeys-dashboard"
ACCESS_TOKEN_TTL_S = 15 * 60
# A cached token is handed out again while it has at least this long to live.
_TOKEN_MARGIN_S = 60
_START_TIMEOUT_S = 30
_READY = "oidc-provider ready "


def subject_of(email: str) -> str:
    """The `sub` the provider gives the person signing in as `email` (stable across restarts)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class OidcProvider:
    """`oidc_provider.mjs` as a child process on 127.0.0.1, with its keys held here."""

    def __init__(
        self,
        workdir: Path,
        *,
        alg: str = "RS256",
        access_token_ttl: int = ACCESS_TOKEN_TTL_S,
        dashboard_redirect_uri: str = "http://127.0.0.1:8765/",
        shared: bool = False,
    ) -> None:
        self.workdir = workdir
        self.alg = alg
        self.audience = AUDIENCE
        self.access_token_ttl = access_token_ttl
        self.dashboard_redirect_uri = dashboard_redirect_uri
        self.shared = shared
        self.keys: list[SigningKey] = [new_signing_key(alg)]  # the first one signs
        self.start_seconds: list[float] = []  # how long each start took, for the record
        self._port = 0  # any free port the first time, the same one on every restart
        self._process: subprocess.Popen[bytes] | None = None
        self._issuer = ""
        self._starts = 0
        self._tokens: dict[str, tuple[str, int]] = {}
        self._endpoints: Endpoints | None = None
        # One client for all requests (building one costs ~0.1 s: it loads the CA bundle);
        # each flow starts with an empty cookie jar, as a fresh browser would.
        self.http = httpx.Client(timeout=10)

    # --- the process ---------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """`http://127.0.0.1:<port>`, the same across restarts."""
        if not self._issuer:
            raise RuntimeError("the provider has not been started")
        return self._issuer

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the provider (again) on its port with the current keys; wait until ready."""
        self._refuse_when_shared("start")
        self._start()

    def stop(self) -> int:
        """Stop the provider with SIGTERM; its exit status (0 when it stopped cleanly)."""
        self._refuse_when_shared("stop")
        return self._stop()

    def rotate_keys(self, *, keep_previous: bool = False) -> str:
        """Restart with a new signing key (a new `kid`); the old one stays published or not."""
        self._refuse_when_shared("rotate_keys")
        self.keys = [new_signing_key(self.alg), *(self.keys[:1] if keep_previous else [])]
        self._tokens.clear()
        self._stop()
        self._start()
        return str(self.keys[0].kid)

    def close(self) -> None:
        """Stop the provider if it runs, and close the HTTP client."""
        self._stop()
        self.http.close()

    def output(self) -> str:
        """What the provider printed in all its runs so far."""
        logs = sorted(self.workdir.glob("oidc-provider-*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)

    def _refuse_when_shared(self, what: str) -> None:
        if self.shared:
            raise RuntimeError(
                f"{what}() on the session's provider: use `make_oidc`/`oidc_private`"
            )

    def _start(self) -> None:
        if self.running:
            raise RuntimeError("the provider is already running")
        project = node_project()
        self._starts += 1
        jwks = self.workdir / f"jwks-{self._starts}.json"
        jwks.write_text(json.dumps({"keys": [k.as_dict(private=True) for k in self.keys]}))
        config = self.workdir / f"oidc-provider-{self._starts}.json"
        config.write_text(
            json.dumps(
                {
                    "port": self._port,
                    "jwks_file": str(jwks),
                    "alg": self.alg,
                    "audience": self.audience,
                    "access_token_ttl": self.access_token_ttl,
                    "dashboard_redirect_uri": self.dashboard_redirect_uri,
                }
            )
        )
        log = self.workdir / f"oidc-provider-{self._starts:03d}.log"
        began = time.monotonic()
        with log.open("wb") as sink:
            self._process = subprocess.Popen(
                ["node", str(project / "oidc_provider.mjs"), str(config)],
                cwd=project,
                stdout=sink,
                stderr=sink,
            )
        ready = self._wait_until_ready(log)
        self.start_seconds.append(time.monotonic() - began)
        self._issuer = ready["issuer"]
        self._endpoints = None
        self._port = urlsplit(self._issuer).port or 0

    def _wait_until_ready(self, log: Path) -> dict[str, Any]:
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith(_READY):
                    return dict(json.loads(line.removeprefix(_READY)))
            if self._process.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited:\n{self.output()}")
            time.sleep(0.02)
        self._stop()
        raise RuntimeError(f"the OpenID provider did not become ready:\n{self.output()}")

    def _stop(self) -> int:
        process, self._process = self._process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise

    # --- what a client sees --------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        """The provider's `/.well-known/openid-configuration` (fetched)."""
        answer = self.http.get(f"{self.issuer}/.well-known/openid-configuration")
        answer.raise_for_status()
        return dict(answer.json())

    def jwks(self) -> dict[str, Any]:
        """The public keys the provider publishes now (fetched, not taken from `self.keys`)."""
        answer = self.http.get(self._endpoints_now().jwks)
        answer.raise_for_status()
        return dict(answer.json())

    def login(self, email: str) -> str:
        """An access token for the person `email`, by the authorization code flow with PKCE."""
        cached = self._tokens.get(email)
        if cached and cached[1] - time.time() > _TOKEN_MARGIN_S:
            return cached[0]
        tokens = self.authorization_code_flow(email)
        token = str(tokens["access_token"])
        self._tokens[email] = (token, int(time.time()) + int(tokens["expires_in"]))
        return token

    def authorization_code_flow(self, email: str) -> dict[str, Any]:
        """The token endpoint's whole answer after signing in as `email` (never cached)."""
        return authorization_code_flow(self.http, self._endpoints_now(), email)

    def client_credentials_token(self) -> str:
        """An access token for mailkeys that names no person (`sub` is the test client's id)."""
        return str(client_credentials(self.http, self._endpoints_now())["access_token"])

    def _endpoints_now(self) -> Endpoints:
        if self._endpoints is None:
            discovery = self.discovery()
            self._endpoints = Endpoints(
                issuer=self.issuer,
                authorization=discovery["authorization_endpoint"],
                token=discovery["token_endpoint"],
                jwks=discovery["jwks_uri"],
            )
        return self._endpoints

    # --- tokens made by hand -------------------------------------------------------------

    def claims_for(self, email: str, *, now: datetime | float | None = None) -> dict[str, Any]:
        """The claims this provider would put in `email`'s access token issued at `now`.

        `now` defaults to the wall clock; pass the test's `ManualClock().time()` (a timestamp)
        or a datetime when mailkeys runs on a manual clock.
        """
        return person_claims(
            issuer=self.issuer,
            audience=self.audience,
            subject=subject_of(email),
            email=email,
            now=time.time() if now is None else now,
            ttl_seconds=self.access_token_ttl,
        )

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        key: SigningKey | None = None,
        alg: str | None = None,
        kid: str | Default | None = Default.KEY_KID,
    ) -> str:
        """`claims` signed with `key` (default: the provider's own signing key)."""
        return sign(claims, key=key or self.keys[0], alg=alg, kid=kid)

    def bad_token(
        self,
        kind: BadToken,
        email: str = "alice@example.com",
        *,
        now: datetime | float | None = None,
    ) -> str:
        """A token for `email` that is wrong in exactly the way `kind` names."""
        return bad_token(kind, self.claims_for(email, now=now), self.keys[0])


MakeOidc = Callable[..., OidcProvider]


@pytest.fixture(scope="session", name="oidc")
def oidc_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """The session's OpenID provider (not to be stopped or rotated: see `make_oidc`)."""
    provider = OidcProvider(tmp_path_factory.mktemp("oidc"), shared=True)
    try:
        provider._start()
        yield provider
    finally:
        provider.close()


@pytest.fixture(name="make_oidc")
def make_oidc_fixture(tmp_path: Path) -> Iterator[MakeOidc]:
    """Start OpenID providers of this test's own (`make_oidc(alg="ES256")`), to stop or rotate."""
    started: list[OidcProvider] = []

    def make(**options: Any) -> OidcProvider:
        workdir = tmp_path / f"oidc-{len(started) + 1}"
        workdir.mkdir()
        started.append(OidcProvider(workdir, **options))
        started[-1].start()
        return started[-1]

    try:
        yield make
    finally:
        for provider in started:
            provider.close()


@pytest.fixture(name="oidc_private")
def oidc_private_fixture(make_oidc: MakeOidc) -> OidcProvider:
    """An OpenID provider of this test's own with the defaults."""
    return make_oidc()
