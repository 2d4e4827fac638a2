"""authlib's grants and endpoints on loaded state: codes, refresh tokens, revocation and
dynamic registration. Reads come from `loaded()`; writes are recorded in `loaded().writes`."""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2 import rfc6749, rfc7636
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint

from mailkeys.auth.tags import Pepper, TagCheck
from mailkeys.http.oauth.state import CLIENT_AUTH_METHODS, GRANT_TYPES, loaded
from mailkeys.models.apps import AppConnection, AppToken, AppTokenKind, AuthorizationCode, OAuthApp
from mailkeys.tokens import new_id


class Client(ClientMixin):  # type: ignore[misc]  # authlib is untyped
    """An app as authlib sees it."""

    def __init__(self, app: OAuthApp, pepper: Pepper) -> None:
        self.app = app
        self._pepper = pepper

    def get_client_id(self) -> str:
        return self.app.id

    def get_default_redirect_uri(self) -> str | None:
        # Only an app with a single registered URI may leave it out of the request.
        uris = self.app.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # What an app may do is chosen on the consent page, not by scopes.
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris  # exact match, never a prefix

    def check_client_secret(self, client_secret: str) -> bool:
        return self._pepper.check(self.app.secret_tag, client_secret) is TagCheck.MATCH

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.app.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    """A stored authorization code as authlib sees it."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return ""


class Token(TokenMixin):  # type: ignore[misc]
    """A stored access or refresh token as authlib sees it."""

    def __init__(self, row: AppToken) -> None:
        self.row = row

    def check_client(self, client: Client) -> bool:
        return bool(self.row.connection.app_id == client.get_client_id())

    def get_scope(self) -> str:
        return ""

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


def _token_row(kind: AppTokenKind, presented: str) -> AppToken | None:
    """The loaded token if `presented` is it (by tag, in constant time) and of `kind`."""
    state = loaded()
    row = state.token
    if row is None or row.kind is not kind:
        return None
    if state.pepper.check(row.secret_tag, presented) is not TagCheck.MATCH:
        return None
    return row


class CodeChallenge(rfc7636.CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required of every client (OAuth 2.1), public or confidential."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE S256 is required).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: Code) -> str:
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: Code) -> str:
        return authorization_code.row.code_challenge_method


class CodeGrant(rfc6749.AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant on loaded state; a code presented again revokes its tokens."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        # Stored by the consent page with the connection, in one transaction (by its tag).
        loaded().pending_code = code

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        state = loaded()
        row = state.code
        if row is None or row.app_id != client.get_client_id():
            return None
        if row.used_at is not None:
            if row.family is not None:
                state.writes.revoke_families.append(row.family)
            state.reuse = "code"
            state.connection = row.connection
            return None
        if row.expires_at <= state.now or row.connection.revoked_at is not None:
            return None
        return Code(row)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        loaded().writes.use_code = authorization_code.row.tag

    def authenticate_user(self, authorization_code: Code) -> AppConnection:
        state = loaded()
        state.connection = authorization_code.row.connection
        state.writes.family = new_id("fam")
        return authorization_code.row.connection


class RefreshGrant(rfc6749.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens rotate on every use; one presented again revokes its whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        state = loaded()
        row = _token_row(AppTokenKind.REFRESH, refresh_token)
        if row is None or row.revoked_at is not None or row.connection.revoked_at is not None:
            return None
        if row.rotated_at is not None:
            state.writes.revoke_families.append(row.family)
            state.reuse = "refresh_token"
            state.connection = row.connection
            return None
        return Token(row)

    def authenticate_user(self, refresh_token: Token) -> AppConnection:
        state = loaded()
        state.connection = refresh_token.row.connection
        state.writes.family = refresh_token.row.family
        return refresh_token.row.connection

    def revoke_old_credential(self, refresh_token: Token) -> None:
        loaded().writes.rotate_refresh = refresh_token.row.id


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: revoking a refresh token revokes its family; an access token, itself."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        for kind in (AppTokenKind.ACCESS, AppTokenKind.REFRESH):
            row = _token_row(kind, token_string)
            if row is not None:
                return Token(row)
        return None

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        state = loaded()
        state.connection = token.row.connection
        if token.row.kind is AppTokenKind.REFRESH:
            state.writes.revoke_families.append(token.row.family)
        else:
            state.writes.revoke_tokens.append(token.row.id)


class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
    """RFC 7591, open to anyone (MCP clients register themselves): a registered app can do
    nothing until a person connects it to a team. authlib validates the metadata; the app
    is stored after deciding, with its id and secret generated then."""

    def authenticate_token(self, request: Any) -> bool:
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        return loaded().metadata

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        return {}  # made when the app is stored (resolvers/apps.py)

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any
    ) -> dict[str, Any]:
        loaded().registration = client_metadata
        return client_metadata
