"""Addresses are checked by the rules of email, in one spelling each, and with no hidden
characters, wherever an address is accepted (mailbox, reply-to, billing, sending, the check).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mailkeys.models import Mailbox
from mailkeys.settings import Settings
from tests.conftest import GATEWAY_TOKEN, Gql, TeamHandle, test_settings
from tests.dns_zone import DnsServer
from tests.test_addresses_api import (
    BILLING_UPDATE,
    CHECK,
    MAILBOX_CREATE,
    MAILBOX_UPDATE,
    PASSWORD_CREATE,
    SEND,
    mailbox,
    verified_domain,
)

MakeTeam = Callable[..., Awaitable[TeamHandle]]


@pytest.fixture
def settings(dns_zone: DnsServer) -> Settings:
    return test_settings(dns_nameservers=(dns_zone.nameserver,))


async def test_an_address_has_one_spelling(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    team = await make_team()
    await verified_domain(gql, dns_zone, team, "Bücher.example")

    created = await mailbox(gql, team, "Ops@BÜCHER.example")
    again = await gql(MAILBOX_CREATE, {"address": "ops@xn--bcher-kva.example"}, token=team.token)
    password = (await gql(PASSWORD_CREATE, {"m": created["id"]}, token=team.token)).ok()[
        "mailboxPasswordCreate"
    ]["password"]
    checked = await gql(
        CHECK, {"address": "OPS@bücher.example", "secret": password}, token=GATEWAY_TOKEN
    )

    assert created["address"] == "ops@xn--bcher-kva.example"
    assert again.codes == ["CONFLICT"]
    assert checked.ok()["credentialCheck"]["allowed"] is True


HIDDEN = [
    pytest.param("\x00", id="NUL"),
    pytest.param("\x01", id="SOH"),
    pytest.param("\x1f", id="US"),
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x85", id="NEL"),
    *(
        pytest.param(char, id=f"U+{ord(char):04X}")
        for char in "\u200b\u200c\u200d\u2060\ufeff"  # zero-width
        "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"  # bidi
    ),
]


@pytest.mark.parametrize("char", HIDDEN)
@pytest.mark.parametrize("where", ["local part", "domain", "end"])
async def test_addresses_with_hidden_characters_are_refused_everywhere(
    gql: Gql, make_team: MakeTeam, char: str, where: str
) -> None:
    team = await make_team()
    mine = await mailbox(gql, team, "ops@example.com")
    password = (await gql(PASSWORD_CREATE, {"m": mine["id"]}, token=team.token)).ok()[
        "mailboxPasswordCreate"
    ]["password"]
    address = {
        "local part": f"o{char}ps@example.com",
        "domain": f"ops@exa{char}mple.com",
        "end": f"ops@example.com{char}",
    }[where]
    email = {"from": address, "to": ["a@b.example"], "subject": "hi", "text": "x"}

    results = {
        "address": await gql(MAILBOX_CREATE, {"address": address}, token=team.token),
        "replyTo": await gql(
            MAILBOX_UPDATE, {"input": {"id": mine["id"], "replyTo": address}}, token=team.token
        ),
        "email": await gql(BILLING_UPDATE, {"input": {"email": address}}, token=team.token),
        "from": await gql(SEND, {"input": email}, token=team.token),
        "to": await gql(
            SEND, {"input": {**email, "from": "ops@example.com", "to": [address]}}, token=team.token
        ),
    }
    checked = await gql(CHECK, {"address": address, "secret": password}, token=GATEWAY_TOKEN)

    for field, result in results.items():
        assert result.codes == ["BAD_USER_INPUT"], field
        assert result.errors[0]["extensions"]["field"] == field
    assert checked.ok()["credentialCheck"] == {"allowed": False, "mailboxId": None}
    assert await Mailbox.filter(team_id=team.id).count() == 1


@pytest.mark.parametrize(
    "address",
    [
        "ops@acme.local",
        "ops@localhost",
        "ops@acme.test",
        "ops@[127.0.0.1]",
        '"o p s"@example.com',
        "Ops <ops@example.com>",
        "ops@@example.com",
        "ops@exa_mple.com",
        "o" * 65 + "@example.com",
        "ops@" + "a" * 64 + ".com",
    ],
)
async def test_addresses_are_checked_by_the_rules_of_email(
    gql: Gql, make_team: MakeTeam, address: str
) -> None:
    team = await make_team()

    result = await gql(MAILBOX_CREATE, {"address": address}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "address"
