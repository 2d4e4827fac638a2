"""The routes beside GraphQL: health, readiness, and the gateways' lean credential check."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise import Tortoise

from mailkeys import policy
from mailkeys.auth.credential_check import CheckProtocol
from mailkeys.auth.ratelimit import RedisRateLimiter
from mailkeys.auth.services import Services
from mailkeys.errors import InvalidInputError, PermissionDeniedError
from mailkeys.http.client import client_of
from mailkeys.models.database import is_unavailable

Endpoint = Callable[[Request], Awaitable[Response]]


def unavailable() -> JSONResponse:
    """503 for a database that does not answer; the client may retry shortly."""
    return JSONResponse(
        {"error": "UNAVAILABLE", "retryable": True}, status_code=503, headers={"Retry-After": "1"}
    )


async def healthz(_: Request) -> Response:
    """The process is up (liveness)."""
    return JSONResponse({"status": "ok"})


def readyz(services: Services) -> Endpoint:
    """The database answers and the policy is loaded (readiness); Redis down only degrades."""

    async def ready(_: Request) -> Response:
        checks = {"database": False, "policy": False}
        with contextlib.suppress(Exception):
            await Tortoise.get_connection("default").execute_query("SELECT 1")
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["policy"] = policy.current() is not None
        ready = all(checks.values())
        status = "ready" if ready else "unavailable"
        limiter = services.limiter
        if isinstance(limiter, RedisRateLimiter):
            checks["redis"] = await limiter.ping()
            if ready and not checks["redis"]:
                status = "degraded"
        return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)

    return ready


def credential_check(services: Services) -> Endpoint:
    """`POST /v1/credentials/check`: the gateways' lean JSON form of `credentialCheck`."""

    async def check(request: Request) -> Response:
        authentication = await services.authenticator.authenticate(
            request.headers.get("authorization"), client_of(request, services.settings)
        )
        if authentication.failure == "unavailable":
            return unavailable()
        if authentication.actor is None:
            return JSONResponse(
                {"error": "UNAUTHENTICATED"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="mailkeys"'},
            )
        try:
            body = await request.json()
            address, secret = str(body["address"]), str(body["secret"])
            protocol = CheckProtocol(str(body["protocol"]).lower())
            client_ip = body.get("clientIp")
            if client_ip is not None and not isinstance(client_ip, str):
                raise TypeError("clientIp")
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse(
                {
                    "error": "BAD_USER_INPUT",
                    "message": "Send {address, secret, protocol} and optionally clientIp.",
                },
                status_code=400,
            )
        try:
            result = await services.checker.check(
                authentication.actor, address, secret, protocol, client_ip
            )
        except PermissionDeniedError:
            return JSONResponse({"error": "FORBIDDEN"}, status_code=403)
        except InvalidInputError as invalid:
            return JSONResponse(
                {"error": "BAD_USER_INPUT", "field": invalid.field, "message": str(invalid)},
                status_code=400,
            )
        except Exception as error:
            if not is_unavailable(error):
                raise
            return unavailable()
        return JSONResponse(
            {
                "allowed": result.allowed,
                "mailboxId": result.mailbox_id,
                "permissions": list(result.permissions),
            }
        )

    return check
