"""scripts/demo starts the local OpenID provider and the example dashboard, and stops both."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.nodejs import node_project
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[1]


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """The script's output up to and including the line holding `marker`."""
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout
    while marker not in output:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise AssertionError(f"scripts/demo printed no {marker!r}:\n{output}")
        output += line
    return output


@pytest.mark.process
def test_demo_prints_the_mailkeys_settings_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    node_project()  # installs tests/node once, or skips without Node.js (fails under CI)
    provider_port, dashboard_port = free_port(), free_port()
    mailkeys = f"http://127.0.0.1:{free_port()}"  # not running: the demo says so
    env = os.environ | {
        "TMPDIR": str(tmp_path),  # where the demo keeps its logs
        "DEMO_PROVIDER_PORT": str(provider_port),
        "DEMO_DASHBOARD_PORT": str(dashboard_port),
    }
    with subprocess.Popen(
        [str(ROOT / "scripts" / "demo"), f"{mailkeys}/"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, to clean up after a failure
    ) as demo:
        try:
            printed = _read_until(demo, "Ctrl-C stops", timeout=60)
            issuer = f"http://127.0.0.1:{provider_port}"
            dashboard = f"http://127.0.0.1:{dashboard_port}"
            discovery = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
            config_js = httpx.get(f"{dashboard}/config.js").text
            page = httpx.get(f"{dashboard}/")

            demo.send_signal(signal.SIGINT)  # Ctrl-C
            assert demo.wait(timeout=20) == 0
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()

    assert f"MAILKEYS_OIDC_ISSUER={issuer}\n" in printed
    assert "MAILKEYS_OIDC_AUDIENCE=mailkeys\n" in printed
    assert f"MAILKEYS_CORS_ORIGINS={dashboard}\n" in printed
    assert re.search(rf"open {re.escape(dashboard)}/ ", printed)
    assert f"does not answer at {mailkeys}" in printed
    assert discovery["issuer"] == issuer
    assert f'"issuer": "{issuer}"' in config_js
    assert f'"mailkeysUrl": "{mailkeys}"' in config_js
    assert f'"redirectUri": "{dashboard}/"' in config_js
    assert page.status_code == 200
    assert f"connect-src {issuer} {mailkeys};" in page.headers["content-security-policy"]
    # both servers are gone
    for url in (issuer, dashboard):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url)
