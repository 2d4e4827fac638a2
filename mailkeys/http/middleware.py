"""CORS for the configured browser origins (the rest of the request's edge is `edge.py`)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from mailkeys.settings import Settings


def cors(settings: Settings) -> list[Middleware]:
    """CORS for the configured browser origins only (frontend apps acting for people).

    People send their token as `Authorization: Bearer`, never a cookie, so no credentials
    mode is allowed and there is no CSRF surface on the API.
    """
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Team-Id", "X-Request-Id"],
            expose_headers=[
                "X-Request-Id",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "Retry-After",
                "WWW-Authenticate",
            ],
            allow_credentials=False,
            max_age=600,
        )
    ]
