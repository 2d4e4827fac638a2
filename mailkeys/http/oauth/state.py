"""What one OAuth request loaded from storage, and what authlib decided to write."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailkeys.auth.tags import Pepper
from mailkeys.models.apps import AppConnection, AppToken, AuthorizationCode, OAuthApp
from mailkeys.models.oauth import TokenWrites

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
GRANT_TYPES = ("authorization_code", "refresh_token")


@dataclass
class Loaded:
    """Everything one OAuth request needs from storage, and what it decided to write."""

    pepper: Pepper
    now: datetime
    access_seconds: int
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    code: AuthorizationCode | None = None
    token: AppToken | None = None
    writes: TokenWrites = field(default_factory=TokenWrites)
    # Why the request revoked a family (a code or refresh token presented again), for audit.
    reuse: str | None = None
    # The connection the request acted on (for audit and usage).
    connection: AppConnection | None = None
    # Dynamic registration: the client metadata authlib validated, stored after deciding.
    registration: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # The consent page: the code authlib generated, stored with the connection afterwards.
    pending_code: str | None = field(default=None, repr=False)


_LOADED: contextvars.ContextVar[Loaded] = contextvars.ContextVar("oauth_loaded")


def loaded() -> Loaded:
    """The state of the request authlib is deciding now."""
    return _LOADED.get()


@contextlib.contextmanager
def deciding(state: Loaded) -> Iterator[None]:
    """Make `state` what `loaded()` returns while authlib decides one request."""
    reset = _LOADED.set(state)
    try:
        yield
    finally:
        _LOADED.reset(reset)
