"""The per-request context handed to the schema's field resolvers."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry
from starlette.requests import Request
from starlette.responses import Response

from mailkeys.auth.authentication import Authentication
from mailkeys.auth.services import Services
from mailkeys.errors import RateLimitedError, ServiceUnavailableError, UnauthenticatedError
from mailkeys.policy import Actor
from mailkeys.schema.errors import status_wins

# The database, or the identity provider for people's tokens, does not answer: retry shortly.
_OUTAGES = frozenset({"unavailable", "idp_unavailable"})


@dataclass
class RequestContext:
    """What a resolver may know about its request."""

    request: Request
    response: Response
    request_id: str
    services: Services
    authentication: Authentication
    _status: int | None = field(default=None, init=False)

    @property
    def actor(self) -> Actor:
        """The authenticated principal, or UNAUTHENTICATED / RATE_LIMITED for this field."""
        rate = self.authentication.rate
        if rate is not None and not rate.allowed:
            raise RateLimitedError(rate.reset_after)
        if self.authentication.failure in _OUTAGES:
            raise ServiceUnavailableError()
        if self.authentication.actor is None:
            raise UnauthenticatedError()
        return self.authentication.actor

    def escalate_status(self, status: int, retry_after: int | None) -> None:
        """Let an error that has an HTTP status (401, 429) set it on the response."""
        if not status_wins(self._status, status):
            return
        self._status = status
        self.response.status_code = status
        if status == 503 and retry_after is None:
            retry_after = 1
        if status == 401:
            # RFC 6750: a presented credential that did not authenticate is an invalid token.
            challenge = 'Bearer realm="mailkeys"'
            if self.authentication.presented:
                challenge += ', error="invalid_token"'
            self.response.headers["WWW-Authenticate"] = challenge
        if retry_after is not None:
            self.response.headers["Retry-After"] = str(retry_after)


Info = strawberry.Info[RequestContext, None]
