"""`mailkeys team create|limits|purge`: a new team and its first key; a team's limits; the
purge of teams whose deletion grace has ended."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mailkeys.auth.services import build_hasher
from mailkeys.cli.database import command_database
from mailkeys.cli.output import Subcommands, render_table, run
from mailkeys.models import LimitedResource
from mailkeys.policy import OPERATOR
from mailkeys.resolvers import teams as team_resolvers
from mailkeys.resolvers.team_deletion import purge_due_teams
from mailkeys.settings import Settings


async def _create_team(name: str) -> tuple[str, str, str]:
    settings = Settings.from_env()
    async with command_database(settings):
        created = await team_resolvers.create_team(OPERATOR, name, build_hasher(settings))
        first = created.first_key
        return created.team.id, first.key.id, first.secret


def team_create(args: argparse.Namespace) -> int:
    """Create a team and print its first Full Access key, once."""
    team_id, key_id, secret = asyncio.run(_create_team(args.name))
    print(f"team id:  {team_id}")
    print(f"key id:   {key_id} (preset root:full)")
    print(f"key:      {secret}")
    print("This key is shown once: store it now. Use it as 'Authorization: Bearer <key>'.")
    return 0


def _limit_change(text: str) -> tuple[LimitedResource, int]:
    name, sep, value = text.partition("=")
    try:
        resource = LimitedResource(name.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in LimitedResource)
        raise argparse.ArgumentTypeError(f"unknown resource {name!r} (one of {choices})") from None
    if not sep or not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected RESOURCE=N, got {text!r}")
    return resource, int(value)


def team_limits(args: argparse.Namespace) -> int:
    """Show a team's limits with current use; `--set` changes them first (audited)."""
    changes: list[tuple[LimitedResource, int]] = args.set or []

    async def work() -> list[team_resolvers.LimitUsage]:
        team = await team_resolvers.get_team(OPERATOR, args.team)
        for resource, limit in changes:
            await team_resolvers.update_team_limit(OPERATOR, team.id, resource, limit)
        return await team_resolvers.list_limits(OPERATOR, team.id)

    usages = run(work)
    rows = [[u.resource.value, str(u.used), str(u.limit)] for u in usages]
    print(render_table(["RESOURCE", "USED", "LIMIT"], rows))
    return 0


def team_purge(args: argparse.Namespace) -> int:
    """Purge now every team whose deletion grace has ended (the server does it periodically)."""
    purged = run(purge_due_teams)
    for team_id in purged:
        print(f"purged team {team_id}")
    print(f"{len(purged)} team(s) purged")
    return 0


def register(commands: Subcommands[Any]) -> None:
    """Add `mailkeys team create`, `limits` and `purge`."""
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
    limits_parser = team_commands.add_parser(
        "limits",
        help="show or change a team's limits",
        description="Show a team's limits and current use; --set changes one (audited).",
    )
    limits_parser.add_argument("team", help="the team id")
    limits_parser.add_argument(
        "--set",
        action="append",
        type=_limit_change,
        metavar="RESOURCE=N",
        help=f"new limit; RESOURCE is one of {', '.join(r.value for r in LimitedResource)}"
        " (repeatable)",
    )
    limits_parser.set_defaults(handler=team_limits)
    purge_parser = team_commands.add_parser(
        "purge",
        help="purge the teams whose deletion grace has ended",
        description="Remove now every team whose 7-day deletion grace has ended, with all it"
        " holds; servers also do this every MAILKEYS_PURGE_INTERVAL_SECONDS.",
    )
    purge_parser.set_defaults(handler=team_purge)
