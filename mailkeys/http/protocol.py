"""uvicorn's httptools protocol, bounded: a request whose line and headers pass
MAILKEYS_MAX_HEADER_BYTES is refused with 431 while it is still arriving.

httptools has no limit of its own: every header is buffered whole before the application
sees the request (a 32 MB header was parsed). `edge.RequestLimits` answers what does
arrive complete; this stops reading the rest. Only bytes received before the headers end
are counted, so a large body in the same read never counts as headers.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mailkeys.settings import Settings


@functools.cache
def _limit() -> int:
    return Settings.from_env().max_header_bytes


def refusal_bytes(limit: int) -> bytes:
    """A complete 431 response: a GraphQL error with a request id, then the connection ends."""
    request_id = uuid.uuid4().hex
    error = {
        "message": f"Request line and headers exceed {limit} bytes.",
        "extensions": {
            "field": "headers",
            "code": "BAD_USER_INPUT",
            "retryable": False,
            "requestId": request_id,
        },
    }
    body = json.dumps({"errors": [error]}, separators=(",", ":")).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that stops reading oversized request heads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit = _limit()
        self._head_bytes = 0
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still inside the head after this read: all of it was head.
        over = self._in_head and self._head_bytes > self._head_limit
        if over and self.transport is not None and not self.transport.is_closing():
            self.transport.write(refusal_bytes(self._head_limit))
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0
