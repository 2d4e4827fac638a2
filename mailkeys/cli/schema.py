"""`mailkeys schema export [FILE]`: the GraphQL schema as SDL."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mailkeys.cli.failures import write_file
from mailkeys.cli.output import Subcommands
from mailkeys.schema.sdl import schema_sdl


def schema_export(args: argparse.Namespace) -> int:
    """Write the schema in SDL to FILE, or to stdout."""
    sdl = schema_sdl()
    if args.file is None or args.file == "-":
        sys.stdout.write(sdl)
    else:
        write_file(args.file, sdl)
        print(f"wrote {args.file}", file=sys.stderr)
    return 0


def register(commands: Subcommands[Any]) -> None:
    """Add `mailkeys schema export`."""
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
