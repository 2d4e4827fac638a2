"""Middleware: a request id on every response, and a bound on request bodies."""

from __future__ import annotations

import json
import re
import uuid

from asgi_correlation_id import CorrelationIdMiddleware
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailkeys.errors import InvalidInputError
from mailkeys.http.media import negotiate
from mailkeys.schema.errors import error_outside_execution, log_unexpected
from mailkeys.settings import Settings
from mailkeys.telemetry.logs import request_id_var

_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_ids() -> Middleware:
    """Every response carries `X-Request-Id`: a sane incoming one is kept, else a new one.

    `asgi-correlation-id` does the work; the id is in `request_id_var` for every log line,
    audit event and error of the request.
    """
    return Middleware(
        CorrelationIdMiddleware,
        header_name="X-Request-Id",
        update_request_header=False,
        generator=lambda: uuid.uuid4().hex,
        validator=lambda incoming: _INCOMING_ID.fullmatch(incoming) is not None,
    )


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


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413 before the GraphQL layer parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        error = InvalidInputError("body", f"Request body exceeds {self.max_bytes} bytes.")
        await send_refusal(scope, send, error, 413)


async def send_refusal(
    scope: Scope,
    send: Send,
    error: BaseException,
    status: int,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a request refused before GraphQL saw it, as a GraphQL error without `data`."""
    body_json, _ = error_outside_execution(error, request_id_var.get())
    body = json.dumps({"errors": [body_json]}, separators=(",", ":")).encode()
    accept = Headers(scope=scope).get("accept")
    raw_headers = [
        (b"content-type", negotiate(accept).encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class HeaderLimitMiddleware:
    """Refuses a request whose request line and headers exceed `max_bytes` with 431.

    Counted as on the wire (`name: value\r\n` per header), so that the limit means the same
    under either of uvicorn's HTTP implementations; h11 alone has a limit of its own (16 KiB,
    answered with a plain 400), httptools has none.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and header_bytes(scope) > self.max_bytes:
            error = InvalidInputError(
                "headers", f"Request line and headers exceed {self.max_bytes} bytes."
            )
            await send_refusal(scope, send, error, 431, {"Connection": "close"})
            return
        await self.app(scope, receive, send)


def header_bytes(scope: Scope) -> int:
    """The size of a request's line and headers as sent (within a few bytes)."""
    line = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    line += len(scope["method"]) + len("  HTTP/1.1\r\n?")
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


class FaultBarrier:
    """The last word on an exception that escaped everything else: logged once without its
    message, answered as a masked INTERNAL_SERVER_ERROR (500, JSON, the request id) instead
    of the server's plain-text 500 and its full traceback in the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as fault:
            route = scope.get("route")
            # The route's template, never the path the client sent.
            where = getattr(route, "path", None) or "an unmatched route"
            log_unexpected(fault, where, request_id_var.get())
            if not started:
                await send_refusal(scope, send, fault, 500)
