"""The `mailkeys` command: serve the API, and operator tasks that need no GraphQL.

Each command group is a module of this package with a `register(commands)` function. Every
handler runs through `main`, the one place where a failure becomes one line on stderr and an
exit code (see `failures` and docs/cli.md). Configuration comes from MAILKEYS_* variables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from mailkeys.cli import audit, database, keys, policy, schema, serve, teams
from mailkeys.cli.failures import BAD_INPUT, report
from mailkeys.telemetry.logs import configure_logging


class UsageError(Exception):
    """Raised by the parser for a wrong command line; the message is one line."""


class Parser(argparse.ArgumentParser):
    """argparse, but a wrong command line is one line pointing at --help, not the usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = Parser(
        prog="mailkeys",
        description="mailkeys: API keys, mailbox passwords and Casbin policies over GraphQL. "
        "Configuration comes from MAILKEYS_* environment variables. Exit codes: 0 ok, "
        "1 refused or a failed check, 2 bad input or an unusable environment, 70 a bug "
        "(MAILKEYS_DEBUG=1 shows its traceback); see docs/cli.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (serve, database, teams, keys, audit, schema, policy):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mailkeys` console script; returns the exit code."""
    # Commands other than `serve` report on stdout; their logs are warnings and errors only.
    configure_logging("warning")
    try:
        args = build_parser().parse_args(argv)
    except UsageError as wrong:
        print(f"mailkeys: {wrong}", file=sys.stderr)
        return BAD_INPUT
    try:
        return int(args.handler(args))
    except (Exception, KeyboardInterrupt) as error:
        return report(error)


if __name__ == "__main__":
    sys.exit(main())
