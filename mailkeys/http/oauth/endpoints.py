"""The OAuth endpoints apps call: metadata (RFC 8414), token, revocation (RFC 7009) and
dynamic client registration (RFC 7591).

Each request is loaded, decided by authlib (`server.py`) and then written in one
transaction. Errors are RFC 6749 §5.2 JSON (`invalid_request`, `invalid_client`,
`invalid_grant`, ...), as authlib words them; nothing a client sent is logged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from authlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.errors import InvalidInputError
from mailkeys.http.client import client_of
from mailkeys.http.oauth.server import (
    CLIENT_AUTH_METHODS,
    Answer,
    JsonRequest,
    Loaded,
    Request,
    Server,
)
from mailkeys.models.oauth import fetch_app, fetch_code, fetch_token
from mailkeys.policy import Actor, CredentialKind
from mailkeys.resolvers.app_grants import settle_token_request
from mailkeys.resolvers.apps import AppRegistration, register_dynamic_app
from mailkeys.tokens import parse_app_token

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_PARAMETER = 4096
REGISTRANT = Actor(kind=CredentialKind.APP)


def base_url(request: StarletteRequest, services: Services) -> str:
    """The public base URL: the configured one, else the one the request came to."""
    configured = services.settings.public_url
    return configured or str(request.base_url).rstrip("/")


def metadata(base: str) -> dict[str, Any]:
    """The authorization server's metadata (RFC 8414)."""
    document = AuthorizationServerMetadata(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "registration_endpoint": f"{base}/oauth/register",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "scopes_supported": [],
            "service_documentation": f"{base}/docs/connected-apps",
        }
    )
    # An http issuer off loopback (no MAILKEYS_PUBLIC_URL behind a TLS proxy) is served
    # anyway, and every OAuth request then answers `insecure_transport`.
    with contextlib.suppress(ValueError):
        document.validate()
    return dict(document)


def metadata_endpoint(services: Services) -> Any:
    """`GET /.well-known/oauth-authorization-server`."""

    async def serve(request: StarletteRequest) -> Response:
        return JSONResponse(
            metadata(base_url(request, services)), headers={"Cache-Control": "max-age=300"}
        )

    return serve


def _error(error: OAuth2Error) -> Response:
    status, body, headers = error()
    return JSONResponse(dict(body), status_code=status, headers={**dict(headers), **NO_STORE})


async def _oauth_request(request: StarletteRequest, services: Services) -> Request:
    """The request as authlib reads it (form body and query string)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form = parse_qs(body, keep_blank_values=True)
    query = parse_qs(request.url.query, keep_blank_values=True)
    headers = request.headers  # case-insensitive, as authlib expects
    uri = base_url(request, services) + request.url.path
    return Request(request.method, uri, headers, query, form)


def _basic_client_id(headers: Mapping[str, str]) -> str | None:
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(decoded.partition(":")[0])


async def load(request: Request, services: Services) -> Loaded:
    """Everything the request can need from storage (the load step)."""
    settings = services.settings
    state = Loaded(
        pepper=await services.hasher.tags.pepper(),
        now=clock.now(),
        access_seconds=settings.oauth_access_token_seconds,
    )
    data = request.payload.data
    code = data.get("code")
    if data.get("grant_type") == "authorization_code" and code and len(code) <= _MAX_PARAMETER:
        state.code = await fetch_code(state.pepper.tag(code))
        if state.code is not None:
            state.apps[state.code.app_id] = state.code.app
    presented = data.get("refresh_token") or data.get("token")
    parsed = parse_app_token(presented) if presented else None
    if parsed is not None:
        state.token = await fetch_token(parsed.key_id)
        if state.token is not None:
            state.apps[state.token.connection.app_id] = state.token.connection.app
    # The code's or token's app came with it (the common case: no further read).
    for client_id in {data.get("client_id"), _basic_client_id(request.headers)}:
        if client_id and len(client_id) <= _MAX_PARAMETER and client_id not in state.apps:
            app = await fetch_app(client_id)
            if app is not None:
                state.apps[client_id] = app
    return state


async def _respond(state: Loaded, answer: Answer) -> Response:
    """Write what was decided (the write step), then answer."""
    status, body, headers = answer
    settled = await settle_token_request(state.writes, state.connection, state.reuse)
    if not settled:
        return _error(InvalidGrantError("The grant was used concurrently; it is revoked."))
    payload = json.loads(body) if isinstance(body, str) else body
    return JSONResponse(payload, status_code=status, headers={**dict(headers), **NO_STORE})


def token_endpoint(services: Services, server: Server) -> Any:
    """`POST /oauth/token`: authorization_code and refresh_token grants."""

    async def serve(request: StarletteRequest) -> Response:
        oauth_request = await _oauth_request(request, services)
        state = await load(oauth_request, services)
        answer = server.decide(state, lambda: server.create_token_response(oauth_request))
        return await _respond(state, answer)

    return serve


def revocation_endpoint(services: Services, server: Server) -> Any:
    """`POST /oauth/revoke` (RFC 7009)."""

    async def serve(request: StarletteRequest) -> Response:
        oauth_request = await _oauth_request(request, services)
        state = await load(oauth_request, services)
        answer = server.decide(
            state, lambda: server.create_endpoint_response("revocation", oauth_request)
        )
        return await _respond(state, answer)

    return serve


def registration_endpoint(services: Services, server: Server) -> Any:
    """`POST /oauth/register`: dynamic client registration (RFC 7591), as MCP clients do."""

    async def serve(request: StarletteRequest) -> Response:
        client = client_of(request, services.settings)
        rate = await services.limiter.hit(
            f"oauth-register:{client}", services.settings.oauth_registrations_per_minute
        )
        if not rate.allowed:
            return JSONResponse(
                {"error": "slow_down", "error_description": "Too many registrations."},
                status_code=429,
                headers={"Retry-After": str(max(1, rate.reset_after))},
            )
        try:
            document = json.loads(await request.body())
        except ValueError:
            document = None
        base = base_url(request, services)
        json_request = JsonRequest("POST", base + request.url.path, request.headers, document)
        state = Loaded(
            pepper=await services.hasher.tags.pepper(),
            now=clock.now(),
            access_seconds=services.settings.oauth_access_token_seconds,
            metadata=metadata(base),
        )
        if not isinstance(document, dict):
            return _registration_error("invalid_client_metadata", "Send a JSON object.")
        status, body, _ = server.decide(
            state, lambda: server.create_endpoint_response("client_registration", json_request)
        )
        if state.registration is None:  # authlib refused the metadata
            return JSONResponse(body, status_code=status, headers=NO_STORE)
        try:
            registered = await register_dynamic_app(
                REGISTRANT, _registration(state.registration), state.pepper
            )
        except InvalidInputError as invalid:
            error = "invalid_redirect_uri" if invalid.field == "redirectUris" else None
            return _registration_error(error or "invalid_client_metadata", str(invalid))
        app = registered.app
        answer: dict[str, Any] = {
            **state.registration,
            "client_id": app.id,
            "client_id_issued_at": int(app.created_at.timestamp()),
            "client_name": app.name,
            "redirect_uris": app.redirect_uris,
        }
        if registered.client_secret is not None:
            answer["client_secret"] = registered.client_secret
            answer["client_secret_expires_at"] = 0
        return JSONResponse(answer, status_code=201, headers=NO_STORE)

    return serve


def _registration_error(error: str, description: str) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=400, headers=NO_STORE
    )


def _registration(client_metadata: dict[str, Any]) -> AppRegistration:
    """Validated RFC 7591 metadata -> our registration (only what we support).

    Raises:
        InvalidInputError: an auth method, grant type or response type we do not offer.
    """
    method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in CLIENT_AUTH_METHODS:
        raise InvalidInputError("tokenEndpointAuthMethod", "Unsupported auth method.")
    grants = set(client_metadata.get("grant_types") or ["authorization_code"])
    if not grants <= {"authorization_code", "refresh_token"}:
        raise InvalidInputError("grantTypes", "Only authorization_code and refresh_token.")
    if not set(client_metadata.get("response_types") or ["code"]) <= {"code"}:
        raise InvalidInputError("responseTypes", "Only the code response type.")
    uris = client_metadata.get("redirect_uris")
    name = client_metadata.get("client_name") or "Unnamed app"
    client_uri = client_metadata.get("client_uri")
    return AppRegistration(
        name=str(name),
        redirect_uris=list(uris) if isinstance(uris, list) else [],
        public=method == "none",
        client_uri=client_uri if isinstance(client_uri, str) else None,
    )
