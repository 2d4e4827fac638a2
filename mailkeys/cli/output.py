"""What every command shares: running its database work, paging, tables, progress.

Commands print results on stdout and progress on stderr; a failure is raised, and `main`
turns it into one line on stderr and an exit code (see `failures`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

from mailkeys.cli.database import command_database
from mailkeys.pages import Page
from mailkeys.settings import Settings

T = TypeVar("T")
Subcommands = argparse._SubParsersAction  # argparse's own (private) name for a subparser group


class Progress:
    """Progress of a long operation on stderr: one rewritten line on a terminal, else lines."""

    def __init__(self, what: str, stream: TextIO | None = None) -> None:
        self._what = what
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._shown = False

    def update(self, done: int, total: int) -> None:
        """Report `done` of `total`."""
        if self._tty:
            self._stream.write(f"\r{self._what}: {done}/{total}")
        else:
            self._stream.write(f"{self._what}: {done}/{total}\n")
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the progress line on a terminal."""
        if self._tty and self._shown:
            self._stream.write("\n")
            self._stream.flush()


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one command's database work to completion."""

    async def main() -> T:
        async with command_database(Settings.from_env()):
            return await work()

    return asyncio.run(main())


async def fetch_all(
    fetch_page: Callable[[str | None], Awaitable[Page[Any]]], limit: int | None, what: str
) -> list[Any]:
    """Page through a keyset listing, newest first, up to `limit` rows (None: all)."""
    progress = Progress(what)
    rows: list[Any] = []
    after: str | None = None
    several_pages = False
    try:
        while True:
            page = await fetch_page(after)
            rows.extend(page.items)
            total = page.total_count if limit is None else min(limit, page.total_count)
            several_pages = several_pages or page.has_next_page
            if several_pages:
                progress.update(min(len(rows), total), total)
            if not page.has_next_page or (limit is not None and len(rows) >= limit):
                break
            after = page.cursors[-1]
    finally:
        progress.close()
    return rows if limit is None else rows[:limit]


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, columns padded to their widest cell."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def when(value: datetime | None, never: str = "never") -> str:
    """A time for a table cell, to the minute, in UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else never


def shorten(text: str, width: int) -> str:
    """`text`, cut to `width` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"
