"""How long the test suite's OpenID provider takes to start and to log a person in.

    python -m bench.oidc_rig [--rounds 10]

Starts tests/node/oidc_provider.mjs (installing its Node.js dependencies first if needed),
restarts it with new keys, and runs the authorization code flow with PKCE several times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.oidc import OidcProvider


def _summary(seconds: list[float]) -> str:
    return (
        f"median {statistics.median(seconds) * 1000:.0f} ms, "
        f"min {min(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as workdir:
        provider = OidcProvider(Path(workdir))
        try:
            provider.start()
            for _ in range(rounds - 1):
                provider.rotate_keys()
            logins = []
            for i in range(rounds):
                began = time.perf_counter()
                provider.authorization_code_flow(f"person{i}@example.com")
                logins.append(time.perf_counter() - began)
        finally:
            provider.close()
    print(f"provider start to ready, {rounds} starts: {_summary(provider.start_seconds)}")
    print(f"login() without its cache, {rounds} flows: {_summary(logins)}")


if __name__ == "__main__":
    main()
