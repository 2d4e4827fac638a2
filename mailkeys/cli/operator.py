"""Operator and developer commands of `mailkeys`: keys, team limits, audit, schema export.

They talk to the database directly (configured as for `mailkeys serve`), so they work when
the API is down. They act as the platform operator through the same policy and resolvers as
the API (`mailkeys.resolvers.operator` for the narrow operator paths into a team), so every
change they make is authorized and audited with `operator` as its actor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from mailkeys import clock
from mailkeys.cli.database import command_database
from mailkeys.errors import InvalidInputError, MailkeysError, NotFoundError
from mailkeys.models import ApiKey, AuditEvent, KeyStatus, KeyType, LimitedResource
from mailkeys.models.database import (
    DatabaseBehindError,
)
from mailkeys.pages import MAX_PAGE_SIZE, Page
from mailkeys.policy import OPERATOR, preset_permissions
from mailkeys.resolvers import operator as operator_resolvers
from mailkeys.resolvers import teams as team_resolvers
from mailkeys.schema.sdl import schema_sdl
from mailkeys.settings import Settings

T = TypeVar("T")
Subcommands = argparse._SubParsersAction  # argparse's own (private) name for a subparser group


class Progress:
    """Progress of a long operation on stderr: one rewritten line on a terminal, else lines."""

    def __init__(self, what: str, stream: TextIO | None = None) -> None:
        self._what = what
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._shown = False

    def update(self, done: int, total: int) -> None:
        """Report `done` of `total`."""
        if self._tty:
            self._stream.write(f"\r{self._what}: {done}/{total}")
        else:
            self._stream.write(f"{self._what}: {done}/{total}\n")
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the progress line on a terminal."""
        if self._tty and self._shown:
            self._stream.write("\n")
            self._stream.flush()


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one command's database work to completion."""

    async def main() -> T:
        async with command_database(Settings.from_env()):
            return await work()

    return asyncio.run(main())


async def fetch_all(
    fetch_page: Callable[[str | None], Awaitable[Page[Any]]], limit: int | None, what: str
) -> list[Any]:
    """Page through a keyset listing, newest first, up to `limit` rows (None: all)."""
    progress = Progress(what)
    rows: list[Any] = []
    after: str | None = None
    several_pages = False
    try:
        while True:
            page = await fetch_page(after)
            rows.extend(page.items)
            total = page.total_count if limit is None else min(limit, page.total_count)
            several_pages = several_pages or page.has_next_page
            if several_pages:
                progress.update(min(len(rows), total), total)
            if not page.has_next_page or (limit is not None and len(rows) >= limit):
                break
            after = page.cursors[-1]
    finally:
        progress.close()
    return rows if limit is None else rows[:limit]


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, columns padded to their widest cell."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def _when(value: datetime | None, never: str = "never") -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else never


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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


# ---------------------------------------------------------------------------------------------
# mailkeys keys list TEAM / keys revoke ID...
# ---------------------------------------------------------------------------------------------


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
                _shorten(row["name"], 24),
                row["type"],
                row["preset"] or _shorten(",".join(row["permissions"]), 40),
                row["status"],
                _when(key.last_used_at),
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


# ---------------------------------------------------------------------------------------------
# mailkeys team limits TEAM [--set RESOURCE=N ...]
# ---------------------------------------------------------------------------------------------


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


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return int(text)


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


# ---------------------------------------------------------------------------------------------
# mailkeys audit TEAM
# ---------------------------------------------------------------------------------------------


def audit(args: argparse.Namespace) -> int:
    """Print a team's audit trail, newest first."""
    limit = None if args.limit == 0 else args.limit

    async def work() -> list[AuditEvent]:
        return await fetch_all(
            lambda after: operator_resolvers.list_team_events(
                OPERATOR, args.team, min(MAX_PAGE_SIZE, limit or MAX_PAGE_SIZE), after
            ),
            limit,
            "events",
        )

    events = run(work)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "created_at": e.created_at.isoformat(),
                        "actor": e.actor,
                        "action": e.action,
                        "target_type": e.target_type,
                        "target_id": e.target_id,
                        "outcome": e.outcome,
                        "details": e.details,
                    }
                    for e in events
                ],
                indent=2,
            )
        )
        return 0
    rows = [
        [
            e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            f"{e.target_type}:{e.target_id}" if e.target_id else e.target_type,
            e.outcome,
            _shorten(json.dumps(e.details, sort_keys=True, ensure_ascii=False), 60)
            if e.details
            else "",
        ]
        for e in events
    ]
    print(render_table(["TIME (UTC)", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAILS"], rows))
    print(f"{len(events)} event(s)")
    return 0


# ---------------------------------------------------------------------------------------------
# mailkeys schema export [FILE]
# ---------------------------------------------------------------------------------------------


def schema_export(args: argparse.Namespace) -> int:
    """Write the schema in SDL to FILE, or to stdout."""
    sdl = schema_sdl()
    if args.file is None or args.file == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.file).write_text(sdl, encoding="utf-8")
        print(f"wrote {args.file}", file=sys.stderr)
    return 0


def guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Domain errors become a one-line message and exit status 1 (2 for bad input)."""

    def run_handler(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (InvalidInputError, DatabaseBehindError) as error:
            print(f"mailkeys: {error}", file=sys.stderr)
            return 2
        except MailkeysError as error:
            print(f"mailkeys: {error}", file=sys.stderr)
            return 1

    return run_handler


def register(commands: Subcommands[Any], team_commands: Subcommands[Any]) -> None:
    """Add the operator and developer commands to the `mailkeys` parser."""
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
    list_parser.set_defaults(handler=guarded(keys_list))

    revoke_parser = keys_commands.add_parser(
        "revoke",
        help="revoke keys now",
        description="Revoke keys now (idempotent). Audited with the operator as actor. "
        "Exits 1 if an id is unknown.",
    )
    revoke_parser.add_argument("ids", nargs="+", metavar="ID", help="key ids")
    revoke_parser.set_defaults(handler=guarded(keys_revoke))

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
    limits_parser.set_defaults(handler=guarded(team_limits))

    audit_parser = commands.add_parser(
        "audit",
        help="a team's audit trail",
        description="A team's audit trail, newest first. Never a secret.",
    )
    audit_parser.add_argument("team", help="the team id")
    audit_parser.add_argument(
        "--limit", type=_count, default=50, help="at most this many events (50; 0 = all)"
    )
    audit_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit_parser.set_defaults(handler=guarded(audit))

    schema_parser = commands.add_parser(
        "schema", help="the GraphQL schema", description="The GraphQL schema (SDL)."
    )
    schema_commands = schema_parser.add_subparsers(dest="schema_command", required=True)
    export_parser = schema_commands.add_parser(
        "export",
        help="write the schema as SDL",
        description="Write the schema in SDL to FILE (stdout if absent), e.g. "
        "`mailkeys schema export schema.graphql`.",
    )
    export_parser.add_argument("file", nargs="?", help="output file (default: stdout)")
    export_parser.set_defaults(handler=schema_export)
