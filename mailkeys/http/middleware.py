"""Middleware: a request id on every response, and a bound on request bodies."""

from __future__ import annotations

import json
import re
import uuid

from asgi_correlation_id import CorrelationIdMiddleware
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        request_id = request_id_var.get()
        body = json.dumps(
            {
                "data": None,
                "errors": [
                    {
                        "message": f"Request body exceeds {self.max_bytes} bytes.",
                        "extensions": {
                            "code": "BAD_USER_INPUT",
                            "retryable": False,
                            "requestId": request_id,
                        },
                    }
                ],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
