"""Where a mailkeys request's time goes: py-spy samples one server under wrk load.

    python -m bench.profile viewer            # one of: typename viewer send check
    python -m bench.profile send --seconds 20 --top 40 --engine postgres

Starts `mailkeys serve --workers 1` on a temporary SQLite file (or a fresh PostgreSQL
database + Redis), loads the chosen request at 32 connections while `py-spy record` samples
the worker, and prints the frames with the most samples: by their own time (self) and with
everything they call (total), as a share of all samples. The raw collapsed stacks are kept
(the path is printed) for a flame graph (`flamegraph.pl` or speedscope.app).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from bench.common import postgres_database
from bench.load import run_wrk
from bench.pipeline import postgres_server, sqlite_server
from bench.pipeline_figures import mailkeys_figures
from bench.pipeline_servers import CONNECTIONS, PG


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    return stack.split(";"), int(count)


def summarize(collapsed: Path, top: int) -> None:
    """Print the top frames by self and by total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        frames, count = _frames(line)
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    print(f"{samples} samples")
    for title, counter in (("self", own), ("total (with callees)", total)):
        print(f"\ntop {top} frames by {title}:")
        for frame, count in counter.most_common(top):
            print(f"  {100 * count / samples:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figure", choices=["typename", "viewer", "send", "check"])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    output = Path(tempfile.mkdtemp(prefix="mk-profile-")) / f"{args.figure}.collapsed"
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mk-profile-")))
        if args.engine == "sqlite":
            server, keys, _ = sqlite_server(workdir)
            suffix = ""
        else:
            url = stack.enter_context(postgres_database())
            server, keys = postgres_server(workdir, url, 1)
            suffix = PG
        stack.callback(server.stop)
        figure = next(
            f for f in mailkeys_figures(server.url, keys, suffix) if f.key == args.figure + suffix
        )
        run_wrk(figure.request, 2, CONNECTIONS)  # warm up
        record = subprocess.Popen(
            [
                spy, "record", "--pid", str(server.pid), "--rate", str(args.rate),
                "--duration", str(args.seconds), "--format", "raw", "--nonblocking",
                "--output", str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        result: list[object] = []
        loader = threading.Thread(
            target=lambda: result.append(run_wrk(figure.request, args.seconds, CONNECTIONS))
        )
        loader.start()
        record.wait()
        loader.join()
    print(f"{figure.label}: {result[0]}")
    print(f"collapsed stacks: {output}")
    summarize(output, args.top)


if __name__ == "__main__":
    main()
