"""Wrong guesses cost the attacker, never the owner (tags beside the argon2 hashes).

Key ids and password ids are public (display forms, audit, logs), so anyone can send
well-formed guesses for them. A guess is ruled out by the secret's peppered tag, without
argon2 and without charging a budget that the right secret would then find spent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from mailkeys import clock
from mailkeys.auth.credential_check import CheckProtocol
from mailkeys.auth.services import Services, build_services
from mailkeys.auth.tags import Pepper
from mailkeys.clock import ManualClock
from mailkeys.models import ApiKey, InstallationSecret
from mailkeys.policy import GATEWAY
from mailkeys.settings import Settings
from mailkeys.tokens import MAILBOX_PREFIX, checksum, issue_token, random_base62
from tests.conftest import GATEWAY_TOKEN, Gql, KeyHandle, TeamHandle, test_settings

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]
VIEWER = "{ viewer { apiKey { id } } }"
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
PASSWORD_CREATE = """
mutation($mailbox: ID!) {
  mailboxPasswordCreate(input: {mailboxId: $mailbox, appName: "phone"}) { password }
}
"""
CHECK = """
query($address: String!, $secret: String!, $protocol: CheckProtocol!) {
  credentialCheck(address: $address, secret: $secret, protocol: $protocol) { allowed }
}
"""
ADDRESS = "ops@example.com"
PEPPER = "a-configured-pepper-of-at-least-32-characters"


def forged(token: str) -> str:
    """What anyone who saw the key id can send: its prefix and id, a secret, a good checksum."""
    body = token[: -6 - 32] + random_base62(32)
    return body + checksum(body)


@pytest.fixture
def started_clock() -> ManualClock:
    """A manual clock at the start of a minute, so a loop of guesses stays in one window."""
    return ManualClock(1_800_000_000.0 - 1_800_000_000.0 % 60)


async def test_a_thousand_forged_guesses_at_a_key_id_cost_no_argon2_and_leave_the_key_working(
    gql: Gql, make_team: MakeTeam, services: Services, started_clock: ManualClock
) -> None:
    with clock.using(started_clock):
        # given a key whose right token this process has never verified
        team = await make_team()
        authenticate = services.authenticator.authenticate
        before = services.hasher.verifications

        # when a thousand well-formed guesses for its public id arrive within one minute
        outcomes = {
            (await authenticate(f"Bearer {forged(team.token)}")).failure for _ in range(1000)
        }

        # then none of them cost an argon2 verification, and the right token still works
        assert outcomes == {"bad_secret"}
        assert services.hasher.verifications == before
        assert (await gql(VIEWER, token=team.token)).ok()
        assert services.hasher.verifications == before + 1

        # and once its cache entry has expired, another thousand guesses do not lock it out
        started_clock.advance(services.settings.verified_cache_seconds + 1)
        for _ in range(1000):
            assert (await authenticate(f"Bearer {forged(team.token)}")).actor is None
        assert (await gql(VIEWER, token=team.token)).ok()
        assert services.hasher.verifications == before + 2


@dataclass
class Mailbox:
    """A mailbox with a password and a mailbox key, made through the API."""

    id: str
    password: str
    key: KeyHandle


@pytest.fixture
async def mailbox(gql: Gql, make_team: MakeTeam, make_key: MakeKey) -> Mailbox:
    team = await make_team()
    created = (await gql(MAILBOX_CREATE, {"address": ADDRESS}, token=team.token)).ok()
    mailbox_id = created["mailboxCreate"]["mailbox"]["id"]
    password = (await gql(PASSWORD_CREATE, {"mailbox": mailbox_id}, token=team.token)).ok()
    key = await make_key(
        team.token,
        type="MAILBOX",
        permissions=["email.send", "email.receive"],
        mailboxId=mailbox_id,
    )
    return Mailbox(mailbox_id, password["mailboxPasswordCreate"]["password"], key)


async def test_a_thousand_wrong_passwords_for_an_address_cost_no_argon2_and_lock_nothing_out(
    gql: Gql, mailbox: Mailbox, services: Services, started_clock: ManualClock
) -> None:
    with clock.using(started_clock):
        before = services.hasher.verifications
        password_id = mailbox.password[:10]
        wrong_secrets: list[Callable[[], str]] = [
            lambda: password_id + random_base62(30),  # the real password id, another secret
            lambda: random_base62(40),  # another password id
            lambda: issue_token(MAILBOX_PREFIX, mailbox.key.id).token,  # the real key id
            lambda: "hunter2",
        ]

        # when a thousand wrong secrets for the address arrive within one minute
        for attempt in range(1000):
            secret = wrong_secrets[attempt % len(wrong_secrets)]()
            result = await services.checker.check(GATEWAY, ADDRESS, secret, CheckProtocol.SMTP)
            assert not result.allowed

        # then none cost argon2, and the real password and the real key still pass
        assert services.hasher.verifications == before
        variables = {"address": ADDRESS, "secret": mailbox.password, "protocol": "SMTP"}
        assert (await gql(CHECK, variables, token=GATEWAY_TOKEN)).ok()["credentialCheck"] == {
            "allowed": True
        }
        variables = {"address": ADDRESS, "secret": mailbox.key.token, "protocol": "IMAP"}
        assert (await gql(CHECK, variables, token=GATEWAY_TOKEN)).ok()["credentialCheck"] == {
            "allowed": True
        }
        assert services.hasher.verifications == before + 2


async def test_a_key_stored_before_tags_is_tagged_by_its_first_verification(
    gql: Gql, make_team: MakeTeam, services: Services
) -> None:
    # given a key row without a tag, as every row written before tags existed
    team = await make_team()
    await ApiKey.filter(id=team.key_id).update(secret_tag=None)

    # when its right token is used once
    (await gql(VIEWER, token=team.token)).ok()

    # then the row has its tag, and guesses at it cost no argon2 from now on
    assert (await ApiKey.get(id=team.key_id)).secret_tag is not None
    before = services.hasher.verifications
    for _ in range(50):
        assert (
            await services.authenticator.authenticate(f"Bearer {forged(team.token)}")
        ).actor is None
    assert services.hasher.verifications == before


async def test_the_installation_pepper_is_made_once_and_shared_by_every_worker(db: None) -> None:
    workers = [build_services(test_settings()) for _ in range(3)]

    peppers = await asyncio.gather(*(worker.hasher.tags.pepper() for worker in workers))

    assert len({pepper.tag("a secret") for pepper in peppers}) == 1
    assert await InstallationSecret.all().count() == 1
    assert "a secret" not in repr(peppers[0])
    for worker in workers:
        await worker.limiter.close()


async def test_a_configured_pepper_is_used_and_never_stored(db: None) -> None:
    services = build_services(test_settings(secret_pepper=PEPPER))

    pepper = await services.hasher.tags.pepper()

    assert pepper.tag("a secret") == Pepper(PEPPER.encode()).tag("a secret")
    assert await InstallationSecret.all().count() == 0
    await services.limiter.close()


async def test_a_new_pepper_keeps_keys_working_and_tags_them_again(
    make_team: MakeTeam, services: Services
) -> None:
    # given a key tagged under the installation's pepper
    team = await make_team()
    old_tag = (await ApiKey.get(id=team.key_id)).secret_tag

    # when a worker configured with another pepper sees its right token
    worker = build_services(test_settings(secret_pepper=PEPPER))
    authenticated = await worker.authenticator.authenticate(f"Bearer {team.token}")

    # then argon2 accepts it once, the row is tagged under the new pepper, and guesses are
    # ruled out by their tags again
    assert authenticated.actor is not None
    assert worker.hasher.verifications == 1
    new_tag = (await ApiKey.get(id=team.key_id)).secret_tag
    assert new_tag is not None
    assert new_tag != old_tag
    assert new_tag.startswith(Pepper(PEPPER.encode()).id + ":")
    for _ in range(50):
        await worker.authenticator.authenticate(f"Bearer {forged(team.token)}")
    assert worker.hasher.verifications == 1
    await worker.limiter.close()


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"MAILKEYS_SECRET_PEPPER": "too-short"}, "MAILKEYS_SECRET_PEPPER"),
        ({"MAILKEYS_TRUSTED_PROXIES": "10.0.0.1/8"}, "MAILKEYS_TRUSTED_PROXIES"),
        ({"MAILKEYS_TRUSTED_PROXIES": "proxy.internal"}, "MAILKEYS_TRUSTED_PROXIES"),
    ],
)
def test_bad_pepper_or_proxy_settings_refuse_to_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Settings.from_env(env)


def test_settings_read_the_pepper_and_the_trusted_proxies() -> None:
    settings = Settings.from_env(
        {"MAILKEYS_SECRET_PEPPER": PEPPER, "MAILKEYS_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}
    )

    assert settings.secret_pepper == PEPPER
    assert [str(proxy) for proxy in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert PEPPER not in repr(settings)
