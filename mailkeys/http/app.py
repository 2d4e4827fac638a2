"""The Starlette application: routes, lifespan, and the GraphQL view that authenticates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise

from mailkeys import policy
from mailkeys.auth.credential_check import CheckProtocol, CredentialChecker
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.keys import Authenticator
from mailkeys.auth.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from mailkeys.auth.services import Services
from mailkeys.errors import PermissionDeniedError
from mailkeys.http import graphiql
from mailkeys.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from mailkeys.http.observability import RequestLogMiddleware, metrics_endpoint
from mailkeys.models.database import (
    DatabaseBehindError,
    connected,
    is_unavailable,
    orm_config,
    pending_migrations,
    ready_database,
)
from mailkeys.policy import store as policy_store
from mailkeys.schema import build_schema
from mailkeys.schema.context import RequestContext
from mailkeys.settings import Settings
from mailkeys.tokens import SecretHasher

log = logging.getLogger("mailkeys")


async def load_policy(settings: Settings) -> policy.PolicySnapshot:
    """Seed version 1 from the policy file on first start, then install the live version."""
    model_text = policy_store.model_text_for(settings)
    await policy_store.seed(model_text, policy_store.seed_text_for(settings))
    snapshot = await policy_store.load_live(model_text)
    policy.install(snapshot)
    return snapshot


@contextlib.asynccontextmanager
async def command_database(settings: Settings) -> AsyncIterator[None]:
    """The configured database and the live policy, for the length of one CLI command.

    As for `mailkeys serve`: the embedded SQLite file is migrated, a scale-out database that
    is behind is refused (DatabaseBehindError).
    """
    async with connected(settings):
        await ready_database(settings)
        await load_policy(settings)
        yield


def build_hasher(settings: Settings) -> BoundedHasher:
    """argon2id with the configured cost, at most `argon2_max_concurrency` at once."""
    argon2 = settings.argon2
    return BoundedHasher(
        SecretHasher(argon2.time_cost, argon2.memory_cost_kib, argon2.parallelism),
        settings.argon2_max_concurrency,
    )


def build_services(settings: Settings) -> Services:
    """The per-process collaborators: hashing, the rate limiter and the authenticator."""
    hasher = build_hasher(settings)
    limiter: RateLimiter = InProcessRateLimiter()
    if settings.redis_url:
        client = Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        limiter = RedisRateLimiter(client, fallback=limiter, prefix=f"{settings.redis_prefix}rl:")
    authenticator = Authenticator(settings, hasher, limiter)
    return Services(
        settings=settings,
        hasher=hasher,
        authenticator=authenticator,
        checker=CredentialChecker(settings, authenticator, limiter),
        limiter=limiter,
    )


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
        authentication = await self.services.authenticator.authenticate(
            request.headers.get("authorization")
        )
        if authentication.rate is not None:
            response.headers.update(authentication.rate.headers())
        return RequestContext(
            request=request,
            response=response,
            request_id=request.state.request_id,
            services=self.services,
            authentication=authentication,
        )


async def flush_last_used(services: Services) -> None:
    """Write the queued last-use times of keys and mailbox passwords."""
    await services.authenticator.last_used.flush()
    await services.checker.password_last_used.flush()


async def _flush_periodically(services: Services, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await flush_last_used(services)
        except Exception:
            log.exception("could not record last use of credentials")


def _unavailable() -> JSONResponse:
    return JSONResponse(
        {"error": "UNAVAILABLE", "retryable": True}, status_code=503, headers={"Retry-After": "1"}
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application (uvicorn calls this as a factory)."""
    settings = settings or Settings.from_env()
    services = build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=orm_config(settings)):
            pending = await pending_migrations()
            if pending:
                raise DatabaseBehindError(pending)
            await load_policy(settings)
            reloader = policy_store.PolicyReloader(
                policy_store.model_text_for(settings),
                policy_store.PollingWatcher(settings.policy_poll_ms / 1000),
            )
            reloader.start()
            flush_every = max(1.0, settings.last_used_precision_seconds / 4)
            flusher = asyncio.create_task(_flush_periodically(services, flush_every))
            try:
                yield
            finally:
                await reloader.stop()
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                with contextlib.suppress(Exception):
                    await flush_last_used(services)
                await services.limiter.close()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        """Database and policy are required; Redis being down degrades (local limits)."""
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

    async def credential_check(request: Request) -> Response:
        """The gateways' lean JSON form of `credentialCheck`."""
        authentication = await services.authenticator.authenticate(
            request.headers.get("authorization")
        )
        if authentication.failure == "unavailable":
            return _unavailable()
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
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": "BAD_USER_INPUT", "message": "Send {address, secret, protocol}."},
                status_code=400,
            )
        try:
            result = await services.checker.check(authentication.actor, address, secret, protocol)
        except PermissionDeniedError:
            return JSONResponse({"error": "FORBIDDEN"}, status_code=403)
        except Exception as error:
            if not is_unavailable(error):
                raise
            return _unavailable()
        return JSONResponse(
            {
                "allowed": result.allowed,
                "mailboxId": result.mailbox_id,
                "permissions": list(result.permissions),
            }
        )

    graphql = MailkeysGraphQL(services)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/v1/credentials/check", credential_check, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(settings)),
            *graphiql.routes(settings.graphiql),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(RequestLogMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
