"""The client address of an HTTP request, for IP allowlists (see auth/client_address.py)."""

from __future__ import annotations

from starlette.requests import Request

from mailkeys.auth.allowlist import IpAddress
from mailkeys.auth.client_address import client_address
from mailkeys.settings import Settings


def client_of(request: Request, settings: Settings) -> IpAddress | None:
    """The peer, or what trusted proxies in front of it say; None when unknown."""
    peer = request.client.host if request.client else None
    if not settings.trusted_proxies:  # the common case: no header to read
        return client_address(peer, (), ())
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, settings.trusted_proxies)
