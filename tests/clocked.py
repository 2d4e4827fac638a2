"""`mailkeys ARGS` with its wall clock pinned at one instant: a child process of a test.

    python -m tests.clocked SECONDS_SINCE_EPOCH serve --port 8123

Rate limits and failure budgets count in whole minutes of the wall clock. A test that counts
requests against such a budget on real servers pins their wall clock inside a minute, so its
requests never straddle two windows, instead of waiting for the real minute to turn.
Monotonic time (cache ages, retries) runs on as usual. uvicorn runs a single worker in this
process, so the clock holds; the worker processes of `--workers N` would not inherit it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from mailkeys import clock
from mailkeys.cli import main as mailkeys


class PinnedWallClock:
    """The wall clock stands still at one instant; monotonic time runs."""

    def __init__(self, at: float) -> None:
        self._at = at

    def time(self) -> float:
        return self._at

    def monotonic(self) -> float:
        return time.monotonic()


def main(argv: Sequence[str]) -> int:
    """Run the `mailkeys` command line with the wall clock pinned at `argv[0]`."""
    at, *args = argv
    with clock.using(PinnedWallClock(float(at))):
        return mailkeys(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
