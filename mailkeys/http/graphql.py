"""The GraphQL endpoint: Strawberry's ASGI view, with authentication done once per request."""

from __future__ import annotations

import contextlib

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from mailkeys.auth.services import Services
from mailkeys.http import graphiql
from mailkeys.http.client import client_of
from mailkeys.schema import build_schema
from mailkeys.schema.context import RequestContext
from mailkeys.telemetry.logs import request_id_var


class MailkeysGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view, with our context: authentication happens here, once."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
        )
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A client that leaves before its body arrives needs no answer, nor an ERROR log.
        with contextlib.suppress(ClientDisconnect):
            await super().__call__(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page_response()  # served from the package, not a CDN

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        if not isinstance(request, Request) or not isinstance(response, Response):
            raise TypeError("mailkeys serves GraphQL over HTTP only")
        authentication = await self.services.authenticate(
            request.headers.get("authorization"),
            request.headers.get("x-team-id"),
            client_of(request, self.services.settings),
        )
        if authentication.rate is not None:
            response.headers.update(authentication.rate.headers())
        return RequestContext(
            request=request,
            response=response,
            request_id=request_id_var.get() or "",
            services=self.services,
            authentication=authentication,
        )
