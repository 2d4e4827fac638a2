"""Cold and warm authentication of one key, in-process, with the default argon2 parameters.

Run as `python -m bench.authn --db PATH`. The services are wired exactly as the app wires
them (`mailkeys.auth.services.build_services`) from `Settings()` defaults; only the database
file and the rate limit (so that repeated calls are not refused) are set. The key is made by
the real `create_team` resolver. Cold is the first `authenticate()` of the token in this
process, which pays one argon2 verification; warm is the median of repeated calls, which must
hit the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from bench.common import emit, median
from bench.keys_db import database_url
from mailkeys.auth.services import build_services
from mailkeys.models import Team
from mailkeys.models.database import apply_migrations, orm_config
from mailkeys.policy import OPERATOR
from mailkeys.resolvers.policy_versions import install_live_policy
from mailkeys.resolvers.teams import create_team
from mailkeys.settings import Argon2Parameters, Settings
from mailkeys.tokens import SecretHasher, checksum


def _forged(token: str) -> str:
    """The same key id with another secret and a valid checksum (what anyone can make)."""
    body = token[: -6 - 32] + "X" * 32
    return body + checksum(body)


async def measure(url: str, repeats: int) -> dict[str, Any]:
    """Everything this process reports, as a JSON-able dict."""
    settings = Settings(database_url=url, rate_limit_infrastructure=100_000_000)
    if settings.argon2 != Argon2Parameters():
        raise RuntimeError("not the default argon2 parameters")
    argon2 = settings.argon2
    await Tortoise.init(config=orm_config(settings))
    try:
        await apply_migrations()
        await install_live_policy(settings)
        services = build_services(settings)
        created = await create_team(OPERATOR, "bench-authn", services.hasher)
        first_key = created.first_key
        token = first_key.secret
        header = f"Bearer {token}"
        await Team.all().count()  # the connection is open before the timed calls

        # argon2 alone, for reference: what a cold authentication should roughly cost.
        hasher = SecretHasher(argon2.time_cost, argon2.memory_cost_kib, argon2.parallelism)
        secret_hash = hasher.hash(token)
        raw: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            hasher.verify(secret_hash, token)
            raw.append(time.perf_counter() - started)

        authenticator = services.authenticator
        before = services.hasher.verifications
        started = time.perf_counter()
        cold = await authenticator.authenticate(header)
        cold_s = time.perf_counter() - started
        if cold.actor is None or cold.actor.credential_id != first_key.key.id:
            raise RuntimeError(f"cold authentication failed: {cold.failure}")
        after_cold = services.hasher.verifications

        warm: list[int] = []
        for _ in range(repeats):
            started_ns = time.perf_counter_ns()
            result = await authenticator.authenticate(header)
            warm.append(time.perf_counter_ns() - started_ns)
            if result.actor is None or result.rate is None or not result.rate.allowed:
                raise RuntimeError(f"warm authentication failed: {result.failure}")
        after_warm = services.hasher.verifications

        # A well-formed token for a real (public) key id with a wrong secret.
        forged = f"Bearer {_forged(token)}"
        forged_s: list[float] = []
        for _ in range(3):
            started = time.perf_counter()
            refused = await authenticator.authenticate(forged)
            forged_s.append(time.perf_counter() - started)
            if refused.actor is not None:
                raise RuntimeError("a forged token authenticated")
        after_forged = services.hasher.verifications
        return {
            "argon2": {
                "time_cost": argon2.time_cost,
                "memory_cost_kib": argon2.memory_cost_kib,
                "parallelism": argon2.parallelism,
            },
            "argon2_verify_median_ms": median(raw) * 1e3,
            "cold_ms": cold_s * 1e3,
            "warm_median_us": median(warm) / 1e3,
            "warm_calls": repeats,
            "verifications_cold": after_cold - before,
            "verifications_warm": after_warm - after_cold,
            "forged_median_ms": median(forged_s) * 1e3,
            "forged_calls": len(forged_s),
            "verifications_forged": after_forged - after_warm,
        }
    finally:
        await Tortoise.close_connections()


def main() -> None:
    """Command line; prints one result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, help="a SQLite file (created if missing)")
    parser.add_argument("--url", help="or a migrated database URL (PostgreSQL)")
    parser.add_argument("--repeats", type=int, default=2_000)
    args = parser.parse_args()
    url = args.url or database_url(args.db)
    emit(asyncio.run(measure(url, args.repeats)))


if __name__ == "__main__":
    main()
