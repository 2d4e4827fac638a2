"""HTTP load against one URL: wrk with a generated Lua script, or the Python fallback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import REPO, RESULT_MARKER, median


@dataclass(frozen=True)
class Request:
    """One POST that the load repeats, and the exact body every response must have."""

    url: str
    body: str
    headers: dict[str, str]
    expected: str
    method: str = "POST"
    # "exact": the whole body must equal `expected`; "contains": it must contain it (for
    # answers that name something new every time, such as a queued message's id).
    match: str = "exact"


@dataclass(frozen=True)
class LoadResult:
    """Completed requests over a measured time, and anything that was not a correct answer."""

    requests: int
    seconds: float
    rate: float
    errors: int
    p50_ms: float
    p99_ms: float


def wrk_path() -> str | None:
    """The wrk binary, if installed."""
    return shutil.which("wrk")


def wrk_version() -> str:
    """wrk's version line."""
    path = wrk_path()
    if path is None:
        return "absent"
    completed = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    first = (completed.stdout + completed.stderr).splitlines()[0]
    return first.split("[")[0].strip()


def _lua_string(text: str) -> str:
    level = "=" * 4
    if f"]{level}]" in text:
        raise ValueError("cannot quote this text as a Lua long string")
    return f"[{level}[{text}]{level}]"


def _lua_script(request: Request) -> str:
    headers = "\n".join(
        f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}"
        for name, value in request.headers.items()
    )
    # Every response is checked against the expected body; wrk counts non-2xx itself.
    return f"""
wrk.method = "{request.method}"
wrk.body = {_lua_string(request.body)}
{headers}
local expected = {_lua_string(request.expected)}
local contains = {"true" if request.match == "contains" else "false"}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) mismatches = 0 end
function response(status, headers, body)
  local wrong = body ~= expected
  if contains then wrong = string.find(body, expected, 1, true) == nil end
  if status ~= 200 or wrong then mismatches = mismatches + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("mismatches") end
  io.write(string.format("mismatches: %d\\n", total))
  io.write(string.format("p50_us: %d\\n", latency:percentile(50)))
  io.write(string.format("p99_us: %d\\n", latency:percentile(99)))
end
"""


def _wrk_field(pattern: str, output: str) -> re.Match[str]:
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{output}")
    return match


def run_wrk(request: Request, duration: int, connections: int, threads: int = 1) -> LoadResult:
    """Run wrk for `duration` seconds and parse its summary."""
    path = wrk_path()
    if path is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua_script(request))
    try:
        completed = subprocess.run(
            [
                path,
                *("-t", str(threads), "-c", str(connections), "-d", f"{duration}s"),
                *("--timeout", "10s", "-s", script.name, request.url),
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    finally:
        Path(script.name).unlink()
    output = completed.stdout + completed.stderr
    if completed.returncode != 0 or script.name in output:  # wrk exits 0 on Lua errors
        raise RuntimeError(f"wrk failed:\n{output}")
    done = _wrk_field(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", output)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    errors = int(_wrk_field(r"^mismatches: (\d+)", output).group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    requests, seconds = int(done.group(1)), float(done.group(2)) * scale
    return LoadResult(
        requests=requests,
        seconds=seconds,
        rate=requests / seconds,
        errors=errors,
        p50_ms=int(_wrk_field(r"^p50_us: (\d+)", output).group(1)) / 1000,
        p99_ms=int(_wrk_field(r"^p99_us: (\d+)", output).group(1)) / 1000,
    )


def run_python(
    request: Request, duration: float, connections: int, processes: int = 2
) -> LoadResult:
    """Run `processes` copies of bench.pyload side by side, sharing `connections`."""
    parts = urlsplit(request.url)
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    with tempfile.TemporaryDirectory(prefix="mailkeys-pyload-") as tmp:
        running = []
        for number, share in enumerate(s for s in shares if s > 0):
            spec = Path(tmp) / f"spec-{number}.json"
            spec.write_text(
                json.dumps(
                    {
                        "host": parts.hostname,
                        "port": parts.port,
                        "path": parts.path or "/",
                        "body": request.body,
                        "headers": {"Content-Type": "application/json", **request.headers},
                        "expected": request.expected,
                        "connections": share,
                        "duration": duration,
                    }
                )
            )
            running.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.pyload", "--spec", str(spec)],
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        results = []
        for process in running:
            stdout, stderr = process.communicate(timeout=duration + 60)
            lines = [ln for ln in stdout.splitlines() if ln.startswith(RESULT_MARKER)]
            if process.returncode != 0 or not lines:
                raise RuntimeError(f"bench.pyload failed:\n{stdout}\n{stderr}")
            results.append(json.loads(lines[-1][len(RESULT_MARKER) :]))
    latencies = sorted(ns for result in results for ns in result["latencies"])
    if not latencies:
        raise RuntimeError("the Python load generator completed no request")
    return LoadResult(
        requests=sum(int(r["ok"]) for r in results),
        seconds=max(float(r["seconds"]) for r in results),
        # The processes run side by side: the rate is the sum of their rates.
        rate=sum(int(r["ok"]) / float(r["seconds"]) for r in results),
        errors=sum(int(r["errors"]) for r in results),
        p50_ms=median(latencies) / 1e6,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1e6,
    )


def run_load(generator: str, request: Request, duration: int, connections: int) -> LoadResult:
    """Dispatch to the chosen generator (`wrk` or `python`)."""
    if generator == "wrk":
        return run_wrk(request, duration, connections)
    if request.method != "POST":
        raise RuntimeError("the Python load generator sends POST only; install wrk")
    return run_python(request, duration, connections)
