"""The Starlette application: its routes, middleware, and the lifespan of a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

from mailkeys.auth.services import Services, build_services
from mailkeys.http import graphiql, routes
from mailkeys.http.graphql import MailkeysGraphQL
from mailkeys.http.middleware import (
    BodyLimitMiddleware,
    FaultBarrier,
    HeaderLimitMiddleware,
    request_ids,
)
from mailkeys.http.observability import RequestLogMiddleware, metrics_endpoint
from mailkeys.http.policy_reload import PolicyReloader, PollingWatcher
from mailkeys.models.database import DatabaseBehindError, orm_config, pending_migrations
from mailkeys.resolvers.policy_versions import install_live_policy, model_text_for
from mailkeys.settings import Settings

log = logging.getLogger("mailkeys")
Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]


async def _flush_periodically(services: Services, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await services.flush_last_used()
        except Exception:
            log.exception("could not record last use of credentials")


def _lifespan(settings: Settings, services: Services) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=orm_config(settings)):
            pending = await pending_migrations()
            if pending:
                raise DatabaseBehindError(pending)
            await install_live_policy(settings)
            reloader = PolicyReloader(
                model_text_for(settings), PollingWatcher(settings.policy_poll_ms / 1000)
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
                    await services.flush_last_used()
                await services.limiter.close()

    return lifespan


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application (uvicorn calls this as a factory)."""
    settings = settings or Settings.from_env()
    services = build_services(settings)
    app = Starlette(
        routes=[
            Route("/graphql", MailkeysGraphQL(services), methods=["GET", "POST"]),
            Route("/v1/credentials/check", routes.credential_check(services), methods=["POST"]),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz(services)),
            Route("/metrics", metrics_endpoint(settings)),
            *graphiql.routes(settings.graphiql),
        ],
        middleware=[
            request_ids(),
            Middleware(FaultBarrier),
            Middleware(RequestLogMiddleware),
            Middleware(HeaderLimitMiddleware, max_bytes=settings.max_header_bytes),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=_lifespan(settings, services),
    )
    app.state.services = services
    return app
