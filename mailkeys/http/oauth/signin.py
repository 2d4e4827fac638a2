"""Signing a person in for the consent page: mailkeys as a client of the identity provider.

The authorization code flow with PKCE S256 against `MAILKEYS_OIDC_ISSUER` (discovered from its
`/.well-known/openid-configuration`), as `MAILKEYS_OIDC_CLIENT_ID`, returning to
`/oauth/callback`. The access token it gets is verified exactly as people's API tokens are
(auth/oidc.py); only then does the consent page know who the person is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailkeys import clock
from mailkeys.auth.oidc import InvalidTokenError, ProviderUnavailableError
from mailkeys.auth.services import Services
from mailkeys.http.oauth.endpoints import base_url
from mailkeys.http.oauth.page import error_page
from mailkeys.http.oauth.session import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    clear_cookie,
    new_session,
    seal,
    set_cookie,
    unseal,
)
from mailkeys.models.person_facts import fetch_person_facts, remember_person

_TIMEOUT = 5.0


class _NoAuth(httpx.Auth):
    """No client authentication (a public client: `client_id` in the form, and PKCE)."""


_NO_AUTH = _NoAuth()


def callback_uri(request: Request, services: Services) -> str:
    """Where the identity provider sends the person back."""
    return f"{base_url(request, services)}/oauth/callback"


async def _discovery(services: Services) -> dict[str, Any]:
    issuer = (services.settings.oidc_issuer or "").rstrip("/")
    if services.http is None or not issuer:
        raise ProviderUnavailableError("no identity provider configured")
    try:
        response = await services.http.get(
            f"{issuer}/.well-known/openid-configuration", timeout=_TIMEOUT
        )
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailableError(type(error).__name__) from error
    if not isinstance(document, dict):
        raise ProviderUnavailableError("discovery is not an object")
    return document


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def start_signin(request: Request, services: Services, return_to: str) -> Response:
    """Send the person to the identity provider, remembering where to come back to."""
    settings = services.settings
    if settings.oidc_client_id is None:
        return error_page("Sign-in is not configured on this server.", 503)
    try:
        discovery = await _discovery(services)
    except ProviderUnavailableError:
        return error_page("The identity provider cannot be reached. Try again shortly.", 503)
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": callback_uri(request, services),
            "scope": "openid email",
            "state": state,
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{discovery['authorization_endpoint']}?{query}", 303)
    pepper = await services.hasher.tags.pepper()
    seconds = settings.oauth_session_seconds
    payload = {
        "kind": "signin",
        "state": state,
        "verifier": verifier,
        "return_to": return_to,
        "exp": clock.time() + seconds,
    }
    secure = settings.secure_cookies(base_url(request, services))
    set_cookie(response, SIGNIN_COOKIE, seal(pepper, payload), seconds, secure)
    return response


async def callback(request: Request, services: Services) -> Response:
    """`GET /oauth/callback`: the provider's answer; on success, a consent session."""
    pepper = await services.hasher.tags.pepper()
    pending = unseal(pepper, request.cookies.get(SIGNIN_COOKIE))
    state = request.query_params.get("state") or ""
    code = request.query_params.get("code")
    if (
        pending is None
        or pending.get("kind") != "signin"
        or not hmac.compare_digest(str(pending["state"]).encode(), state.encode())
    ):
        return error_page("This sign-in has expired or was not started here. Start again.", 400)
    if not code or services.people is None:
        return error_page("The identity provider did not sign you in.", 400)
    try:
        claims = await _exchange(request, services, code, str(pending["verifier"]))
    except (ProviderUnavailableError, InvalidTokenError):
        return error_page("Signing in failed. Start again from the app.", 400)
    facts = await fetch_person_facts(claims.issuer, claims.subject, None)
    person_id = (
        facts.id
        if facts is not None
        else (await remember_person(claims.issuer, claims.subject, claims.email)).id
    )
    settings = services.settings
    return_to = str(pending["return_to"])
    if not return_to.startswith("/oauth/authorize?"):
        return error_page("Nothing to return to.", 400)
    response = RedirectResponse(return_to, 303)
    secure = settings.secure_cookies(base_url(request, services))
    seconds = settings.oauth_session_seconds
    session = seal(pepper, new_session(person_id, claims.email, seconds))
    set_cookie(response, SESSION_COOKIE, session, seconds, secure)
    clear_cookie(response, SIGNIN_COOKIE, secure)
    return response


async def _exchange(request: Request, services: Services, code: str, verifier: str) -> Any:
    """Trade the code for tokens and verify the access token; the person's claims."""
    settings = services.settings
    discovery = await _discovery(services)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback_uri(request, services),
        "code_verifier": verifier,
        "client_id": str(settings.oidc_client_id),
    }
    # A confidential client authenticates with its secret; a public one by PKCE alone.
    auth: httpx.Auth = httpx.BasicAuth(
        str(settings.oidc_client_id), settings.oidc_client_secret or ""
    )
    if not settings.oidc_client_secret:
        auth = _NO_AUTH
    if services.http is None or services.people is None:
        raise ProviderUnavailableError("no identity provider configured")
    try:
        response = await services.http.post(
            str(discovery["token_endpoint"]), data=form, auth=auth, timeout=_TIMEOUT
        )
        tokens = response.json()
    except (httpx.HTTPError, ValueError, KeyError) as error:
        raise ProviderUnavailableError(type(error).__name__) from error
    if response.status_code != 200 or not isinstance(tokens, dict):
        raise InvalidTokenError("token_endpoint_refused")
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str):
        raise InvalidTokenError("no_access_token")
    return await services.people.verifier.verify(access_token)
