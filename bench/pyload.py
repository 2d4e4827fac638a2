"""A small keep-alive HTTP/1.1 load generator on raw asyncio sockets (the fallback to wrk).

Run as `python -m bench.pyload --spec FILE`; several such processes run side by side. Each
connection sends the same POST again and again, and every response is checked: status 200 and
a body equal to the expected one. Anything else counts as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import emit


@dataclass
class Tally:
    """What one process saw."""

    ok: int = 0
    errors: int = 0


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The raw bytes of one keep-alive POST."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("response without Content-Length")
    return status, await reader.readexactly(length)


async def _connection(
    host: str,
    port: int,
    request: bytes,
    expected: bytes,
    deadline: float,
    tally: Tally,
    latencies: list[int],
) -> None:
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter_ns()
                writer.write(request)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter_ns() - started)
                if status == 200 and body == expected:
                    tally.ok += 1
                else:
                    tally.errors += 1
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            tally.errors += 1
        finally:
            writer.close()


async def run(spec: dict[str, object]) -> dict[str, object]:
    """Drive `spec["connections"]` connections for `spec["duration"]` seconds."""
    host, port, path = str(spec["host"]), int(str(spec["port"])), str(spec["path"])
    headers = {str(k): str(v) for k, v in dict(spec["headers"]).items()}  # type: ignore[call-overload]
    request = build_request(host, port, path, str(spec["body"]).encode(), headers)
    expected = str(spec["expected"]).encode()
    duration = float(str(spec["duration"]))
    tally = Tally()
    latencies: list[int] = []
    started = time.perf_counter()
    deadline = time.monotonic() + duration
    await asyncio.gather(
        *(
            _connection(host, port, request, expected, deadline, tally, latencies)
            for _ in range(int(str(spec["connections"])))
        )
    )
    elapsed = time.perf_counter() - started
    return {"ok": tally.ok, "errors": tally.errors, "seconds": elapsed, "latencies": latencies}


def main() -> None:
    """Command line; prints one result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args()
    emit(asyncio.run(run(json.loads(args.spec.read_text()))))


if __name__ == "__main__":
    main()
