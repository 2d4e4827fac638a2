"""Every way a `mailkeys` command fails is one line on stderr and a documented exit code.

The commands run in this process (`mailkeys.cli.main`) against a SQLite file of their own;
PostgreSQL cases use this machine's server. One test starts real processes: a command that
hangs must be stopped from outside.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from mailkeys.cli import main
from mailkeys.cli import schema as schema_command
from mailkeys.cli.serve import mailkeys_command
from tests.conftest import OPERATOR_TOKEN
from tests.served import free_port, server_env
from tests.services import PrivatePostgres

# Every migration the code ships, in order: what an empty database lacks.
MIGRATIONS = Path(__file__).resolve().parents[1] / "mailkeys" / "migrations"


OK, REFUSED, BAD_INPUT, BUG = 0, 1, 2, 70
PASSWORD = "hunter2-not-for-logs"


@dataclass
class Outcome:
    """What a command returned and printed."""

    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The one line on stderr, asserting there is exactly one and no traceback."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("mailkeys: "), self.err
        return lines[0]


Cli = Callable[..., Outcome]


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """Run `mailkeys ARGS` in this process, in `tmp_path`, with its own SQLite file."""
    for name in list(os.environ):
        if name.startswith("MAILKEYS_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    base = server_env(tmp_path)

    def run(*args: str, **env: str) -> Outcome:
        with monkeypatch.context() as scoped:
            for name, value in {**base, **env}.items():
                if name.startswith("MAILKEYS_"):
                    scoped.setenv(name, value)
            capsys.readouterr()
            code = main(list(args))
            printed = capsys.readouterr()
        return Outcome(code, printed.out, printed.err)

    # `main` configures logging to the stderr of the moment (this test's capture): put the
    # root logger back, so that later tests do not write to a closed stream.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # Tortoise caches each model's INSERT per connection name, not per dialect: when the
    # suite runs on PostgreSQL, a command on SQLite would send `$1` placeholders, and the
    # next test on PostgreSQL this file's `?`.
    EXECUTOR_CACHE.clear()
    try:
        yield run
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        EXECUTOR_CACHE.clear()


def test_a_sqlite_file_in_a_missing_directory_fails_at_once_naming_the_path(
    tmp_path: Path,
) -> None:
    # given a database URL whose directory does not exist
    missing = tmp_path / "nonexistent" / "dir" / "db.sqlite3"
    env = server_env(tmp_path, MAILKEYS_DATABASE_URL=f"sqlite://{missing}")
    commands = [["serve"], ["migrate"], ["keys", "list", "team_x"], ["policy", "export"]]

    # when each command runs as the console script would (a hang must be stopped from outside)
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "mailkeys.cli", *command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    finished = []
    for process in started:
        try:
            finished.append((process.wait(timeout=30), *process.communicate()))
        except subprocess.TimeoutExpired:
            for each in started:
                each.kill()
                each.wait()
            pytest.fail("a command hung on a SQLite file in a missing directory")

    # then each says at once which directory is missing, in one line, and exits 2
    for command, (code, out, err) in zip(commands, finished, strict=True):
        assert (code, out) == (BAD_INPUT, ""), (command, err)
        assert err.splitlines() == [
            f"mailkeys: cannot open the SQLite database {missing}: "
            f"the directory {missing.parent} does not exist"
        ]


def test_a_sqlite_path_that_cannot_be_a_database_is_named(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, but long enough to have a header\n" * 4)

    directory = cli("migrate", MAILKEYS_DATABASE_URL=f"sqlite://{tmp_path}")
    text = cli("keys", "list", "team_x", MAILKEYS_DATABASE_URL=f"sqlite://{tmp_path}/notes.txt")

    assert directory.code == text.code == BAD_INPUT
    assert directory.line == (
        f"mailkeys: cannot open the SQLite database {tmp_path}: unable to open database file"
    )
    assert text.line == (
        f"mailkeys: cannot open the SQLite database {tmp_path}/notes.txt: file is not a database"
    )


@pytest.mark.parametrize(
    "command",
    [["migrate"], ["serve"], ["keys", "list", "team_x"], ["team", "create", "Acme"]],
)
def test_an_unreachable_database_is_named_without_its_password(
    cli: Cli, command: list[str]
) -> None:
    url = f"postgres://mailkeys:{PASSWORD}@127.0.0.1:{free_port()}/mailkeys"

    failed = cli(*command, MAILKEYS_DATABASE_URL=url)

    assert failed.code == BAD_INPUT
    assert failed.line.startswith(
        "mailkeys: cannot reach the database postgres://mailkeys:***@127.0.0.1:"
    )
    assert PASSWORD not in failed.err
    assert "behind" not in failed.err


@pytest.fixture
def empty_postgres_database(postgres_server: PrivatePostgres) -> Iterator[str]:
    """A new database without any table on the session's own PostgreSQL; yields its URL."""
    postgres_server.ensure_running()
    name = f"mk_cli_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.url()
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server.url(name)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _with_password(url: str, user: str = "postgres") -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{PASSWORD}@{rest.partition('@')[2]}"


@pytest.mark.scaleout
def test_a_missing_postgres_database_is_named(cli: Cli, empty_postgres_database: str) -> None:
    missing = _with_password(empty_postgres_database.rsplit("/", 1)[0] + "/mk_cli_missing")

    for command in (["migrate"], ["keys", "list", "team_x"]):
        failed = cli(*command, MAILKEYS_DATABASE_URL=missing)

        assert failed.code == BAD_INPUT
        assert failed.line == (
            f"mailkeys: the database {missing.replace(PASSWORD, '***')} "
            "does not exist: create it, then run `mailkeys migrate`"
        )


@pytest.mark.scaleout
def test_a_database_that_refuses_the_credentials_says_so(
    cli: Cli, empty_postgres_database: str
) -> None:
    refused = _with_password(empty_postgres_database, user="mk_nobody")

    failed = cli("keys", "list", "team_x", MAILKEYS_DATABASE_URL=refused)

    assert failed.code == BAD_INPUT
    assert failed.line.startswith(f"mailkeys: the database {refused.replace(PASSWORD, '***')} ")
    assert 'refused the connection: role "mk_nobody" does not exist' in failed.line
    assert PASSWORD not in failed.err


@pytest.mark.scaleout
@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["team", "create", "Acme"],
        ["team", "limits", "team_x"],
        ["keys", "list", "team_x"],
        ["keys", "revoke", "key_x"],
        ["audit", "team_x"],
        ["policy", "export"],
        ["policy", "test", "table.csv"],
    ],
)
def test_an_unmigrated_database_asks_for_migrate(
    cli: Cli, empty_postgres_database: str, tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "table.csv").write_text(
        "credential,preset,permissions,mailboxes,operation,resource,expect\n"
    )
    url = _with_password(empty_postgres_database)

    failed = cli(*command, MAILKEYS_DATABASE_URL=url)

    assert failed.code == BAD_INPUT
    where = url.replace(PASSWORD, "***")
    migrations = sorted(path.stem for path in MIGRATIONS.glob("0*.py"))
    assert failed.line == (
        f"mailkeys: the database {where} is behind: {len(migrations)} migration(s) not applied "
        f"({', '.join(migrations)}): run `mailkeys migrate`"
    )


@pytest.mark.scaleout
def test_migrate_then_brings_an_empty_database_up_to_date(
    cli: Cli, empty_postgres_database: str
) -> None:
    url = _with_password(empty_postgres_database)

    migrated = cli("migrate", MAILKEYS_DATABASE_URL=url)
    exported = cli("policy", "export", MAILKEYS_DATABASE_URL=url)

    assert migrated.code == OK, migrated.err
    assert PASSWORD not in migrated.out
    assert exported.code == OK, exported.err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"mysql://mailkeys:{PASSWORD}@localhost/mailkeys",
            "mailkeys: the database URL mysql://mailkeys:***@localhost/mailkeys is not "
            "supported: use sqlite://FILE or postgres://USER@HOST:PORT/DATABASE",
        ),
        (
            "foo://x",
            "mailkeys: the database URL foo://x is not supported: use sqlite://FILE or "
            "postgres://USER@HOST:PORT/DATABASE",
        ),
        (
            "mailkeys.sqlite3",
            "mailkeys: the database URL mailkeys.sqlite3 is not supported: use sqlite://FILE "
            "or postgres://USER@HOST:PORT/DATABASE",
        ),
        (
            f"postgres://mailkeys:{PASSWORD}@localhost:notaport/mailkeys",
            "mailkeys: the database URL postgres://mailkeys:***@localhost:notaport/mailkeys "
            "is not valid: port is not an integer",
        ),
        ("sqlite://", "mailkeys: the database URL sqlite:// is not valid: it names no file"),
    ],
)
def test_an_unusable_database_url_is_one_line(cli: Cli, url: str, expected: str) -> None:
    for command in (["keys", "list", "team_x"], ["migrate"], ["serve"], ["policy", "export"]):
        failed = cli(*command, MAILKEYS_DATABASE_URL=url)

        assert failed.code == BAD_INPUT
        assert failed.line == expected


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MAILKEYS_ARGON2_TIME_COST", "two", "MAILKEYS_ARGON2_TIME_COST must be an integer"),
        ("MAILKEYS_ARGON2_TIME_COST", "0", "MAILKEYS_ARGON2_TIME_COST must be at least 1"),
        ("MAILKEYS_ARGON2_MEMORY_KIB", "-5", "MAILKEYS_ARGON2_MEMORY_KIB must be at least 8"),
        ("MAILKEYS_ARGON2_MAX_CONCURRENCY", "0", "must be at least 1"),
        ("MAILKEYS_LOG_FORMAT", "xml", "MAILKEYS_LOG_FORMAT must be auto, json or text"),
    ],
)
def test_a_bad_environment_value_is_named(
    cli: Cli, variable: str, value: str, expected: str
) -> None:
    for command in (["team", "create", "Acme"], ["serve"], ["keys", "list", "team_x"]):
        failed = cli(*command, **{variable: value})

        assert failed.code == BAD_INPUT
        assert expected in failed.line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "the following arguments are required: COMMAND (see 'mailkeys --help')"),
        (["nosuch"], "argument COMMAND: invalid choice: 'nosuch'"),
        (["team"], "the following arguments are required: team_command"),
        (["team", "create"], "the following arguments are required: name"),
        (["audit", "team_x", "--limit", "-3"], "expected a number >= 0, got '-3'"),
        (["team", "limits", "team_x", "--set", "bananas=3"], "unknown resource 'bananas'"),
        (["serve", "--port", "99999"], "argument --port: expected a TCP port (1-65535)"),
        (["serve", "--workers", "0"], "argument --workers: expected a number >= 1, got '0'"),
        (["policy", "import", "x.csv", "--expected-version", "two"], "invalid int value"),
    ],
)
def test_a_bad_argument_is_one_line(cli: Cli, args: list[str], expected: str) -> None:
    failed = cli(*args)

    assert failed.code == BAD_INPUT
    assert expected in failed.line


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "mailkeys: name must not be empty."),
        ("   ", "mailkeys: name must not be empty."),
        ("a" * 300, "mailkeys: name must be at most 200 characters."),
    ],
)
def test_a_refused_team_name_is_bad_input(cli: Cli, name: str, expected: str) -> None:
    failed = cli("team", "create", name)

    assert (failed.code, failed.out) == (BAD_INPUT, "")
    assert failed.line == expected


def test_unknown_ids_are_refusals(cli: Cli) -> None:
    for command in (["keys", "list", "team_x"], ["audit", "team_x"], ["team", "limits", "x"]):
        failed = cli(*command)

        assert failed.code == REFUSED
        assert failed.line == "mailkeys: Team not found."

    revoked = cli("keys", "revoke", "nosuchkey00000000")
    assert (revoked.code, revoked.out) == (REFUSED, "nosuchkey00000000: not found\n")


def test_unreadable_and_unwritable_files_are_named(cli: Cli, tmp_path: Path) -> None:
    outcomes = {
        "schema": cli("schema", "export", str(tmp_path / "missing" / "schema.graphql")),
        "export": cli("policy", "export", "--output", str(tmp_path)),
        "import": cli("policy", "import", "missing.csv"),
        "test": cli("policy", "test", "missing.csv"),
    }

    assert {name: o.code for name, o in outcomes.items()} == dict.fromkeys(outcomes, BAD_INPUT)
    assert outcomes["schema"].line == (
        f"mailkeys: cannot write {tmp_path / 'missing' / 'schema.graphql'}: "
        "No such file or directory"
    )
    assert outcomes["export"].line == f"mailkeys: cannot write {tmp_path}: Is a directory"
    assert outcomes["import"].line == "mailkeys: cannot read missing.csv: No such file or directory"
    assert outcomes["test"].line == "mailkeys: cannot read missing.csv: No such file or directory"


def test_an_unusable_policy_configuration_is_named(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "model.conf").write_text("not a casbin model\n")

    missing = cli("keys", "list", "team_x", MAILKEYS_POLICY_MODEL="missing.conf")
    broken = cli("keys", "list", "team_x", MAILKEYS_POLICY_MODEL="model.conf")

    assert missing.code == broken.code == BAD_INPUT
    assert missing.line == "mailkeys: cannot open missing.conf: No such file or directory"
    assert broken.line.startswith("mailkeys: the policy configuration is unusable: ")


def test_a_database_locked_by_another_process_is_named(cli: Cli, tmp_path: Path) -> None:
    # given a migrated file, and another process holding its write lock
    path = tmp_path / "locked.sqlite3"
    url = f"sqlite://{path}?busy_timeout=100"
    assert cli("migrate", MAILKEYS_DATABASE_URL=url).code == OK
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")

        # when a command needs to write
        failed = cli("team", "create", "Acme", MAILKEYS_DATABASE_URL=url)
    finally:
        holder.close()

    # then it says so, and nothing was half-done
    assert failed.code == BAD_INPUT
    assert failed.line == (
        f"mailkeys: the database sqlite://{path}?busy_timeout=100 is locked by another "
        "process (a running server or command): try again"
    )
    assert cli("team", "create", "Acme", MAILKEYS_DATABASE_URL=url).code == OK


def test_serve_refuses_several_workers_on_sqlite(cli: Cli) -> None:
    failed = cli("serve", "--workers", "2")

    assert failed.code == BAD_INPUT
    assert failed.line == (
        "mailkeys: --workers 2 needs PostgreSQL: SQLite lets one process write at a time, "
        "so several workers would refuse concurrent writes; set MAILKEYS_DATABASE_URL="
        "postgres://... or serve with --workers 1 (see docs/cli.md)"
    )


def test_serve_refuses_a_port_in_use(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        failed = cli("serve", "--port", str(port))

    assert failed.code == BAD_INPUT
    assert failed.line == (
        f"mailkeys: cannot listen on 127.0.0.1:{port}: address already in use "
        "(another server is running there? choose one with --port)"
    )
    assert failed.out == ""


def test_serve_refuses_a_host_it_cannot_bind(cli: Cli) -> None:
    failed = cli("serve", "--host", "no-such-host.invalid")

    assert failed.code == BAD_INPUT
    assert failed.line.startswith("mailkeys: cannot listen on no-such-host.invalid:8000: ")


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a bug in a command (a fault injected where the command builds its output)
    def broken() -> str:
        raise RuntimeError(f"internal detail {OPERATOR_TOKEN}")

    monkeypatch.setattr(schema_command, "schema_sdl", broken)

    failed = cli("schema", "export")
    debugged = cli("schema", "export", MAILKEYS_DEBUG="1")

    assert failed.code == debugged.code == BUG
    assert failed.line == (
        "mailkeys: unexpected error (RuntimeError), probably a bug: "
        "rerun with MAILKEYS_DEBUG=1 to see the traceback"
    )
    assert OPERATOR_TOKEN not in failed.err
    assert debugged.err.startswith("Traceback (most recent call last):")
    assert debugged.err.splitlines()[-1] == failed.line


def test_a_failure_that_is_explained_shows_its_traceback_only_with_debug(cli: Cli) -> None:
    debugged = cli("keys", "list", "team_x", MAILKEYS_DEBUG="1")

    assert debugged.code == REFUSED
    assert "Traceback (most recent call last):" in debugged.err
    assert debugged.err.splitlines()[-1] == "mailkeys: Team not found."


def _venv(root: Path, with_script: bool) -> Path:
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("")
    if with_script:
        script = bin_dir / "mailkeys"
        script.write_text("#!/bin/sh\n")
        script.chmod(0o755)
    return python


def test_the_banner_names_a_mailkeys_command_that_works_from_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    python = _venv(tmp_path / "checkout", with_script=True)
    bare = _venv(tmp_path / "elsewhere", with_script=False)

    assert mailkeys_command(tmp_path / "checkout", str(python)) == ".venv/bin/mailkeys"
    assert mailkeys_command(python.parent, str(python)) == "./mailkeys"
    assert mailkeys_command(tmp_path, str(python)) == "checkout/.venv/bin/mailkeys"
    assert mailkeys_command(tmp_path / "elsewhere", str(python)) == str(python.parent / "mailkeys")
    assert mailkeys_command(tmp_path / "elsewhere", str(bare)) == ".venv/bin/python -m mailkeys.cli"

    # on PATH, the plain name is what works
    monkeypatch.setenv("PATH", f"{python.parent}:/usr/bin:/bin")
    assert mailkeys_command(tmp_path / "elsewhere", str(python)) == "mailkeys"
