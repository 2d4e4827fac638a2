"""Why the configured database cannot be used, in one sentence an operator can act on.

A command checks the URL (and opens a SQLite file) before Tortoise sees it, then asks the
database one question before any other. Tortoise 1.1.9 swallows the first connection error
while it reads the applied migrations (so an unreachable server looked like a database that
is behind), and a failed open leaves its connection lock held, so the next query waited
forever; aiosqlite 0.22 also leaves a thread behind that prints a traceback at exit.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import ConfigurationError

from mailkeys.outages import is_locked, is_unavailable

# The schemes whose drivers mailkeys installs (Tortoise knows more, without their drivers).
SUPPORTED_SCHEMES = frozenset({"sqlite", "postgres", "postgresql", "asyncpg"})
SUPPORTED = "use sqlite://FILE or postgres://USER@HOST:PORT/DATABASE"


class DatabaseUnusableError(RuntimeError):
    """Raised when the configured database cannot serve a command; the message says why,
    naming the database by its URL without the password."""


def safe_url(url: str) -> str:
    """The database URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}{sep}{user}{':***' if has_password else ''}@{host}"


def check_url(url: str) -> None:
    """Refuse a URL no installed driver serves, or one that names no database; for SQLite,
    a file that cannot be opened (SQLite creates the file, never its directory)."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in SUPPORTED_SCHEMES:
        raise DatabaseUnusableError(
            f"the database URL {safe_url(url)} is not supported: {SUPPORTED}"
        )
    try:
        expanded = expand_db_url(url)
    except (ConfigurationError, ValueError) as error:
        reason = "it names no file" if scheme == "sqlite" else _sentence(str(error))
        raise DatabaseUnusableError(
            f"the database URL {safe_url(url)} is not valid: {reason}"
        ) from None
    if scheme == "sqlite":
        _check_sqlite_file(expanded["credentials"]["file_path"])


def _check_sqlite_file(file_path: str) -> None:
    if file_path == ":memory:":
        return
    directory = Path(file_path).parent
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist"
        raise DatabaseUnusableError(
            f"cannot open the SQLite database {file_path}: the directory {directory} {problem}"
        )
    # Open it as the command will (creating it if absent), synchronously: a file that is a
    # directory, unwritable, or not a database is named here, not by aiosqlite's thread.
    try:
        connection = sqlite3.connect(file_path, timeout=0)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        if not is_locked(error):  # a lock is another process's, and may pass: let it wait
            raise DatabaseUnusableError(
                f"cannot open the SQLite database {file_path}: {error}"
            ) from None


async def probe(url: str) -> None:
    """Ask the database one question, so that its first failure is the one reported."""
    try:
        await Tortoise.get_connection("default").execute_query("SELECT 1")
    except Exception as error:
        raise DatabaseUnusableError(explain(url, error)) from error


def explain(url: str, error: BaseException) -> str:
    """One sentence for a failure to use the database at `url`."""
    where = safe_url(url)
    for cause in _chain(error):
        if isinstance(cause, asyncpg.InvalidCatalogNameError):
            return f"the database {where} does not exist: create it, then run `mailkeys migrate`"
        if isinstance(cause, asyncpg.InvalidAuthorizationSpecificationError):
            # The server's reason names the role, never the password.
            return f"the database {where} refused the connection: {cause}"
        if is_locked(cause):
            return (
                f"the database {where} is locked by another process "
                "(a running server or command): try again"
            )
        if isinstance(cause, sqlite3.Error):
            path = expand_db_url(url)["credentials"]["file_path"]
            return f"cannot open the SQLite database {path}: {cause}"
        if isinstance(cause, socket.gaierror):
            return f"cannot reach the database {where}: unknown host ({cause.strerror})"
    if is_unavailable(error):
        return f"cannot reach the database {where}: {_unreachable_reason(error)}"
    # The type only: a driver's message might repeat what it was given.
    return f"cannot use the database {where}: {type(error).__name__}"


def _unreachable_reason(error: BaseException) -> str:
    for cause in _chain(error):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the server running, and is this its port?)"
        if isinstance(cause, TimeoutError):
            return "no answer in time"
        if isinstance(cause, OSError) and cause.strerror:
            return _sentence(cause.strerror)
    return "no answer"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sentence(text: str) -> str:
    return text[:1].lower() + text[1:]
