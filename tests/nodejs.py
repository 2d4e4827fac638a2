"""Node.js for tests that check the project against JavaScript tools (node-casbin, ...).

The test-only Node dependencies live in `tests/node/package.json` with a committed
`package-lock.json`. `node_project()` installs them with `npm ci` when `node_modules` is
missing or older than the lockfile, so after one install the tests run offline. The install
holds a file lock: the suite's workers (pytest-xdist) and runs in other worktrees of the same
checkout never run `npm ci` into one `node_modules` at once. A machine without `node` skips
these tests with a reason, except under CI=true, where it is a failure.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

NODE_PROJECT = Path(__file__).resolve().parent / "node"
_LOCKFILE = NODE_PROJECT / "package-lock.json"
# npm ci writes this copy of the lockfile last; its age says when node_modules was installed.
_INSTALLED = NODE_PROJECT / "node_modules" / ".package-lock.json"
# Held while one process checks and installs; the others wait, then find the install current.
_INSTALL_LOCK = NODE_PROJECT / ".install.lock"
_NPM_CI_TIMEOUT_S = 300
_SCRIPT_TIMEOUT_S = 120


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _installed_is_current() -> bool:
    return _INSTALLED.exists() and _INSTALLED.stat().st_mtime >= _LOCKFILE.stat().st_mtime


def node_project() -> Path:
    """`tests/node` with its dependencies installed; skips (fails under CI) without Node.js."""
    if shutil.which("node") is None:
        _unavailable("node is not installed (tests against Node.js tools need Node.js 20+)")
    if _installed_is_current():
        return NODE_PROJECT
    with _INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not _installed_is_current():  # another process may have installed meanwhile
            _npm_ci()
    return NODE_PROJECT


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed (it installs tests/node/package-lock.json)")
    done = subprocess.run(
        [npm, "ci", "--prefix", str(NODE_PROJECT), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=_NPM_CI_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {NODE_PROJECT} failed:\n{done.stdout}\n{done.stderr}")
    # npm ci keeps the lockfile's own time; mark the install as at least as new.
    _INSTALLED.touch()


def run_node_json(script: str, args: list[str], payload: Any) -> Any:
    """Run `tests/node/<script>` with `args`, `payload` as JSON on stdin; its stdout as JSON."""
    project = node_project()
    done = subprocess.run(
        ["node", str(project / script), *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=_SCRIPT_TIMEOUT_S,
        check=False,
        cwd=project,
    )
    if done.returncode != 0:
        pytest.fail(f"node {script} exited with {done.returncode}:\n{done.stderr}")
    return json.loads(done.stdout)
