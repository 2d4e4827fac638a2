"""`mailkeys serve`: the GraphQL API under uvicorn, after checking the database once."""

from __future__ import annotations

import argparse
import asyncio
import logging.config
import sys
from typing import Any

import uvicorn

from mailkeys.cli.output import Subcommands
from mailkeys.models import Team
from mailkeys.models.database import DatabaseBehindError, connected, ready_database, safe_url
from mailkeys.settings import Settings
from mailkeys.telemetry.logs import logging_config
from mailkeys.telemetry.metrics import worker_metrics


async def _prepare_database(settings: Settings) -> int:
    """Check the schema once, before workers start; returns the number of teams."""
    async with connected(settings):
        await ready_database(settings)
        return await Team.all().count()


def serve(args: argparse.Namespace) -> int:
    """Start uvicorn with the app factory."""
    settings = Settings.from_env()
    try:
        teams = asyncio.run(_prepare_database(settings))
    except DatabaseBehindError as behind:
        print(f"mailkeys: cannot serve: {behind}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"mailkeys: serving {url} (database: {safe_url(settings.database_url)})")
    if teams == 0:
        print(
            "mailkeys: no team yet. In another terminal, in this directory, run\n"
            "    mailkeys team create 'My team'\n"
            "  to get a team and its first Full Access key; then try\n"
            f"    curl -s {url} -H 'Authorization: Bearer <key>' "
            "-H 'Content-Type: application/json' "
            '-d \'{"query": "{ viewer { team { id name } apiKey { id preset } } }"}\''
        )
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
            # httptools, refusing oversized request heads while they arrive (it has no limit).
            http="mailkeys.http.protocol:BoundedHttpToolsProtocol",
        )
    return 0


def register(commands: Subcommands[Any]) -> None:
    """Add `mailkeys serve`."""
    serve_parser = commands.add_parser(
        "serve", help="run the GraphQL API with uvicorn", description="Run the GraphQL API."
    )
    serve_parser.add_argument("--host", default="127.0.0.1", help="interface (127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8000, help="TCP port (8000)")
    serve_parser.add_argument("--workers", type=int, default=1, help="worker processes (1)")
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
