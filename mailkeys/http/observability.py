"""The request log line, request metrics, and the `/metrics` endpoint.

The edge (`edge.py`) opens a `RequestRecord` for each HTTP request; authentication and the
GraphQL layer fill it in (credential, team, operation, outcome code), and when the response
has gone out `finish` counts the request and writes one `mailkeys.requests` line.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from mailkeys import clock
from mailkeys.models import KeyStatus, KeyType
from mailkeys.models.inventory import PASSWORD_TYPE, credential_inventory
from mailkeys.settings import Settings
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import RequestRecord, request_log

# The outcome code of a request that no GraphQL execution answered, by HTTP status.
_CODE_OF_STATUS = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "BAD_USER_INPUT",
    413: "BAD_USER_INPUT",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}
MULTIPLE = "multiple"
UNMATCHED = "unmatched"


def code_of_status(status: int | None) -> str:
    """The outcome code that an HTTP status stands for."""
    if status is not None and status in _CODE_OF_STATUS:
        return _CODE_OF_STATUS[status]
    if status is None or status >= 500:
        return "INTERNAL_SERVER_ERROR"
    return "OK" if status < 400 else "BAD_USER_INPUT"


def operation_label(record: RequestRecord, scope: Scope) -> str:
    """A bounded metric label: the GraphQL root field (`multiple`), else the route's path."""
    if record.operation is not None:
        return MULTIPLE if "," in record.operation else record.operation
    route = scope.get("route")
    return route.path if isinstance(route, Route) else UNMATCHED


def finish(record: RequestRecord, scope: Scope, seconds: float) -> None:
    """Count the request and write its log line."""
    if record.status is None:  # nothing was sent: an exception escaped
        record.status = 500
    if record.code is None:
        record.code = code_of_status(record.status)
    operation = operation_label(record, scope)
    route = scope.get("route")
    # A path no route matched is whatever the client typed (a pasted token, say): not logged.
    path = record.path if isinstance(route, Route) else UNMATCHED
    metrics.labelled(metrics.REQUESTS, operation, record.code).inc()
    metrics.labelled(metrics.REQUEST_SECONDS, operation).observe(seconds)
    client = scope.get("client")
    request_log.info(
        "request",
        extra={
            "request_id": record.request_id,
            "method": record.method,
            "path": path,
            "status": record.status,
            "operation": record.operation or operation,
            "operation_name": record.operation_name,
            "code": record.code,
            "duration_ms": round(seconds * 1000, 3),
            "credential_id": record.credential_id,
            "credential_kind": record.credential_kind,
            "team_id": record.team_id,
            "auth_failure": record.auth_failure,
            "client": client[0] if client else None,
        },
    )


def metrics_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """`GET /metrics`: Prometheus text, for the metrics token or the operator token.

    Without either token configured the endpoint does not exist (404).
    """
    accepted = [
        token.encode() for token in (settings.metrics_token, settings.operator_token) if token
    ]
    types = [t.value for t in KeyType] + [PASSWORD_TYPE]
    statuses = [s.value for s in KeyStatus]

    async def serve_metrics(request: Request) -> Response:
        if not accepted:
            return PlainTextResponse("Not Found", status_code=404)
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        presented_bytes = presented.strip().encode()
        if scheme.lower() != "bearer" or not any(
            hmac.compare_digest(presented_bytes, token) for token in accepted
        ):
            return PlainTextResponse(
                "Unauthorized",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="mailkeys"'},
            )
        inventory = await credential_inventory(clock.now())
        live = await asyncio.to_thread(metrics.render_live)
        body = live + metrics.render_inventory(inventory.teams, inventory.counts, types, statuses)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    return serve_metrics
