"""The consent page's short session: a sealed cookie, and the CSRF token of its form.

The cookie holds who signed in at the identity provider (or, while signing in, the state and
PKCE verifier of that sign-in) and expires after `MAILKEYS_OAUTH_SESSION_SECONDS` (10 minutes).
It is sealed with an HMAC under the installation's pepper, so it is not stored anywhere;
HttpOnly, SameSite=Lax, Path=/oauth, and Secure unless configured otherwise for local http.
Only the consent page reads it: the API takes Bearer tokens, never cookies.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailkeys import clock
from mailkeys.auth.tags import Pepper

SESSION_COOKIE = "mailkeys_consent"
SIGNIN_COOKIE = "mailkeys_signin"
COOKIE_PATH = "/oauth"
_LABEL = "mailkeys consent cookie v1:"
_MAX_COOKIE = 4096


def seal(pepper: Pepper, payload: dict[str, Any]) -> str:
    """`payload` as a cookie value that only this installation can have made."""
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    text = body.decode("ascii").rstrip("=")
    return f"{text}.{pepper.tag(_LABEL + text)}"


def unseal(pepper: Pepper, value: str | None) -> dict[str, Any] | None:
    """The payload of a sealed, unexpired cookie value, or None."""
    if not value or len(value) > _MAX_COOKIE or "." not in value:
        return None
    text, _, tag = value.partition(".")
    if not hmac.compare_digest(pepper.tag(_LABEL + text), tag):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
        return None
    return payload if payload["exp"] > clock.time() else None


@dataclass(frozen=True)
class ConsentSession:
    """A person signed in at the identity provider, for the consent page only."""

    person_id: str
    email: str | None
    csrf: str

    def __repr__(self) -> str:
        return f"ConsentSession(person_id={self.person_id!r})"


def read_session(request: Request, pepper: Pepper) -> ConsentSession | None:
    """The request's consent session, if its cookie is sealed here and unexpired."""
    payload = unseal(pepper, request.cookies.get(SESSION_COOKIE))
    if payload is None or payload.get("kind") != "session":
        return None
    email = payload.get("email")
    return ConsentSession(
        person_id=str(payload["person"]),
        email=email if isinstance(email, str) else None,
        csrf=str(payload["csrf"]),
    )


def new_session(person_id: str, email: str | None, seconds: int) -> dict[str, Any]:
    """The sealed payload of a new session, with a fresh CSRF token."""
    return {
        "kind": "session",
        "person": person_id,
        "email": email,
        "csrf": secrets.token_urlsafe(32),
        "exp": clock.time() + seconds,
    }


def csrf_matches(session: ConsentSession, presented: str | None) -> bool:
    """The form's CSRF token is the session's (compared in constant time)."""
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())


def set_cookie(response: Response, name: str, value: str, seconds: int, secure: bool) -> None:
    """Set one of the consent page's cookies."""
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, name: str, secure: bool) -> None:
    """Remove one of the consent page's cookies."""
    response.delete_cookie(name, path=COOKIE_PATH, secure=secure, httponly=True, samesite="lax")
