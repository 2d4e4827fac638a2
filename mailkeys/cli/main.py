"""The `mailkeys` command: serve the API, and operator tasks that need no GraphQL."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import sys
from collections.abc import Sequence

import uvicorn

from mailkeys.auth.services import build_hasher
from mailkeys.cli import operator as cli_operator
from mailkeys.cli.database import command_database
from mailkeys.cli.policy import add_policy_commands
from mailkeys.models import Team
from mailkeys.models.database import (
    DatabaseBehindError,
    apply_migrations,
    connected,
    ready_database,
)
from mailkeys.policy import OPERATOR
from mailkeys.resolvers.teams import create_team
from mailkeys.settings import Settings
from mailkeys.telemetry.logs import configure_logging, logging_config
from mailkeys.telemetry.metrics import worker_metrics


async def _prepare_database(settings: Settings) -> int:
    """Check the schema once, before workers start; returns the number of teams."""
    async with connected(settings):
        await ready_database(settings)
        return await Team.all().count()


async def _migrate(settings: Settings) -> list[str]:
    async with connected(settings):
        return await apply_migrations()


def migrate(args: argparse.Namespace) -> int:
    """Apply pending schema migrations."""
    settings = Settings.from_env()
    applied = asyncio.run(_migrate(settings))
    where = _safe_url(settings.database_url)
    if applied:
        print(f"mailkeys: applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        print(f"mailkeys: {where} is up to date")
    return 0


def serve(args: argparse.Namespace) -> int:
    """Start uvicorn with the app factory."""
    settings = Settings.from_env()
    try:
        teams = asyncio.run(_prepare_database(settings))
    except DatabaseBehindError as behind:
        print(f"mailkeys: cannot serve: {behind}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"mailkeys: serving {url} (database: {_safe_url(settings.database_url)})")
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
        )
    return 0


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}{sep}{user}{':***' if has_password else ''}@{host}"


async def _create_team(name: str) -> tuple[str, str, str]:
    settings = Settings.from_env()
    async with command_database(settings):
        created = await create_team(OPERATOR, name, build_hasher(settings))
        return created.team.id, created.key.key.id, created.key.secret


def team_create(args: argparse.Namespace) -> int:
    """Create a team and print its first Full Access key, once."""
    team_id, key_id, secret = asyncio.run(_create_team(args.name))
    print(f"team id:  {team_id}")
    print(f"key id:   {key_id} (preset root:full)")
    print(f"key:      {secret}")
    print("This key is shown once: store it now. Use it as 'Authorization: Bearer <key>'.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line; configuration comes from MAILKEYS_* variables (see README)."""
    parser = argparse.ArgumentParser(
        prog="mailkeys",
        description="mailkeys: API keys, mailbox passwords and Casbin policies over GraphQL. "
        "Configuration comes from MAILKEYS_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    migrate_parser = commands.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply pending schema migrations to the configured database "
        "(MAILKEYS_DATABASE_URL). The SQLite default is also migrated by `serve`.",
    )
    migrate_parser.set_defaults(handler=migrate)

    team_parser = commands.add_parser(
        "team", help="team administration", description="Team administration for operators."
    )
    team_commands = team_parser.add_subparsers(dest="team_command", required=True)
    create_parser = team_commands.add_parser(
        "create",
        help="create a team and print its first Full Access key once",
        description="Create a team and print its first Full Access (root:full) key, once.",
    )
    create_parser.add_argument("name", help="the team's name")
    create_parser.set_defaults(handler=team_create)
    cli_operator.register(commands, team_commands)
    add_policy_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mailkeys` console script."""
    # Commands other than `serve` report on stdout; their logs are warnings and errors only.
    configure_logging("warning")
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
