"""`mailkeys keys list|revoke`: a team's keys as the operator sees them, and revocation."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from mailkeys import clock
from mailkeys.cli.output import (
    Progress,
    Subcommands,
    fetch_all,
    render_table,
    run,
    shorten,
    when,
)
from mailkeys.errors import NotFoundError
from mailkeys.models import ApiKey, KeyStatus, KeyType
from mailkeys.pages import MAX_PAGE_SIZE
from mailkeys.policy import OPERATOR, preset_permissions
from mailkeys.resolvers import operator as operator_resolvers


def key_row(key: ApiKey, now: datetime) -> dict[str, Any]:
    """What an operator sees of a key: metadata only, never a secret."""
    mailbox = key.mailbox
    status = key.status_at(now, mailbox.status if mailbox else None)
    return {
        "id": key.id,
        "name": key.name,
        "type": KeyType(key.type).value,
        "preset": key.preset,
        "permissions": (preset_permissions(key.preset) if key.preset else sorted(key.permissions)),
        "status": status.value,
        "display": key.display_token,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def keys_list(args: argparse.Namespace) -> int:
    """Print a team's keys as a table (or JSON)."""
    type_ = KeyType(args.type) if args.type else None
    status = KeyStatus(args.status) if args.status else None

    async def work() -> list[ApiKey]:
        return await fetch_all(
            lambda after: operator_resolvers.list_team_keys(
                OPERATOR, args.team, MAX_PAGE_SIZE, after, type_, status
            ),
            None,
            "keys",
        )

    keys = run(work)
    now = clock.now()
    if args.json:
        print(json.dumps([key_row(key, now) for key in keys], indent=2))
        return 0
    rows = []
    for key in keys:
        row = key_row(key, now)
        rows.append(
            [
                row["id"],
                shorten(row["name"], 24),
                row["type"],
                row["preset"] or shorten(",".join(row["permissions"]), 40),
                row["status"],
                when(key.last_used_at),
            ]
        )
    print(render_table(["ID", "NAME", "TYPE", "PRESET/PERMISSIONS", "STATUS", "LAST USED"], rows))
    print(f"{len(keys)} key(s)")
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    """Revoke keys now, by id (idempotent); the change is audited with the operator as actor."""
    ids: list[str] = list(dict.fromkeys(args.ids))

    async def work() -> list[tuple[str, str]]:
        results: list[tuple[str, str]] = []
        progress = Progress("revoked") if len(ids) > 1 else None
        try:
            for done, key_id in enumerate(ids, start=1):
                try:
                    key = await operator_resolvers.revoke_any_key(OPERATOR, key_id)
                    results.append((key_id, f"revoked (team {key.team_id})"))
                except NotFoundError:
                    results.append((key_id, "not found"))
                if progress:
                    progress.update(done, len(ids))
        finally:
            if progress:
                progress.close()
        return results

    results = run(work)
    for key_id, outcome in results:
        print(f"{key_id}: {outcome}")
    return 1 if any(outcome == "not found" for _, outcome in results) else 0


def register(commands: Subcommands[Any]) -> None:
    """Add `mailkeys keys ...`."""
    keys_parser = commands.add_parser(
        "keys",
        help="list and revoke a team's keys",
        description="Read and revoke API keys directly in the database, as the operator.",
    )
    keys_commands = keys_parser.add_subparsers(dest="keys_command", required=True)
    list_parser = keys_commands.add_parser(
        "list",
        help="a team's keys as a table",
        description="A team's keys, newest first: id, name, type, preset or permissions, "
        "status, last use. Never a secret.",
    )
    list_parser.add_argument("team", help="the team id")
    list_parser.add_argument("--type", choices=[t.value for t in KeyType], help="only this type")
    list_parser.add_argument(
        "--status", choices=[s.value for s in KeyStatus], help="only keys with this status now"
    )
    list_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    list_parser.set_defaults(handler=keys_list)

    revoke_parser = keys_commands.add_parser(
        "revoke",
        help="revoke keys now",
        description="Revoke keys now (idempotent). Audited with the operator as actor. "
        "Exits 1 if an id is unknown.",
    )
    revoke_parser.add_argument("ids", nargs="+", metavar="ID", help="key ids")
    revoke_parser.set_defaults(handler=keys_revoke)
