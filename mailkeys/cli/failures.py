"""How a command fails: one line on stderr, `mailkeys: <what went wrong>`, and an exit code.

Exit codes (docs/cli.md): 0 success; 1 a refusal or a failed check (not found, forbidden,
conflict, rules that do not fit, table mismatches); 2 bad input or an unusable environment
(a wrong argument or variable, an unreadable or unwritable file, a database that cannot be
reached, opened, or is behind or locked, a port in use); 70 an unexpected error, which is
a bug: its line names only the exception's type (its message could hold anything), and
MAILKEYS_DEBUG=1 prints the traceback before the line, for every failure.
"""

from __future__ import annotations

import os
import sys
import traceback

from mailkeys.errors import (
    InvalidInputError,
    MailkeysError,
    PolicyConfigurationError,
    ServiceUnavailableError,
)
from mailkeys.models.database import DatabaseUnusableError
from mailkeys.settings import SettingsError

OK, REFUSED, BAD_INPUT = 0, 1, 2
BUG = 70  # EX_SOFTWARE in sysexits.h: "an internal software error has been detected"
INTERRUPTED = 130  # what a shell reports for a command stopped by Ctrl-C
DEBUG_VARIABLE = "MAILKEYS_DEBUG"


class CommandError(Exception):
    """Raised by a command for a failure it has put in words itself."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def explain(error: BaseException) -> tuple[int, str]:
    """The exit code and the line (without the `mailkeys: ` prefix) for a failed command."""
    if isinstance(error, CommandError):
        return error.exit_code, str(error)
    if isinstance(error, SettingsError | DatabaseUnusableError):
        return BAD_INPUT, str(error)
    if isinstance(error, PolicyConfigurationError):
        return BAD_INPUT, f"the policy configuration is unusable: {error}"
    if isinstance(error, InvalidInputError | ServiceUnavailableError):
        return BAD_INPUT, str(error)
    if isinstance(error, MailkeysError):
        return REFUSED, str(error)
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        # A file named by configuration (a policy model, say): commands name their own.
        return BAD_INPUT, f"cannot open {error.filename}: {error.strerror}"
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED, "interrupted"
    return BUG, (
        f"unexpected error ({type(error).__name__}), probably a bug: "
        f"rerun with {DEBUG_VARIABLE}=1 to see the traceback"
    )


def report(error: BaseException) -> int:
    """Print the one line for `error` (after its traceback when debugging); its exit code."""
    if os.environ.get(DEBUG_VARIABLE, "").strip().lower() in {"1", "true", "yes", "on"}:
        traceback.print_exception(error, file=sys.stderr)
    code, message = explain(error)
    print(f"mailkeys: {message}", file=sys.stderr)
    return code


def read_file(path: str) -> str:
    """The text of a file the user named."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise CommandError(f"cannot read {path}: not UTF-8 text") from error


def write_file(path: str, text: str) -> None:
    """Write a file the user named."""
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from error
