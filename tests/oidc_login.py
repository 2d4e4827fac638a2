"""The authorization code flow with PKCE, driven over HTTP as a browser would drive it.

It reads the provider's sign-in and consent pages (tests/node/oidc_provider.mjs), fills them in,
follows the redirects and trades the code for tokens at the token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

TEST_CLIENT_ID = "mailkeys-tests"
TEST_CLIENT_SECRET = "mailkeys-tests-secret-not-for-production"
TEST_REDIRECT_URI = "http://127.0.0.1/callback"
_MAX_STEPS = 12


class OidcFlowError(AssertionError):
    """The provider answered the authorization code flow with something unexpected."""


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks: str


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_code_flow(http: httpx.Client, at: Endpoints, email: str) -> dict[str, Any]:
    """Sign in as `email` with the test client; the token endpoint's answer."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    http.cookies.clear()  # a fresh browser: no session at the provider yet
    response = http.get(
        at.authorization,
        params={
            "client_id": TEST_CLIENT_ID,
            "response_type": "code",
            "scope": "openid email",
            "redirect_uri": TEST_REDIRECT_URI,
            "state": state,
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    redirect = _through_interactions(http, response, email)
    answer = parse_qs(urlsplit(redirect).query)
    if answer.get("state") != [state] or answer.get("iss") != [at.issuer]:
        raise OidcFlowError(f"unexpected redirect: {redirect}")
    tokens = http.post(
        at.token,
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": TEST_REDIRECT_URI,
            "code_verifier": verifier,
        },
    )
    return _tokens(tokens)


def client_credentials(http: httpx.Client, at: Endpoints) -> dict[str, Any]:
    """The test client's own token (no person), by the client-credentials grant."""
    tokens = http.post(
        at.token,
        auth=(TEST_CLIENT_ID, TEST_CLIENT_SECRET),
        data={"grant_type": "client_credentials", "scope": "openid email"},
    )
    return _tokens(tokens)


def _tokens(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise OidcFlowError(f"token endpoint: {response.status_code} {response.text}")
    return dict(response.json())


def _through_interactions(http: httpx.Client, response: httpx.Response, email: str) -> str:
    """Follow redirects and fill in the sign-in and consent pages until the client's redirect."""
    for _ in range(_MAX_STEPS):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(TEST_REDIRECT_URI):
                return location
            response = http.get(location)
        elif response.status_code == 200 and "<form" in response.text:
            action = re.search(r'<form method="post" action="([^"]+)"', response.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
            if action is None or prompt is None:
                raise OidcFlowError(f"not an interaction page:\n{response.text}")
            form = {"prompt": prompt[1]}
            if prompt[1] == "login":
                form["login"] = email
            response = http.post(urljoin(str(response.url), action[1]), data=form)
        else:
            raise OidcFlowError(f"{response.status_code} at {response.url}:\n{response.text}")
    raise OidcFlowError("too many steps in the authorization code flow")
