"""The `mailkeys` command: serve the API, and operator tasks that need no GraphQL.

Each command group is a module of this package with a `register(commands)` function.
Configuration comes from MAILKEYS_* variables (see docs/operating.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mailkeys.cli import audit, database, keys, policy, schema, serve, teams
from mailkeys.telemetry.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="mailkeys",
        description="mailkeys: API keys, mailbox passwords and Casbin policies over GraphQL. "
        "Configuration comes from MAILKEYS_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (serve, database, teams, keys, audit, schema, policy):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mailkeys` console script."""
    # Commands other than `serve` report on stdout; their logs are warnings and errors only.
    configure_logging("warning")
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
