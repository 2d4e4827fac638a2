"""Time, read in one place, so that tests and tools can move it.

Everything that gives time a meaning (expiry, grace periods, rate-limit windows, cache ages,
`last used`) asks this module, never `datetime.now` or `time.time` directly; durations that
are only measured (`time.perf_counter`) are not its business. The process uses the system
clock; a test installs a `ManualClock` with `using()` and advances it instead of waiting for
a minute boundary.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar


class Clock(Protocol):
    """A source of the current time."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for ages and timeouts)."""
        ...


class SystemClock:
    """The operating system's clocks."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()


class ManualClock:
    """A clock that moves only when told to: for tests and benchmarks."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._monotonic = 1_000.0

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        if seconds < 0:
            raise ValueError("time does not go back")
        self._now += seconds
        self._monotonic += seconds

    def set(self, when: datetime) -> None:
        """Jump the wall clock to `when` (forward only)."""
        self.advance(when.timestamp() - self._now)


_installed: Clock = SystemClock()
ClockT = TypeVar("ClockT", bound=Clock)


def time() -> float:
    """Seconds since the epoch, from the installed clock."""
    return _installed.time()


def monotonic() -> float:
    """Monotonic seconds, from the installed clock."""
    return _installed.monotonic()


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.fromtimestamp(_installed.time(), UTC)


def ago(seconds: float) -> datetime:
    """The instant `seconds` before now."""
    return now() - timedelta(seconds=seconds)


@contextmanager
def using(clock: ClockT) -> Iterator[ClockT]:
    """Install `clock` for the length of the block (tests); the previous one comes back."""
    global _installed
    previous, _installed = _installed, clock
    try:
        yield clock
    finally:
        _installed = previous
