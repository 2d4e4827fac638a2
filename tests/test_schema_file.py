"""`schema.graphql` at the repository root is the live schema, for frontends' code generators."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as parse_sdl

from mailkeys.schema.sdl import schema_sdl
from tests.cli import Cli

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_file_is_the_live_schema() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    assert committed == schema_sdl(), (
        "schema.graphql differs from the live schema: run "
        "`mailkeys schema export schema.graphql` and commit the result"
    )


def test_schema_file_is_valid_sdl_with_the_operations() -> None:
    schema = parse_sdl(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    assert {"viewer", "apiKeys", "auditEvents"} <= set(schema.query_type.fields)
    assert {"apiKeyCreate", "apiKeyRotate", "apiKeyRevoke"} <= set(schema.mutation_type.fields)


def test_schema_export_command_writes_the_file_and_stdout(tmp_path: Path, cli: Cli) -> None:
    to_file = cli("schema", "export", str(tmp_path / "out.graphql"))
    to_stdout = cli("schema", "export")

    assert (to_file.returncode, to_stdout.returncode) == (0, 0)
    assert to_file.stdout == ""
    assert (tmp_path / "out.graphql").read_text(encoding="utf-8") == schema_sdl()
    assert to_stdout.stdout == schema_sdl()
