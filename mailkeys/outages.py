"""Recognising a database that does not answer (restart, failover, wrong address), or that
another process holds locked (SQLite: one writer at a time, even across servers).

Such a fault is not the client's and not a bug: requests answer UNAVAILABLE (retryable),
and the error mapping, the credential check and authentication all ask `is_unavailable`.
"""

from __future__ import annotations

import socket
import sqlite3

import asyncpg
from tortoise.exceptions import DBConnectionError

_UNAVAILABLE = (
    DBConnectionError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.CannotConnectNowError,
)


def is_unavailable(error: BaseException) -> bool:
    """True if `error` (or what caused it) means the database is unreachable right now, or
    locked by another process.

    Tortoise wraps driver errors in its own OperationalError, so the chain is walked.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE) or is_locked(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def is_locked(error: BaseException) -> bool:
    """True if `error` itself is SQLite's SQLITE_BUSY: another connection holds the write lock
    (past busy_timeout, or at once when a transaction that has read must write after another
    process wrote: SQLITE_BUSY_SNAPSHOT, an extended code with SQLITE_BUSY in its low byte)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF) == sqlite3.SQLITE_BUSY
    )
