"""`mailkeys audit TEAM`: a team's audit trail, newest first."""

from __future__ import annotations

import argparse
import json
from datetime import UTC
from typing import Any

from mailkeys.cli.output import Subcommands, fetch_all, render_table, run, shorten
from mailkeys.models import AuditEvent
from mailkeys.pages import MAX_PAGE_SIZE
from mailkeys.policy import OPERATOR
from mailkeys.resolvers import operator as operator_resolvers


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return int(text)


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
            shorten(json.dumps(e.details, sort_keys=True, ensure_ascii=False), 60)
            if e.details
            else "",
        ]
        for e in events
    ]
    print(render_table(["TIME (UTC)", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAILS"], rows))
    print(f"{len(events)} event(s)")
    return 0


def register(commands: Subcommands[Any]) -> None:
    """Add `mailkeys audit`."""
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
    audit_parser.set_defaults(handler=audit)
