"""The Starlette application: its routes, middleware, and the lifespan of a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp
from tortoise.contrib.starlette import RegisterTortoise

from mailkeys.auth.services import Services, build_services
from mailkeys.http import graphiql, oauth, routes
from mailkeys.http.edge import Edge, RequestLimits
from mailkeys.http.graphql import MailkeysGraphQL
from mailkeys.http.middleware import cors
from mailkeys.http.observability import metrics_endpoint
from mailkeys.http.policy_reload import PolicyReloader, PollingWatcher
from mailkeys.models.database import DatabaseBehindError, orm_config, pending_migrations
from mailkeys.resolvers.policy_versions import install_live_policy, model_text_for
from mailkeys.resolvers.team_deletion import purge_due_teams
from mailkeys.settings import Settings

log = logging.getLogger("mailkeys")
Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]


async def _every(seconds: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `work` every `seconds` until cancelled; a failure is logged and tried again."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            log.exception("could not %s", what)


async def _purge() -> None:
    purged = await purge_due_teams()
    if purged:
        log.info("purged %d team(s) whose deletion grace ended", len(purged))


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
            chores = [
                asyncio.create_task(
                    _every(flush_every, services.flush_last_used, "record last use of credentials")
                ),
                asyncio.create_task(
                    _every(settings.purge_interval_seconds, _purge, "purge deleted teams")
                ),
            ]
            if services.people is None:
                log.info("no MAILKEYS_OIDC_ISSUER: keys only, people cannot sign in")
            try:
                yield
            finally:
                await reloader.stop()
                for chore in chores:
                    chore.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await chore
                with contextlib.suppress(Exception):
                    await services.flush_last_used()
                await services.close()

    return lifespan


class MailkeysApp(Starlette):
    """Starlette without its outermost ServerErrorMiddleware: the edge (`edge.Edge`) is the
    fault barrier here, and one more layer around every request is one more cost."""

    def build_middleware_stack(self) -> ASGIApp:
        # Starlette's order minus its first layer: user middleware, then the exception
        # middleware that answers routing's HTTPExceptions (404, 405), then the router.
        app: ASGIApp = ExceptionMiddleware(self.router, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application (uvicorn calls this as a factory)."""
    settings = settings or Settings.from_env()
    services = build_services(settings)
    app = MailkeysApp(
        routes=[
            Route("/graphql", MailkeysGraphQL(services), methods=["GET", "POST"]),
            Route("/v1/credentials/check", routes.credential_check(services), methods=["POST"]),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz(services)),
            Route("/metrics", metrics_endpoint(settings)),
            *graphiql.routes(settings.graphiql),
            *oauth.routes(services),
        ],
        middleware=[
            Middleware(Edge),
            *cors(settings),
            Middleware(
                RequestLimits,
                max_header_bytes=settings.max_header_bytes,
                max_body_bytes=settings.max_body_bytes,
            ),
        ],
        lifespan=_lifespan(settings, services),
    )
    app.state.services = services
    return app
