"""The log handler writes a loop turn's lines together, in order, and never holds a warning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from mailkeys.telemetry.logs import TurnBufferedHandler


class CountingStream:
    """A stream that remembers each write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        return None


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, CountingStream]]:
    stream = CountingStream()
    handler = TurnBufferedHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("mailkeys.test_turn_buffer")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


async def test_lines_of_one_turn_go_out_in_one_write_at_its_end(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged

    for n in range(3):
        logger.info("line %d", n)
    assert stream.writes == []  # still in the turn they were logged in

    await asyncio.sleep(0)

    assert stream.writes == ["INFO line 0\nINFO line 1\nINFO line 2\n"]


async def test_a_warning_is_written_at_once_after_what_waits(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged

    logger.info("first")
    logger.warning("careful")

    assert "".join(stream.writes) == "INFO first\nWARNING careful\n"


def test_outside_a_loop_every_line_is_written_at_once(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged

    logger.info("alone")

    assert stream.writes == ["INFO alone\n"]


async def test_flush_writes_what_waits(logged: tuple[logging.Logger, CountingStream]) -> None:
    logger, stream = logged
    logger.info("before exit")

    for handler in logger.handlers:
        handler.flush()

    assert stream.writes == ["INFO before exit\n"]
