"""The GraphQL endpoint: Strawberry's ASGI view, with authentication done once per request.

Around Strawberry's own handling, the view reads the request strictly (`request_body`), offers
`application/graphql-response+json` beside `application/json` (`media`), and answers every
refusal, from a body that is not JSON to a spent anonymous budget, as a GraphQL error with
`extensions.code` and the request id: never plain text, never a bare 500.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from mailkeys.auth.services import Services
from mailkeys.errors import InvalidInputError, MailkeysError
from mailkeys.http import graphiql, media
from mailkeys.http.client import client_of
from mailkeys.http.request_body import RequestRefused, read_json, request_data
from mailkeys.schema import build_schema
from mailkeys.schema.context import RequestContext
from mailkeys.schema.errors import error_outside_execution
from mailkeys.telemetry.logs import current_request, request_id_var


def refusal_response(
    request: Request, error: MailkeysError, status: int, headers: dict[str, str] | None = None
) -> Response:
    """A request refused before execution, as a GraphQL response without `data`."""
    body, mapped = error_outside_execution(error, request_id_var.get())
    record = current_request.get()
    if record is not None:
        record.code = mapped.code
    return Response(
        json.dumps({"errors": [body]}, separators=(",", ":")),
        status_code=status,
        media_type=media.negotiate(request.headers.get("accept")),
        headers=headers,
    )


_POST_OPERATIONS = OperationType.from_http("POST")


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
        request = Request(scope, receive)
        try:
            if scope["method"] == "POST":
                response = await self._post(request)
            else:
                response = await self.run(request)
        except ClientDisconnect:
            return  # a client that leaves before its body arrives needs no answer
        except RequestRefused as refused:
            response = refusal_response(request, refused.error, refused.status)
        except HTTPException as refused:
            error = InvalidInputError("request", refused.reason)
            response = refusal_response(request, error, refused.status_code)
        with contextlib.suppress(ClientDisconnect):
            await response(scope, receive, send)

    async def _post(self, request: Request) -> Response:
        """A POST, the endpoint's every-day request, straight through the steps Strawberry's
        generic `run` takes for it (context first, then the body, then the operation),
        without its dispatch over websockets, GET, batches and streams."""
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        data = await self.parse_http_body(self.request_adapter_class(request))
        try:
            result = await self.schema.execute(
                data.query,
                variable_values=data.variables,
                context_value=context,
                operation_name=data.operation_name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=data.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason("POST")) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        return self.create_response(await self.process_result(request, result), sub_response)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page_response()  # served from the package, not a CDN

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response = await super().get_sub_response(request)
        response.media_type = media.negotiate(request.headers.get("accept"))
        return response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if params.get(name):
                    params[name] = read_json(str(params[name]), name)
            return request_data(params)
        content_type = (request.content_type or "").partition(";")[0].strip().lower()
        if content_type != media.JSON:
            raise RequestRefused(
                InvalidInputError("Content-Type", "Send the request as application/json."), 415
            )
        raw = await request.get_body()
        raw = raw.encode() if isinstance(raw, str) else raw
        return request_data(read_json(raw), raw)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        errors = result.errors or []
        if result.data is None and errors and all(error.path is None for error in errors):
            # Refused before execution began: such a response has no `data` entry.
            response.pop("data", None)
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or media.JSON
        response.headers["content-type"] = media_type
        executed = not isinstance(response_data, dict) or "data" in response_data
        response.status_code = media.status_for(media_type, executed, sub_response.status_code)
        return response

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
