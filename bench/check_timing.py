"""How long the gateways' credential check takes to say no, per kind of failure.

    python -m bench.check_timing [--repeats N] [--db PATH]

In-process, with the default argon2 parameters, on a fresh SQLite file: the services are
wired as the app wires them (`build_services`), and the team, mailboxes, password and keys
are made by the real resolvers. The failure budget is set out of reach, so that every call
takes its kind's full path. Prints the median time per kind; a failure whose time stands out
tells an attacker which part of the guess was right.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tortoise import Tortoise

from bench.common import median
from bench.keys_db import database_url
from mailkeys.auth.credential_check import CheckProtocol
from mailkeys.auth.keys import actor_for_key
from mailkeys.auth.services import Services, build_services
from mailkeys.models import Mailbox, MailboxStatus
from mailkeys.models.database import apply_migrations, orm_config
from mailkeys.policy import GATEWAY, OPERATOR
from mailkeys.resolvers.key_config import NewKey
from mailkeys.resolvers.keys import create_key
from mailkeys.resolvers.passwords import create_password, revoke_password
from mailkeys.resolvers.policy_versions import install_live_policy
from mailkeys.resolvers.teams import create_team
from mailkeys.settings import Settings
from mailkeys.tokens import MAILBOX_PREFIX, issue_token, random_base62

ADDRESS = "ops@timing.example"
HELD = "held@timing.example"


async def _mailbox(team_id: str, address: str) -> str:
    mailbox = await Mailbox.create(id=f"mbx_{random_base62(16)}", team_id=team_id, address=address)
    return mailbox.id


async def measure(url: str, repeats: int) -> dict[str, float]:
    """Median milliseconds per failure kind (and a warm success, for reference)."""
    settings = Settings(database_url=url, check_failures_per_minute=10**9)
    await Tortoise.init(config=orm_config(settings))
    try:
        await apply_migrations()
        await install_live_policy(settings)
        services = build_services(settings)
        team = await create_team(OPERATOR, "timing", services.hasher)
        owner = actor_for_key(team.first_key.key)  # act as the Full Access key, through resolvers
        mailbox_id = await _mailbox(team.team.id, ADDRESS)
        held_id = await _mailbox(team.team.id, HELD)
        password = await create_password(owner, mailbox_id, "phone", services.hasher)
        revoked = await create_password(owner, mailbox_id, "old", services.hasher)
        await revoke_password(owner, revoked.row.id)
        held = await create_password(owner, held_id, "held", services.hasher)
        await Mailbox.filter(id=held_id).update(status=MailboxStatus.SUSPENDED)
        sender = await create_key(
            owner,
            NewKey(type_="mailbox", permissions=["email.send"], mailbox_id=mailbox_id),
            services.hasher,
        )
        key_id = sender.key.id
        cases: dict[str, tuple[str, str, CheckProtocol]] = {
            "unknown address": ("nobody@timing.example", password.password, CheckProtocol.SMTP),
            "unknown password id": (ADDRESS, random_base62(40), CheckProtocol.SMTP),
            "wrong secret, known password id": (
                ADDRESS,
                password.password[:10] + random_base62(30),
                CheckProtocol.SMTP,
            ),
            "wrong secret, known key id": (
                ADDRESS,
                issue_token(MAILBOX_PREFIX, key_id).token,
                CheckProtocol.SMTP,
            ),
            "unknown key id": (ADDRESS, issue_token(MAILBOX_PREFIX).token, CheckProtocol.SMTP),
            "garbage secret": (ADDRESS, "hunter2", CheckProtocol.SMTP),
            "revoked password": (ADDRESS, revoked.password, CheckProtocol.SMTP),
            "suspended mailbox": (HELD, held.password, CheckProtocol.SMTP),
            "missing permission (right key)": (ADDRESS, sender.secret, CheckProtocol.IMAP),
            "success (warm, for reference)": (ADDRESS, password.password, CheckProtocol.SMTP),
        }
        results = await _medians_ms(services, repeats, cases)
        results["argon2 verifications"] = float(services.hasher.verifications)
        return results
    finally:
        await Tortoise.close_connections()


async def _medians_ms(
    services: Services, repeats: int, cases: dict[str, tuple[str, str, CheckProtocol]]
) -> dict[str, float]:
    """Median milliseconds per kind; kinds take turns, so that a load on the machine that
    comes and goes weighs on every kind alike."""
    samples: dict[str, list[float]] = {kind: [] for kind in cases}
    for round_ in range(repeats + 1):
        for kind, (address, secret, protocol) in cases.items():
            started = time.perf_counter()
            await services.checker.check(GATEWAY, address, secret, protocol)
            if round_:  # the first round warms statement and verified-token caches
                samples[kind].append(time.perf_counter() - started)
    return {kind: median(values) * 1e3 for kind, values in samples.items()}


def main() -> None:
    """Command line: prints one line per kind of failure."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a SQLite file (default: a temporary one)")
    parser.add_argument("--repeats", type=int, default=500, help="calls per kind (500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailkeys-timing-") as raw:
        url = database_url(args.db or Path(raw) / "timing.sqlite3")
        results = asyncio.run(measure(url, args.repeats))
    print(f"median time of a credential check, {args.repeats} calls per kind:")
    for kind, value in results.items():
        if kind == "argon2 verifications":
            print(f"  {kind:<34} {int(value)}")
        else:
            print(f"  {kind:<34} {value:8.3f} ms")


if __name__ == "__main__":
    main()
