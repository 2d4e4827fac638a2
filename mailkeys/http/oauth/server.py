"""authlib's authorization server, run against state loaded beforehand (load -> decide -> write).

authlib's server is synchronous: it calls `query_client`, `query_authorization_code`,
`save_token` and the like as plain functions. Our storage is async. So each request is
served in three steps: `load` reads from storage everything the request can need (the apps it
names, the code or token it presents, the pepper) into a `Loaded`; authlib then decides
against that in-memory state, and every write it asks for is recorded in `Loaded.writes`
instead of being made; finally the caller applies the writes in one transaction. The protocol
(grant types, PKCE, client authentication, error codes) is authlib's; storage, consent and
policy are ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import OAuth2Request

from mailkeys.http.oauth.grants import (
    Client,
    CodeChallenge,
    CodeGrant,
    RefreshGrant,
    Registration,
    Revocation,
)
from mailkeys.http.oauth.requests import JsonRequest, Request
from mailkeys.http.oauth.state import CLIENT_AUTH_METHODS, Loaded, deciding, loaded
from mailkeys.models.apps import AppTokenKind
from mailkeys.models.oauth import NewToken
from mailkeys.tokens import APP_ACCESS_PREFIX, APP_REFRESH_PREFIX, issue_app_token

# authlib logs issued tokens and client input at DEBUG ("Issue token %r to %r"): secrets and
# input values never reach our logs, whatever level the root logger is set to.
logging.getLogger("authlib").setLevel(logging.WARNING)

T = TypeVar("T")
__all__ = ["CLIENT_AUTH_METHODS", "Answer", "JsonRequest", "Loaded", "Request", "Server"]


def generate_tokens(
    grant_type: str,
    client: Client,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """authlib's token generator: an `smx_app_` access token and an `smx_apr_` refresh token.

    Only their tags are recorded for storage; the tokens themselves go to the client once.
    """
    state = loaded()
    seconds = expires_in or state.access_seconds
    access = issue_app_token(APP_ACCESS_PREFIX)
    state.writes.issue.append(
        NewToken(
            access.key_id,
            AppTokenKind.ACCESS,
            state.pepper.tag(access.token),
            state.now + timedelta(seconds=seconds),
        )
    )
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": access.token,
        "expires_in": seconds,
    }
    if include_refresh_token:
        refresh = issue_app_token(APP_REFRESH_PREFIX)
        state.writes.issue.append(
            NewToken(refresh.key_id, AppTokenKind.REFRESH, state.pepper.tag(refresh.token), None)
        )
        token["refresh_token"] = refresh.token
    return token


Answer = tuple[int, Any, list[tuple[str, str]]]


class Server(rfc6749.AuthorizationServer):  # type: ignore[misc]
    """authlib's authorization server on `Loaded` state; one per process."""

    def __init__(self) -> None:
        super().__init__(scopes_supported=None)
        self.register_token_generator("default", generate_tokens)
        self.register_grant(CodeGrant, [CodeChallenge(required=True)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Registration)

    def query_client(self, client_id: str) -> Client | None:
        state = loaded()
        app = state.apps.get(client_id)
        return None if app is None else Client(app, state.pepper)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        connection = loaded().connection
        if connection is None:
            raise RuntimeError("a token is saved for a connection")
        loaded().writes.connection_id = connection.id

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass  # no signals: audit events are written with the request's writes

    def handle_response(self, status: int, body: Any, headers: Any) -> Answer:
        return status, body, list(headers)

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def create_json_request(self, request: JsonRequest) -> JsonRequest:
        return request

    def decide(self, state: Loaded, run: Callable[[], T]) -> T:
        """Run authlib's synchronous decision `run()` against `state` (the decide step)."""
        with deciding(state):
            return run()
