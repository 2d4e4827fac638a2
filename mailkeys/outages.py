"""Recognising a database that does not answer (restart, failover, wrong address).

Such a fault is not the client's and not a bug: requests answer UNAVAILABLE (retryable),
and the error mapping, the credential check and authentication all ask `is_unavailable`.
"""

from __future__ import annotations

import asyncpg
from tortoise.exceptions import DBConnectionError

_UNAVAILABLE = (
    DBConnectionError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.CannotConnectNowError,
)


def is_unavailable(error: BaseException) -> bool:
    """True if `error` (or what caused it) means the database is unreachable right now.

    Tortoise wraps driver errors in its own OperationalError, so the chain is walked.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
