"""Mailbox addresses: only on the team's verified domains or the shared domain, and sending
and the credential check only from such addresses (how addresses are spelt and checked:
tests/test_address_validation.py).

The shared domain of the tests is `example.com` (tests/conftest.py); teams verify
`acme.example` against the DNS server of tests/dns_zone.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mailkeys.models import ApiKey, AuditEvent, Domain, Mailbox
from mailkeys.settings import Settings
from tests.conftest import GATEWAY_TOKEN, Gql, TeamHandle, test_settings
from tests.dns_zone import DnsServer

MakeTeam = Callable[..., Awaitable[TeamHandle]]

MAILBOX_CREATE = """
mutation($address: String!) {
  mailboxCreate(input: {address: $address}) { mailbox { id address } }
}
"""
DOMAIN_CREATE = """
mutation($name: String!) {
  domainCreate(input: {name: $name}) { domain { id verificationRecordName verificationRecord } }
}
"""
DOMAIN_VERIFY = "mutation($id: ID!) { domainVerify(input: {id: $id}) { domain { verified } } }"
PROVIDER_CREATE = 'mutation { providerCreate(input: {name: "ses"}) { provider { id } } }'
KEY_CREATE = """
mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { apiKey { id } secret } }
"""
PASSWORD_CREATE = """
mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, appName: "mua"}) { password } }
"""
SEND = """
mutation($input: EmailSendInput!) { emailSend(input: $input) { message { id } } }
"""
MAILBOX_UPDATE = """
mutation($input: MailboxUpdateInput!) { mailboxUpdate(input: $input) { mailbox { replyTo } } }
"""
BILLING_UPDATE = """
mutation($input: BillingProfileUpdateInput!) {
  billingProfileUpdate(input: $input) { billingProfile { email } }
}
"""
CHECK = """
query($address: String!, $secret: String!) {
  credentialCheck(address: $address, secret: $secret, protocol: SMTP) { allowed mailboxId }
}
"""
AUDIT = "{ auditEvents(first: 20) { edges { node { action actor targetId details } } } }"
ONLY_ON = "The address must be on the shared domain or on a domain the team has verified."


@pytest.fixture
def settings(dns_zone: DnsServer) -> Settings:
    return test_settings(dns_nameservers=(dns_zone.nameserver,))


async def verified_domain(
    gql: Gql, dns: DnsServer, team: TeamHandle, name: str = "acme.example"
) -> str:
    """Add `name` to the team and verify it by DNS; returns the domain id."""
    created = (await gql(DOMAIN_CREATE, {"name": name}, token=team.token)).ok()["domainCreate"]
    domain = created["domain"]
    dns.publish(domain["verificationRecordName"], domain["verificationRecord"])
    (await gql(DOMAIN_VERIFY, {"id": domain["id"]}, token=team.token)).ok()
    return str(domain["id"])


async def mailbox(gql: Gql, team: TeamHandle, address: str) -> dict[str, Any]:
    node: dict[str, Any] = (await gql(MAILBOX_CREATE, {"address": address}, token=team.token)).ok()[
        "mailboxCreate"
    ]["mailbox"]
    return node


def without_request_id(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**error, "extensions": {k: v for k, v in error["extensions"].items() if k != "requestId"}}
        for error in errors
    ]


# --- where addresses may be ------------------------------------------------------------------


async def test_no_mailbox_on_another_teams_verified_domain(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    owner = await make_team("Owner")
    squatter = await make_team("Squatter")
    await verified_domain(gql, dns_zone, owner)

    held = await gql(MAILBOX_CREATE, {"address": "ceo@acme.example"}, token=squatter.token)
    nobodys = await gql(MAILBOX_CREATE, {"address": "ceo@nobody.example"}, token=squatter.token)

    assert held.codes == ["BAD_USER_INPUT"]
    assert held.errors[0]["extensions"]["field"] == "address"
    # the same answer whoever holds the domain, or nobody
    assert held.errors[0]["message"] == nobodys.errors[0]["message"] == ONLY_ON
    assert owner.id not in str(held.body)
    assert await Mailbox.filter(address="ceo@acme.example").count() == 0
    assert (await mailbox(gql, owner, "ceo@acme.example"))["address"] == "ceo@acme.example"


async def test_no_mailbox_on_a_domain_the_team_has_not_verified(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    (await gql(DOMAIN_CREATE, {"name": "acme.example"}, token=team.token)).ok()

    result = await gql(MAILBOX_CREATE, {"address": "ops@acme.example"}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "address"
    assert result.errors[0]["message"] == ONLY_ON


async def test_an_address_on_the_teams_own_domain_exists_once(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    team = await make_team()
    await verified_domain(gql, dns_zone, team)
    await mailbox(gql, team, "ops@acme.example")

    again = await gql(MAILBOX_CREATE, {"address": "OPS@ACME.example"}, token=team.token)

    assert again.codes == ["CONFLICT"]


async def test_a_taken_shared_address_does_not_say_who_holds_it(
    gql: Gql, make_team: MakeTeam
) -> None:
    holder = await make_team("Holder")
    other = await make_team("Other")
    await mailbox(gql, holder, "ops@example.com")

    by_other = await gql(MAILBOX_CREATE, {"address": "Ops@Example.com"}, token=other.token)
    by_holder = await gql(MAILBOX_CREATE, {"address": "ops@example.com"}, token=holder.token)

    assert by_other.codes == ["CONFLICT"]
    assert without_request_id(by_other.errors) == without_request_id(by_holder.errors)
    assert holder.id not in str(by_other.body)


async def test_a_squatters_old_mailbox_gives_way_to_the_domains_holder(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    # given a mailbox another team made on the domain before domains were checked
    owner = await make_team("Owner")
    squatter = await make_team("Squatter")
    await Mailbox.create(id="mbx_squat", team_id=squatter.id, address="ceo@acme.example")
    key = (
        await gql(
            KEY_CREATE,
            {"input": {"type": "MAILBOX", "mailboxId": "mbx_squat", "permissions": ["email.send"]}},
            token=squatter.token,
        )
    ).ok()["apiKeyCreate"]
    await verified_domain(gql, dns_zone, owner)

    # when the domain's holder creates the address
    created = await mailbox(gql, owner, "ceo@acme.example")

    # then it is the holder's, the old mailbox's credentials are revoked, and the squatter's
    # audit trail names the platform, not the holder
    assert (await Mailbox.get(address="ceo@acme.example")).team_id == owner.id
    assert created["id"] != "mbx_squat"
    assert (await ApiKey.get(id=key["apiKey"]["id"])).revoked_at is not None
    event = await AuditEvent.get(team_id=squatter.id, action="mailbox.delete")
    assert (event.actor, event.target_id) == ("platform", "mbx_squat")
    assert owner.id not in str(event.details)


# --- sending and the credential check -------------------------------------------------------


async def test_sending_and_the_check_need_an_address_the_team_may_use(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    # given a mailbox made before domains were checked, on a domain its team never verified
    team = await make_team()
    await Mailbox.create(id="mbx_old", team_id=team.id, address="old@acme.example")
    (await gql(PROVIDER_CREATE, token=team.token)).ok()
    sender = (
        await gql(
            KEY_CREATE,
            {"input": {"type": "SENDING", "permissions": ["email.send"]}},
            token=team.token,
        )
    ).ok()["apiKeyCreate"]["secret"]
    password = (await gql(PASSWORD_CREATE, {"m": "mbx_old"}, token=team.token)).ok()[
        "mailboxPasswordCreate"
    ]["password"]
    email = {"from": "old@acme.example", "to": ["a@b.example"], "subject": "hi", "text": "x"}

    # when it sends, and a gateway checks its password
    refused = await gql(SEND, {"input": email}, token=sender)
    checked = await gql(
        CHECK, {"address": "old@acme.example", "secret": password}, token=GATEWAY_TOKEN
    )
    await verified_domain(gql, dns_zone, team)
    sent = await gql(SEND, {"input": email}, token=sender)
    checked_after = await gql(
        CHECK, {"address": "old@acme.example", "secret": password}, token=GATEWAY_TOKEN
    )

    # then both are refused until the team verifies the domain
    assert refused.codes == ["CONFLICT"]
    assert refused.errors[0]["extensions"]["reason"] == "DOMAIN_NOT_VERIFIED"
    assert checked.ok()["credentialCheck"] == {"allowed": False, "mailboxId": None}
    assert sent.ok()["emailSend"]["message"]["id"]
    assert checked_after.ok()["credentialCheck"] == {"allowed": True, "mailboxId": "mbx_old"}


async def test_a_domain_carried_over_from_before_dns_checks_keeps_working_until_proved_elsewhere(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    # given a domain as the upgrade leaves one that was marked verified without a check
    old = await make_team("Old")
    prover = await make_team("Prover")
    await Domain.create(
        id="dom_old",
        team_id=old.id,
        name="acme.example",
        verification_record="mailkeys-verify=x",
        verified_name="acme.example",
        reverification_required=True,
    )
    await Mailbox.create(id="mbx_old", team_id=old.id, address="ops@acme.example")
    (await gql(PROVIDER_CREATE, token=old.token)).ok()
    sender = (
        await gql(
            KEY_CREATE,
            {"input": {"type": "SENDING", "permissions": ["email.send"]}},
            token=old.token,
        )
    ).ok()["apiKeyCreate"]["secret"]
    email = {"from": "ops@acme.example", "to": ["a@b.example"], "subject": "hi", "text": "x"}
    before = await gql(SEND, {"input": email}, token=sender)
    no_new_mailbox = await gql(MAILBOX_CREATE, {"address": "new@acme.example"}, token=old.token)

    # when another team proves the domain by DNS
    await verified_domain(gql, dns_zone, prover)

    # then the old claim is gone, and with it the old team's use of the address
    after = await gql(SEND, {"input": email}, token=sender)
    assert before.ok()["emailSend"]["message"]["id"]
    assert no_new_mailbox.codes == ["BAD_USER_INPUT"]  # new mailboxes need a DNS proof
    assert after.errors[0]["extensions"]["reason"] == "DOMAIN_NOT_VERIFIED"
    dropped = await Domain.get(id="dom_old")
    assert (dropped.verified_name, dropped.verified_at, dropped.reverification_required) == (
        None,
        None,
        False,
    )
    event = await AuditEvent.get(team_id=old.id, action="domain.unverify")
    assert event.actor == "platform"


async def test_reverifying_a_carried_over_domain_clears_its_flag(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    team = await make_team()
    await Domain.create(
        id="dom_old",
        team_id=team.id,
        name="acme.example",
        verification_record="mailkeys-verify=carried",
        verified_name="acme.example",
        reverification_required=True,
    )
    dns_zone.publish("_mailkeys.acme.example", "mailkeys-verify=carried")

    (await gql(DOMAIN_VERIFY, {"id": "dom_old"}, token=team.token)).ok()

    domain = await Domain.get(id="dom_old")
    assert (domain.verified_name, domain.reverification_required) == ("acme.example", False)
    assert (await mailbox(gql, team, "new@acme.example"))["address"] == "new@acme.example"
