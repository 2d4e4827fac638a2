"""The `mailkeys` command run in the test's own process (a pytest plugin: see conftest).

Each command is `mailkeys.cli.main(argv)` with `MAILKEYS_*` variables naming a SQLite file in
the test's directory, its output captured; it runs its database work with `asyncio.run`, so
tests that call it are plain (synchronous) tests. One real console-script process is left to
tests/test_serve_process.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailkeys.cli import main
from tests.served import server_env, statements_of_its_own


@dataclass(frozen=True)
class Completed:
    """What a command did: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Completed]


@contextmanager
def logging_kept() -> Iterator[None]:
    """Undo the logging configuration a command installs, so that later tests see pytest's."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = {
        id(logger): (logger.level, list(logger.handlers), logger.propagate) for logger in loggers
    }
    try:
        yield
    finally:
        for logger in [logging.getLogger(), *manager.loggerDict.values()]:
            if not isinstance(logger, logging.Logger):
                continue
            level, handlers, propagate = saved.get(id(logger), (logging.NOTSET, [], True))
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate


def command_env(workdir: Path) -> dict[str, str]:
    """The `MAILKEYS_*` variables of a command run in `workdir` (as for a test server)."""
    return {k: v for k, v in server_env(workdir).items() if k.startswith("MAILKEYS_")}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `mailkeys ARGS` in this process, in `tmp_path`, on the SQLite file there."""
    for name in list(os.environ):
        if name.startswith("MAILKEYS_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    for name, value in command_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Completed:
        capsys.readouterr()  # what came before is not this command's
        with logging_kept(), statements_of_its_own():
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse refuses bad arguments this way
                code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return Completed(code, out, err)

    return run
