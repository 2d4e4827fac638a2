"""`mailkeys serve`: the GraphQL API under uvicorn, after checking the database once."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging.config
import os
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from mailkeys.cli.failures import CommandError
from mailkeys.cli.output import Subcommands
from mailkeys.models import Team
from mailkeys.models.database import connected, is_sqlite, ready_database, safe_url
from mailkeys.settings import Settings
from mailkeys.telemetry.logs import logging_config
from mailkeys.telemetry.metrics import worker_metrics


async def _prepare_database(settings: Settings) -> int:
    """Check the schema once, before workers start; returns the number of teams."""
    async with connected(settings):
        await ready_database(settings)
        return await Team.all().count()


def _check_workers(workers: int, settings: Settings, allowed_on_sqlite: bool) -> None:
    # SQLite has one writer per file: a second process's write fails as "database is locked"
    # (answered UNAVAILABLE, retryable) whenever the two meet. Separate servers on one file
    # cannot be stopped; workers of one server can.
    if workers > 1 and is_sqlite(settings) and not allowed_on_sqlite:
        raise CommandError(
            f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a time, "
            "so several workers would refuse concurrent writes; set MAILKEYS_DATABASE_URL="
            "postgres://... or serve with --workers 1 (see docs/cli.md)"
        )


def _check_port_free(host: str, port: int) -> None:
    """Bind where uvicorn will (as it does, with SO_REUSEADDR), to say why it could not."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CommandError(f"cannot listen on {where}: {error.strerror}") from error
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                reason = (error.strerror or str(error)).lower()
                hint = (
                    " (another server is running there? choose one with --port)"
                    if error.errno == errno.EADDRINUSE
                    else ""
                )
                raise CommandError(f"cannot listen on {where}: {reason}{hint}") from error


def mailkeys_command(cwd: Path | None = None, executable: str | None = None) -> str:
    """How a user in `cwd` runs `mailkeys` of this installation, as a shell word.

    `scripts/serve` runs `.venv/bin/mailkeys` without putting it on PATH, so the bare name
    would not be found: name the console script next to the running interpreter instead,
    relative to `cwd` when it lies below it (`python -m mailkeys.cli` if there is none).
    """
    cwd = (cwd or Path.cwd()).absolute()
    python = Path(executable or sys.executable).absolute()
    script = python.with_name("mailkeys")
    if not (script.is_file() and os.access(script, os.X_OK)):
        return f"{shlex.quote(_from(cwd, python))} -m mailkeys.cli"
    on_path = shutil.which("mailkeys")
    if on_path and os.path.samefile(on_path, script):
        return "mailkeys"
    return shlex.quote(_from(cwd, script))


def _from(cwd: Path, path: Path) -> str:
    if not path.is_relative_to(cwd):
        return str(path)
    relative = str(path.relative_to(cwd))
    return relative if "/" in relative else f"./{relative}"


def _first_steps(url: str) -> str:
    # The other terminal must find the same database (a relative SQLite path: same directory).
    configured = any(name.startswith("MAILKEYS_") or name == "DATABASE_URL" for name in os.environ)
    same_variables = " and with the same MAILKEYS_* variables" if configured else ""
    return (
        f"mailkeys: no team yet. In another terminal, in this directory{same_variables}, run\n"
        f"    {mailkeys_command()} team create 'My team'\n"
        "  to get a team and its first Full Access key; then try\n"
        f"    curl -s {url} -H 'Authorization: Bearer <key>' "
        "-H 'Content-Type: application/json' "
        '-d \'{"query": "{ viewer { team { id name } apiKey { id preset } } }"}\''
    )


def serve(args: argparse.Namespace) -> int:
    """Start uvicorn with the app factory."""
    settings = Settings.from_env()
    _check_workers(args.workers, settings, args.allow_sqlite_workers)
    _check_port_free(args.host, args.port)
    teams = asyncio.run(_prepare_database(settings))
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"mailkeys: serving {url} (database: {safe_url(settings.database_url)})")
    if teams == 0:
        print(_first_steps(url))
    # One line per request comes from mailkeys.requests; uvicorn's access log would repeat it.
    log_config = logging_config(args.log_level, settings.log_format, args.access_log)
    logging.config.dictConfig(log_config)
    with worker_metrics(args.workers) as metrics_dir:
        if metrics_dir:
            print(f"mailkeys: metrics of {args.workers} workers are aggregated in {metrics_dir}")
        sys.stdout.flush()
        uvicorn.run(
            "mailkeys.http.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            log_config=log_config,
            access_log=False,
            # X-Forwarded-For is believed only from MAILKEYS_TRUSTED_PROXIES, by mailkeys
            # itself (IP allowlists); uvicorn's own rule would trust 127.0.0.1 behind our back.
            proxy_headers=False,
            # httptools, refusing oversized request heads while they arrive (it has no limit).
            http="mailkeys.http.protocol:BoundedHttpToolsProtocol",
        )
    return 0


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1-65535), got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return int(text)


def register(commands: Subcommands[Any]) -> None:
    """Add `mailkeys serve`."""
    serve_parser = commands.add_parser(
        "serve", help="run the GraphQL API with uvicorn", description="Run the GraphQL API."
    )
    serve_parser.add_argument("--host", default="127.0.0.1", help="interface (127.0.0.1)")
    serve_parser.add_argument("--port", type=_port, default=8000, help="TCP port (8000)")
    serve_parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes (1); more than 1 needs PostgreSQL",
    )
    serve_parser.add_argument(
        "--allow-sqlite-workers",
        action="store_true",
        help="start several workers on SQLite anyway: concurrent writes then often answer "
        "UNAVAILABLE (retryable); for tests of multi-worker behaviour",
    )
    serve_parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    serve_parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="no per-request log lines (mailkeys.requests)",
    )
    serve_parser.set_defaults(handler=serve)
