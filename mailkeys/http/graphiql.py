"""GraphiQL from the package itself: the page, and its vendored assets (no CDN).

A browser's `GET /graphql` gets `static/graphiql/index.html`, which loads only files served
here. So GraphiQL works without internet access, and the page a user pastes a key into runs
no script from a third-party origin; its Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).parent.parent / "static" / "graphiql"
ASSETS: dict[str, str] = {
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
}
# Scripts only from this origin; GraphiQL sets inline styles and embeds its fonts as data:.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@dataclass(frozen=True)
class Asset:
    """One vendored file, as sent: plain and gzip-compressed, with its validator."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


@cache
def load_asset(name: str) -> Asset:
    """Read and compress a vendored file once per process."""
    body = (STATIC / name).read_bytes()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        media_type=ASSETS[name],
    )


@cache
def page_html() -> str:
    """The GraphiQL page."""
    return (STATIC / "index.html").read_text(encoding="utf-8")


def page_response() -> Response:
    """The GraphiQL page with its security headers."""
    return HTMLResponse(
        page_html(),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


async def serve_asset(request: Request) -> Response:
    """`GET /static/graphiql/{name}`: a vendored file, compressed when the client accepts it."""
    name = request.path_params["name"]
    if name not in ASSETS:
        return PlainTextResponse("Not Found", status_code=404)
    asset = await asyncio.to_thread(load_asset, name)  # the first read compresses 3 MB
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "public, max-age=3600",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def routes(enabled: bool) -> list[Route]:
    """The asset route, when GraphiQL is enabled."""
    return [Route("/static/graphiql/{name}", serve_asset)] if enabled else []
