"""Tracebacks for the log that never hold what a client sent.

An exception's message often quotes its input (`invalid literal for int(): 'smx_root_…'`, an
ORM's `Length of '…' 40 > 32`), and so may the messages of the exceptions it was raised from.
A traceback here has each exception's type and the frames it went through (file, line,
function and source line: code, not data), and never a message, so a fault still says where
it happened while a pasted token or password cannot reach the log through it.
"""

from __future__ import annotations

import traceback

WITHHELD = "(message withheld: it may quote a client's input)"


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or during, oldest first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain[::-1]


def error_name(error: BaseException) -> str:
    """The exception's class, qualified by its module (`builtins.KeyError`)."""
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def redacted_traceback(error: BaseException) -> str:
    """Python's traceback of `error` and its chain, without any exception's message."""
    parts: list[str] = []
    for index, exc in enumerate(_chain(error)):
        if index:
            parts.append("\nWhile handling or because of it, another exception occurred:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        parts.append(f"{error_name(exc)} {WITHHELD}\n")
    return "".join(parts).rstrip("\n")
