"""The gateways' credential check, over GraphQL and as `POST /v1/credentials/check`.

Both forms give one answer for every failure, so a caller cannot tell which part was wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.models import ApiKey, MailboxPassword
from mailkeys.settings import Settings
from mailkeys.tokens import MAILBOX_PREFIX, issue_token
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle, test_settings

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

CHECK = """
query($address: String!, $secret: String!, $protocol: CheckProtocol!) {
  credentialCheck(address: $address, secret: $secret, protocol: $protocol) {
    allowed mailboxId permissions
  }
}
"""
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
PASSWORD_CREATE = """
mutation($mailbox: ID!) {
  mailboxPasswordCreate(input: {mailboxId: $mailbox, appName: "phone"}) {
    mailboxPassword { id } password
  }
}
"""
PASSWORD_REVOKE = "mutation($id: ID!) { mailboxPasswordRevoke(input: {id: $id}) { __typename } }"
PASSWORDS = "query($mailbox: ID!) { mailboxPasswords(mailboxId: $mailbox) { id lastUsedAt } }"
SUSPEND = "mutation($id: ID!) { mailboxSuspend(input: {id: $id}) { mailbox { status } } }"
KEY_LAST_USED = "query($id: ID!) { apiKey(id: $id) { lastUsedAt } }"
ALL_MAILBOX_PERMISSIONS = ["email.receive", "email.send", "mailbox.read", "mailbox.settings.update"]
DENIED: dict[str, Any] = {"allowed": False, "mailboxId": None, "permissions": []}
TRANSPORTS = ("graphql", "json")


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    """The test settings; a test may override some through indirect parametrization."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return test_settings(**overrides)


@dataclass
class Checked:
    """One answer of the check as the gateway sees it: HTTP status and the answer's body."""

    status: int
    body: Any


Check = Callable[..., Awaitable[Checked]]


@pytest.fixture
def check(gql: Gql, client: httpx.AsyncClient) -> Check:
    """Run the check over either transport, as the gateway (or with another token)."""

    async def run(
        transport: str,
        address: str,
        secret: str,
        protocol: str = "SMTP",
        token: str | None = GATEWAY_TOKEN,
    ) -> Checked:
        if transport == "graphql":
            variables = {"address": address, "secret": secret, "protocol": protocol}
            result = await gql(CHECK, variables, token=token)
            return Checked(result.status, result.body)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.post(
            "/v1/credentials/check",
            json={"address": address, "secret": secret, "protocol": protocol},
            headers=headers,
        )
        return Checked(response.status_code, response.json())

    return run


def answer(transport: str, checked: Checked) -> Any:
    """The `{allowed, mailboxId, permissions}` answer inside a transport's body."""
    assert checked.status == 200, checked
    if transport == "graphql":
        assert "errors" not in checked.body, checked.body
        return checked.body["data"]["credentialCheck"]
    return checked.body


@dataclass
class World:
    """A team with two mailboxes, a password on the first, and keys of several kinds."""

    team: TeamHandle
    address: str
    mailbox_id: str
    other_address: str
    other_mailbox_id: str
    password: str
    password_id: str
    sender_key: KeyHandle  # mailbox key of the first mailbox: email.send only
    full_key: KeyHandle  # mailbox key of the first mailbox: every mailbox permission
    other_key: KeyHandle  # mailbox key of the second mailbox
    sending_key: KeyHandle  # sending key over all mailboxes


MakeWorld = Callable[[], Awaitable[World]]


@pytest.fixture
def make_world(gql: Gql, make_team: MakeTeam, make_key: MakeKey) -> MakeWorld:
    """Build the `World` through the API."""

    async def make() -> World:
        team = await make_team()
        ids = []
        for address in ("ops@example.com", "other@example.com"):
            created = (await gql(MAILBOX_CREATE, {"address": address}, token=team.token)).ok()
            ids.append(created["mailboxCreate"]["mailbox"]["id"])
        password = (await gql(PASSWORD_CREATE, {"mailbox": ids[0]}, token=team.token)).ok()
        payload = password["mailboxPasswordCreate"]

        async def mailbox_key(mailbox_id: str, permissions: list[str]) -> KeyHandle:
            return await make_key(
                team.token, type="MAILBOX", permissions=permissions, mailboxId=mailbox_id
            )

        return World(
            team=team,
            address="ops@example.com",
            mailbox_id=ids[0],
            other_address="other@example.com",
            other_mailbox_id=ids[1],
            password=payload["password"],
            password_id=payload["mailboxPassword"]["id"],
            sender_key=await mailbox_key(ids[0], ["email.send"]),
            full_key=await mailbox_key(ids[0], ALL_MAILBOX_PERMISSIONS),
            other_key=await mailbox_key(ids[1], ALL_MAILBOX_PERMISSIONS),
            sending_key=await make_key(
                team.token, type="SENDING", permissions=["email.send", "email.receive"]
            ),
        )

    return make


def wrong_secret_for(token: str) -> str:
    """A well-formed token (valid checksum) with the same key id and another secret."""
    key_id = token[len(MAILBOX_PREFIX) : len(MAILBOX_PREFIX) + 16]
    return issue_token(MAILBOX_PREFIX, key_id).token


# --- who is allowed ----------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_password_is_allowed_with_its_permissions(
    check: Check, make_world: MakeWorld, transport: str
) -> None:
    world = await make_world()

    for protocol in ("SMTP", "IMAP", "API"):
        result = answer(transport, await check(transport, world.address, world.password, protocol))
        assert result == {
            "allowed": True,
            "mailboxId": world.mailbox_id,
            "permissions": ALL_MAILBOX_PERMISSIONS,
        }, protocol


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_mailbox_key_is_allowed_only_for_what_it_holds(
    check: Check, make_world: MakeWorld, transport: str
) -> None:
    world = await make_world()

    smtp = answer(transport, await check(transport, world.address, world.sender_key.token, "SMTP"))
    api = answer(transport, await check(transport, world.address, world.sender_key.token, "API"))
    imap = answer(transport, await check(transport, world.address, world.sender_key.token, "IMAP"))

    assert smtp == {"allowed": True, "mailboxId": world.mailbox_id, "permissions": ["email.send"]}
    assert api == smtp
    assert imap == DENIED


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_sending_key_is_allowed_for_the_mailboxes_it_covers(
    check: Check, gql: Gql, make_key: MakeKey, make_world: MakeWorld, transport: str
) -> None:
    world = await make_world()
    narrowed = await make_key(
        world.team.token, type="SENDING", permissions=["email.send"], mailboxIds=[world.mailbox_id]
    )

    everywhere = [
        answer(transport, await check(transport, address, world.sending_key.token, "IMAP"))
        for address in (world.address, world.other_address)
    ]
    narrowed_own = answer(transport, await check(transport, world.address, narrowed.token))
    narrowed_other = answer(transport, await check(transport, world.other_address, narrowed.token))

    assert [a["mailboxId"] for a in everywhere] == [world.mailbox_id, world.other_mailbox_id]
    assert all(a["permissions"] == ["email.receive", "email.send"] for a in everywhere)
    assert narrowed_own["allowed"]
    assert narrowed_other == DENIED


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_address_is_matched_without_case(
    check: Check, make_world: MakeWorld, transport: str
) -> None:
    world = await make_world()

    result = answer(transport, await check(transport, "  OPS@Example.COM", world.password))

    assert result["mailboxId"] == world.mailbox_id


# --- one answer for every failure ------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_failure_gives_the_same_answer(
    check: Check,
    gql: Gql,
    make_team: MakeTeam,
    make_world: MakeWorld,
    services: Services,
    transport: str,
) -> None:
    # given credentials that fail for every reason the check knows
    world = await make_world()
    other_team = await make_team("Other")
    suspended = (
        await gql(MAILBOX_CREATE, {"address": "held@example.com"}, token=world.team.token)
    ).ok()["mailboxCreate"]["mailbox"]["id"]
    held = (await gql(PASSWORD_CREATE, {"mailbox": suspended}, token=world.team.token)).ok()
    (await gql(SUSPEND, {"id": suspended}, token=world.team.token)).ok()
    revoked = (
        await gql(PASSWORD_CREATE, {"mailbox": world.mailbox_id}, token=world.team.token)
    ).ok()
    revoked_payload = revoked["mailboxPasswordCreate"]
    (
        await gql(
            PASSWORD_REVOKE,
            {"id": revoked_payload["mailboxPassword"]["id"]},
            token=world.team.token,
        )
    ).ok()
    await ApiKey.filter(id=world.full_key.id).update(expires_at=clock.ago(1))
    wrong_password = world.password[:-4] + ("AAAA" if world.password[-4:] != "AAAA" else "BBBB")
    failures: dict[str, tuple[str, str, str]] = {
        "unknown address": ("nobody@example.com", world.password, "SMTP"),
        "malformed address": ("not an address", world.password, "SMTP"),
        "wrong password": (world.address, wrong_password, "SMTP"),
        "wrong key secret": (world.address, wrong_secret_for(world.sender_key.token), "SMTP"),
        "garbage secret": (world.address, "hunter2", "SMTP"),
        "revoked password": (world.address, revoked_payload["password"], "SMTP"),
        "suspended mailbox": (
            "held@example.com",
            held["mailboxPasswordCreate"]["password"],
            "SMTP",
        ),
        "password of another mailbox": (world.other_address, world.password, "SMTP"),
        "key of another mailbox": (world.address, world.other_key.token, "SMTP"),
        "missing permission for the protocol": (world.address, world.sender_key.token, "IMAP"),
        "expired key": (world.address, world.full_key.token, "SMTP"),
        "infrastructure key": (world.address, world.team.token, "SMTP"),
        "another team's key": (world.address, other_team.token, "SMTP"),
    }

    # when the gateway checks each of them
    paid_before = services.hasher.verifications
    bodies = {
        reason: await check(transport, address, secret, protocol)
        for reason, (address, secret, protocol) in failures.items()
    }

    # then every answer is byte-for-byte the same denial, and each took the same short path:
    # a wrong secret was ruled out by its tag, as an absent credential is; argon2 ran only for
    # the one right secret (the key lacking the protocol's permission), and only once
    assert services.hasher.verifications == paid_before + 1
    assert {reason: checked.status for reason, checked in bodies.items()} == dict.fromkeys(
        failures, 200
    )
    distinct = {repr(checked.body) for checked in bodies.values()}
    assert len(distinct) == 1, bodies
    assert answer(transport, bodies["unknown address"]) == DENIED
    # and the right secret still works: the failures were judged one by one, not by a limiter
    assert answer(transport, await check(transport, world.address, world.password))["allowed"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_failure_and_a_success_differ_only_in_the_answer(
    check: Check, make_world: MakeWorld, transport: str
) -> None:
    world = await make_world()

    good = await check(transport, world.address, world.password)
    bad = await check(
        transport,
        world.address,
        world.password[:-1] + ("1" if world.password.endswith("0") else "0"),
    )

    assert good.status == bad.status == 200
    assert answer(transport, good)["allowed"] is True
    assert answer(transport, bad) == DENIED


# --- wrong secrets and the failure budget ------------------------------------------------------


def wrong_password_for(password: str, attempt: int) -> str:
    """The same password id with another secret (the id is public: it is in audit and logs)."""
    guess = password[:-2] + f"{attempt:02d}"
    return guess if guess != password else password[:-2] + "zz"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_wrong_secrets_never_lock_an_address_out(
    check: Check, make_world: MakeWorld, services: Services, transport: str
) -> None:
    # given an address that failed far more than its old budget (ten) this minute, with
    # guesses at its real password id, its real key id, and secrets shaped like nothing
    world = await make_world()
    paid_before = services.hasher.verifications
    for attempt in range(30):
        guess = (
            wrong_password_for(world.password, attempt),
            wrong_secret_for(world.full_key.token),
            f"wrong-secret-{attempt}",
        )[attempt % 3]
        assert answer(transport, await check(transport, world.address, guess)) == DENIED

    # when the right password and the right key are tried for it
    password = await check(transport, world.address, world.password)
    key = await check(transport, world.address, world.full_key.token, "IMAP")

    # then both pass, and no guess cost an argon2 verification (their tags ruled them out)
    assert answer(transport, password)["allowed"] is True
    assert answer(transport, key)["allowed"] is True
    assert services.hasher.verifications - paid_before == 2


async def untag(password_id: str) -> None:
    """Make the password a row stored before tags existed: only argon2 can judge it."""
    await MailboxPassword.filter(id=password_id).update(secret_tag=None)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.usefixtures("manual_clock")  # every budgeted attempt falls into one minute
async def test_guesses_at_an_untagged_password_spend_its_budget_and_only_its(
    check: Check, make_world: MakeWorld, services: Services, transport: str
) -> None:
    # given a password stored before tags, guessed ten times this minute (each paid argon2)
    world = await make_world()
    await untag(world.password_id)
    paid_before = services.hasher.verifications
    for attempt in range(12):
        guess = wrong_password_for(world.password, attempt)
        assert answer(transport, await check(transport, world.address, guess)) == DENIED

    # when the right password and another credential of the address are tried
    password = await check(transport, world.address, world.password)
    key = await check(transport, world.address, world.full_key.token, "IMAP")

    # then argon2 ran only within the budget; the password waits for the next minute (the
    # price of rows without a tag), and the address's other credentials are not affected
    assert services.hasher.verifications - paid_before == 10 + 1  # and the key's first check
    assert answer(transport, password) == DENIED
    assert answer(transport, key)["allowed"] is True


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.usefixtures("manual_clock")  # every budgeted attempt falls into one minute
async def test_nine_failures_leave_an_untagged_password_working_and_tag_it(
    check: Check, make_world: MakeWorld, services: Services, transport: str
) -> None:
    world = await make_world()
    await untag(world.password_id)
    for attempt in range(9):
        await check(transport, world.address, wrong_password_for(world.password, attempt))

    result = await check(transport, world.address, world.password)

    assert answer(transport, result)["allowed"] is True
    row = await MailboxPassword.get(id=world.password_id)
    assert row.secret_tag is not None  # upgraded: its wrong guesses cost nothing from now on
    paid_before = services.hasher.verifications
    for attempt in range(20):
        await check(transport, world.address, wrong_password_for(world.password, attempt))
    assert services.hasher.verifications == paid_before


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.usefixtures("manual_clock")  # every budgeted attempt falls into one minute
async def test_the_failure_budget_holds_for_guesses_arriving_at_once(
    check: Check, make_world: MakeWorld, services: Services, transport: str
) -> None:
    # given an untagged password with its whole failure budget (10) left
    world = await make_world()
    await untag(world.password_id)
    paid_before = services.hasher.verifications
    guesses = [wrong_password_for(world.password, i) for i in range(40)]

    # when some forty wrong secrets for it arrive at the same time
    results = await asyncio.gather(*(check(transport, world.address, guess) for guess in guesses))

    # then every one is refused, and no more than the budget was even judged: a burst of
    # parallel connections must not buy more guesses per minute than one connection gets
    assert all(answer(transport, result) == DENIED for result in results)
    assert services.hasher.verifications - paid_before <= 10


@pytest.mark.parametrize("settings", [{"check_failures_per_minute": 3}], indirect=True)
@pytest.mark.usefixtures("manual_clock")  # every budgeted attempt falls into one minute
async def test_the_failure_budget_follows_the_setting(check: Check, make_world: MakeWorld) -> None:
    world = await make_world()
    await untag(world.password_id)
    for attempt in range(3):
        await check("json", world.address, wrong_password_for(world.password, attempt))

    result = await check("json", world.address, world.password)

    assert answer("json", result) == DENIED


# --- last use --------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_successful_checks_record_last_use(
    check: Check, gql: Gql, make_world: MakeWorld, services: Services, transport: str
) -> None:
    # given a password and a key never used
    world = await make_world()
    token = world.team.token

    # when each passes a check, fails one, and the recorders are flushed
    assert answer(transport, await check(transport, world.address, world.password))["allowed"]
    key_check = await check(transport, world.address, world.sender_key.token)
    assert answer(transport, key_check)["allowed"]
    await check(
        transport,
        world.address,
        world.full_key.token[:-1] + ("y" if world.full_key.token.endswith("x") else "x"),
    )  # fails its checksum
    await services.checker.password_last_used.flush()
    await services.authenticator.last_used.flush()

    # then the used ones show a last use, the others none
    passwords = (await gql(PASSWORDS, {"mailbox": world.mailbox_id}, token=token)).ok()
    used_key = (await gql(KEY_LAST_USED, {"id": world.sender_key.id}, token=token)).ok()
    idle_key = (await gql(KEY_LAST_USED, {"id": world.full_key.id}, token=token)).ok()
    assert passwords["mailboxPasswords"][0]["lastUsedAt"] is not None
    assert used_key["apiKey"]["lastUsedAt"] is not None
    assert idle_key["apiKey"]["lastUsedAt"] is None


async def test_failed_checks_record_no_last_use(
    check: Check, gql: Gql, make_world: MakeWorld, services: Services
) -> None:
    world = await make_world()

    await check("json", world.address, world.sender_key.token, "IMAP")  # lacks email.receive
    await check("json", world.other_address, world.password)  # another mailbox's password
    await services.checker.password_last_used.flush()
    await services.authenticator.last_used.flush()

    token = world.team.token
    passwords = (await gql(PASSWORDS, {"mailbox": world.mailbox_id}, token=token)).ok()
    key = (await gql(KEY_LAST_USED, {"id": world.sender_key.id}, token=token)).ok()
    assert passwords["mailboxPasswords"][0]["lastUsedAt"] is None
    assert key["apiKey"]["lastUsedAt"] is None


# --- who may ask -----------------------------------------------------------------------------


async def test_only_gateways_may_ask_over_graphql(gql: Gql, make_world: MakeWorld) -> None:
    world = await make_world()
    variables = {"address": world.address, "secret": world.password, "protocol": "SMTP"}

    anonymous = await gql(CHECK, variables)
    bogus = await gql(CHECK, variables, token="not-a-gateway-token")
    team_key = await gql(CHECK, variables, token=world.team.token)
    mailbox_key = await gql(CHECK, variables, token=world.full_key.token)
    sending_key = await gql(CHECK, variables, token=world.sending_key.token)
    gateway = await gql(CHECK, variables, token=GATEWAY_TOKEN)

    assert anonymous.codes == ["UNAUTHENTICATED"]
    assert anonymous.status == 401
    assert bogus.codes == ["UNAUTHENTICATED"]
    assert team_key.codes == ["FORBIDDEN"]
    assert mailbox_key.codes == ["FORBIDDEN"]
    assert sending_key.codes == ["FORBIDDEN"]
    assert gateway.ok()["credentialCheck"]["allowed"] is True


async def test_only_gateways_may_ask_over_json(check: Check, make_world: MakeWorld) -> None:
    world = await make_world()

    anonymous = await check("json", world.address, world.password, token=None)
    bogus = await check("json", world.address, world.password, token="not-a-gateway-token")
    team_key = await check("json", world.address, world.password, token=world.team.token)
    sending_key = await check("json", world.address, world.password, token=world.sending_key.token)

    assert anonymous.status == 401
    assert bogus.status == 401
    assert team_key.status == 403
    assert sending_key.status == 403
    for refused in (anonymous, bogus, team_key, sending_key):
        assert "allowed" not in refused.body, refused


@pytest.mark.usefixtures("manual_clock")  # every attempt falls into one minute
async def test_refused_callers_spend_no_failure_budget(check: Check, make_world: MakeWorld) -> None:
    world = await make_world()
    for _ in range(12):
        await check("json", world.address, "wrong", token=world.team.token)

    result = await check("json", world.address, world.password)

    assert answer("json", result)["allowed"] is True


async def test_the_operator_may_ask_too(check: Check, make_world: MakeWorld) -> None:
    world = await make_world()

    result = await check("graphql", world.address, world.password, token=OPERATOR_TOKEN)

    assert answer("graphql", result)["allowed"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"address": "ops@example.com", "secret": "x"},
        {"address": "ops@example.com", "secret": "x", "protocol": "POP3"},
        {"secret": "x", "protocol": "SMTP"},
        ["ops@example.com", "x", "SMTP"],
    ],
)
async def test_json_check_refuses_a_malformed_body(
    client: httpx.AsyncClient, db: None, body: Any
) -> None:
    response = await client.post(
        "/v1/credentials/check", json=body, headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("protocol", ["smtp", "SMTP", "Smtp"])
async def test_json_check_takes_the_protocol_in_any_case(
    check: Check, make_world: MakeWorld, protocol: str
) -> None:
    world = await make_world()

    result = await check("json", world.address, world.password, protocol)

    assert answer("json", result)["allowed"] is True
