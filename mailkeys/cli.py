"""The `mailkeys` command: serve the API, and operator tasks that need no GraphQL."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import uvicorn
from tortoise import Tortoise

from mailkeys.app import is_sqlite, load_policy, orm_config
from mailkeys.cli_policy import add_policy_commands
from mailkeys.models import Team
from mailkeys.policy import OPERATOR
from mailkeys.resolvers.hashing import BoundedHasher
from mailkeys.resolvers.teams import create_team
from mailkeys.settings import Settings
from mailkeys.tokens import SecretHasher


async def _prepare_database(settings: Settings) -> int:
    """Create the embedded schema once, before workers start; returns the number of teams."""
    await Tortoise.init(config=orm_config(settings))
    try:
        if is_sqlite(settings):
            await Tortoise.generate_schemas(safe=True)
        return await Team.all().count()
    finally:
        await Tortoise.close_connections()


def serve(args: argparse.Namespace) -> int:
    """Start uvicorn with the app factory."""
    settings = Settings.from_env()
    teams = asyncio.run(_prepare_database(settings))
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
    sys.stdout.flush()
    uvicorn.run(
        "mailkeys.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


async def _create_team(name: str) -> tuple[str, str, str]:
    settings = Settings.from_env()
    await Tortoise.init(config=orm_config(settings))
    try:
        if is_sqlite(settings):
            await Tortoise.generate_schemas(safe=True)
        await load_policy(settings)
        argon2 = settings.argon2
        hasher = BoundedHasher(
            SecretHasher(argon2.time_cost, argon2.memory_cost_kib, argon2.parallelism), 1
        )
        created = await create_team(OPERATOR, name, hasher)
        return created.team.id, created.key.key.id, created.key.secret
    finally:
        await Tortoise.close_connections()


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
        "--no-access-log", dest="access_log", action="store_false", help="no access log lines"
    )
    serve_parser.set_defaults(handler=serve)

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
    add_policy_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mailkeys` console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
