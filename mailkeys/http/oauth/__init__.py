"""Connected apps' OAuth 2.1 authorization server: metadata, consent, token, revocation and
dynamic registration, on authlib (see server.py for how it is adapted to async storage)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailkeys.auth.services import Services
from mailkeys.http.oauth import consent, endpoints, signin
from mailkeys.http.oauth.page import stylesheet
from mailkeys.http.oauth.server import Server


def routes(services: Services) -> list[Route]:
    """The OAuth routes, sharing one authlib server."""
    server = Server()

    async def callback(request: Request) -> Response:
        return await signin.callback(request, services)

    async def css(_: Request) -> Response:
        return stylesheet()

    return [
        Route(
            "/.well-known/oauth-authorization-server",
            endpoints.metadata_endpoint(services),
            methods=["GET"],
        ),
        Route(
            "/oauth/authorize",
            consent.authorize_endpoint(services, server),
            methods=["GET", "POST"],
        ),
        Route("/oauth/callback", callback, methods=["GET"]),
        Route("/oauth/consent.css", css, methods=["GET"]),
        Route("/oauth/token", endpoints.token_endpoint(services, server), methods=["POST"]),
        Route("/oauth/revoke", endpoints.revocation_endpoint(services, server), methods=["POST"]),
        Route(
            "/oauth/register", endpoints.registration_endpoint(services, server), methods=["POST"]
        ),
    ]
