"""What an IP allowlist costs a warm authentication, in-process.

    python -m bench.allowlist [--repeats N]

Keys with no allowlist and with 1, 10 and 100 entries (the client's network last, so that
every entry is compared) are authenticated warm (their tokens verified once, then cached)
from a client address, taking turns so that a load on the machine weighs on each alike.
Prints the median microseconds per authentication and the difference to no allowlist. The
services are wired as the app wires them, on a fresh SQLite file, with the default argon2.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import tempfile
import time
from pathlib import Path

from tortoise import Tortoise

from bench.common import median
from bench.keys_db import database_url
from mailkeys.auth.keys import actor_for_key
from mailkeys.auth.services import build_services
from mailkeys.models.database import apply_migrations, orm_config
from mailkeys.policy import OPERATOR
from mailkeys.resolvers.key_config import NewKey
from mailkeys.resolvers.keys import create_key
from mailkeys.resolvers.policy_versions import install_live_policy
from mailkeys.resolvers.teams import create_team
from mailkeys.settings import Settings

CLIENT = ipaddress.ip_address("203.0.113.7")
SIZES = (None, 1, 10, 100)


def _allowlist(size: int | None) -> list[str] | None:
    """`size` entries that the client does not match, then its own network."""
    if size is None:
        return None
    others = [f"198.51.{i // 256}.{i % 256}" for i in range(size - 1)]
    return [*others, "203.0.113.0/24"]


async def measure(url: str, repeats: int) -> dict[str, float]:
    """Median microseconds of a warm authentication per allowlist size."""
    settings = Settings(database_url=url, rate_limit_infrastructure=10**9)
    await Tortoise.init(config=orm_config(settings))
    try:
        await apply_migrations()
        await install_live_policy(settings)
        services = build_services(settings)
        team = await create_team(OPERATOR, "allowlist", services.hasher)
        owner = actor_for_key(team.first_key.key)
        headers: dict[str, str] = {}
        for size in SIZES:
            issued = await create_key(
                owner,
                NewKey(
                    type_="infrastructure", preset="root:readonly", allowed_ips=_allowlist(size)
                ),
                services.hasher,
            )
            headers[str(size or 0)] = f"Bearer {issued.secret}"
        authenticate = services.authenticator.authenticate
        samples: dict[str, list[int]] = {label: [] for label in headers}
        for round_ in range(repeats + 1):
            for label, header in headers.items():
                started = time.perf_counter_ns()
                result = await authenticate(header, CLIENT)
                elapsed = time.perf_counter_ns() - started
                if result.actor is None:
                    raise RuntimeError(f"{label} entries: {result.failure}")
                if round_:  # the first round pays argon2 once per key
                    samples[label].append(elapsed)
        return {label: median(values) / 1e3 for label, values in samples.items()}
    finally:
        await Tortoise.close_connections()


def main() -> None:
    """Command line: one line per allowlist size."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5_000, help="calls per key (5000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailkeys-allowlist-") as raw:
        results = asyncio.run(measure(database_url(Path(raw) / "a.sqlite3"), args.repeats))
    base = results["0"]
    print(f"median warm authentication, {args.repeats} calls per key:")
    for label, value in results.items():
        name = "no allowlist" if label == "0" else f"{label} entries"
        print(f"  {name:<14} {value:8.1f} us  ({value - base:+.1f} us)")


if __name__ == "__main__":
    main()
