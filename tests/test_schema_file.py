"""`schema.graphql` at the repository root is the live schema, for frontends' code generators."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema as parse_sdl

from mailkeys.schema.sdl import schema_sdl
from tests.served import server_env

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


@pytest.mark.process
def test_schema_export_command_writes_the_file_and_stdout(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mailkeys.cli", "schema", "export"]
    env = server_env(tmp_path)

    to_file = subprocess.run(
        [*command, str(tmp_path / "out.graphql")], env=env, capture_output=True, check=True
    )
    to_stdout = subprocess.run(command, env=env, capture_output=True, text=True, check=True)

    assert to_file.stdout == b""
    assert (tmp_path / "out.graphql").read_text(encoding="utf-8") == schema_sdl()
    assert to_stdout.stdout == schema_sdl()
