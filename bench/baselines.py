"""The two baselines the pipeline benchmark divides by, as ASGI apps served by uvicorn.

    python -m uvicorn bench.baselines:starlette_app --port N   # a bare Starlette JSON route
    python -m uvicorn bench.baselines:strawberry_app --port N  # a bare Strawberry app (any path)

The Starlette route does what the credential check's HTTP route does minus the check itself:
read a JSON body and answer JSON. The Strawberry app is the stack's own floor for a GraphQL
request: one `Query` type and Strawberry's recommended caches (ParserCache and
ValidationCache), nothing else.
"""

from __future__ import annotations

from functools import partial

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

STARLETTE_PATH = "/json"


async def _echo_shape(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"ok": True, "fields": sorted(body)})


starlette_app = Starlette(routes=[Route(STARLETTE_PATH, _echo_shape, methods=["POST"])])


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


# Factories, as Strawberry's documentation passes them; their caches live at module level.
_schema = strawberry.Schema(
    query=Query,
    extensions=[partial(ParserCache, maxsize=256), partial(ValidationCache, maxsize=256)],
)
# Served as it is, at every path: no router in front of it, so the floor is as low as it gets.
strawberry_app = GraphQL(_schema)
