"""Serve the example dashboard on its own origin, on loopback, with its configuration.

    python3 examples/dashboard/serve.py --port 8765 \\
        --issuer http://127.0.0.1:9400 --mailkeys http://127.0.0.1:8000

Standard library only. It serves the page's files, answers /config.js from its arguments, and
sends a Content-Security-Policy naming exactly the provider's and mailkeys' origins. When it
listens it prints `dashboard ready http://127.0.0.1:<port>/`; SIGTERM or Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import ClassVar
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/oidc.js": ("oidc.js", "text/javascript; charset=utf-8"),
    "/queries.js": ("queries.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def config_module(*, issuer: str, client_id: str, mailkeys: str, redirect_uri: str) -> bytes:
    """The page's config.js for these settings (JSON-encoded: no value can break out)."""
    settings = {
        "issuer": issuer,
        "clientId": client_id,
        "redirectUri": redirect_uri,
        "scope": "openid email",
        "mailkeysUrl": mailkeys.rstrip("/"),
    }
    return f"export default {json.dumps(settings, indent=2)};\n".encode()


def content_security_policy(*, issuer: str, mailkeys: str) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {origin(issuer)} {origin(mailkeys)}; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


class DashboardHandler(BaseHTTPRequestHandler):
    """GET of the page's own files only; everything else is 404 or 405."""

    server_version = "mailkeys-dashboard-example"
    config_js: ClassVar[bytes] = b""
    csp: ClassVar[str] = ""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/config.js":
            self._send(self.config_js, "text/javascript; charset=utf-8")
        elif path in FILES:
            name, content_type = FILES[path]
            self._send((HERE / name).read_bytes(), content_type)
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # The sign-in answer's query holds a code: log the method and path only.
        command = getattr(self, "command", "-")
        path = urlsplit(getattr(self, "path", "-")).path
        sys.stderr.write(f"dashboard: {command} {path}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", choices=sorted(LOOPBACK))
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    parser.add_argument("--issuer", default="http://127.0.0.1:9400", help="the OpenID provider")
    parser.add_argument("--client-id", default="mailkeys-dashboard")
    parser.add_argument("--mailkeys", default="http://127.0.0.1:8000", help="the mailkeys URL")
    parser.add_argument("--redirect-uri", help="default: this server's / URL")
    args = parser.parse_args(argv)

    server = ThreadingHTTPServer((args.host, args.port), DashboardHandler)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{server.server_address[1]}/"
    DashboardHandler.config_js = config_module(
        issuer=args.issuer,
        client_id=args.client_id,
        mailkeys=args.mailkeys,
        redirect_uri=args.redirect_uri or url,
    )
    DashboardHandler.csp = content_security_policy(issuer=args.issuer, mailkeys=args.mailkeys)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"dashboard ready {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
