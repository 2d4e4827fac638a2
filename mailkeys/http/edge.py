"""The edge: what every HTTP request passes through first and last, as one ASGI layer.

In order: a request id (a sane incoming `X-Request-Id` is kept, else a new one; every
response carries it, and every log line, audit event and error of the request names it);
the request's record for the log line and metrics (`observability.finish`, once the
response has gone out); and the last word on an exception that escaped everything else,
logged once without its message and answered as a masked INTERNAL_SERVER_ERROR (500, JSON,
the request id) rather than a plain-text 500 with a traceback in the log.

One layer rather than three: each ASGI layer wraps `send` in a closure per request, and
under load those layers cost more than their work (bench/profile.py). The limits on a
request's size (`RequestLimits`) are a layer of their own, inside CORS, so that a browser
can read their refusals.
"""

from __future__ import annotations

import json
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailkeys.errors import InvalidInputError
from mailkeys.http.media import negotiate
from mailkeys.http.observability import finish
from mailkeys.schema.errors import error_outside_execution, log_unexpected
from mailkeys.telemetry.logs import RequestRecord, current_request, request_id_var

_INCOMING_ID = re.compile(rb"[A-Za-z0-9._-]{8,64}")
_REQUEST_ID = b"x-request-id"


def request_id_of(scope: Scope) -> str:
    """The client's own request id if it is a sane one, else a new one."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID:
            if _INCOMING_ID.fullmatch(value):
                return bytes(value).decode()
            break
    return uuid.uuid4().hex


class Edge:
    """Request id, request log and metrics, and the fault barrier, around `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        id_header = (_REQUEST_ID, request_id.encode())
        record = RequestRecord(request_id=request_id, method=scope["method"], path=scope["path"])
        id_token = request_id_var.set(request_id)
        record_token = current_request.set(record)
        started = time.perf_counter()

        async def edge_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, edge_send)
        except Exception as fault:
            route = scope.get("route")
            # The route's template, never the path the client sent.
            where = getattr(route, "path", None) or "an unmatched route"
            log_unexpected(fault, where, request_id)
            if record.status is None:
                await send_refusal(scope, edge_send, fault, 500)
        finally:
            finish(record, scope, time.perf_counter() - started)
            current_request.reset(record_token)
            request_id_var.reset(id_token)


class _BodyTooLarge(Exception):
    pass


class RequestLimits:
    """Refuses a request whose line and headers exceed `max_header_bytes` (431) or whose body
    exceeds `max_body_bytes` (413), before anything parses them."""

    def __init__(self, app: ASGIApp, max_header_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if header_bytes(scope) > self.max_header_bytes:
            error = InvalidInputError(
                "headers", f"Request line and headers exceed {self.max_header_bytes} bytes."
            )
            await send_refusal(scope, send, error, 431, {"Connection": "close"})
            return
        declared = _content_length(scope)
        if declared is not None:
            # The server reads no more than the declared length: nothing to count.
            if declared > self.max_body_bytes:
                await self._refuse_body(scope, send)
            else:
                await self.app(scope, receive, send)
            return
        await self._counting(scope, receive, send)

    async def _counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of unknown length (chunked): counted as it arrives."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
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
                await self._refuse_body(scope, send)

    async def _refuse_body(self, scope: Scope, send: Send) -> None:
        error = InvalidInputError("body", f"Request body exceeds {self.max_body_bytes} bytes.")
        await send_refusal(scope, send, error, 413)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def header_bytes(scope: Scope) -> int:
    """The size of a request's line and headers as sent (within a few bytes).

    Counted as on the wire (`name: value\\r\\n` per header), so that the limit means the
    same under either of uvicorn's HTTP implementations; h11 alone has a limit of its own
    (16 KiB, answered with a plain 400), httptools has none.
    """
    line = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    line += len(scope["method"]) + len("  HTTP/1.1\r\n?")
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


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
