"""Domains are verified by a DNS TXT record, against a real DNS server, and held by one team.

The app asks the DNS server of `tests/dns_zone.py` (real UDP on 127.0.0.1) through its own
resolver; each test publishes the records it needs.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx
import pytest
from tortoise.exceptions import IntegrityError

from mailkeys.auth.services import Services
from mailkeys.http.app import create_app
from mailkeys.models import Domain
from mailkeys.settings import Settings
from tests.conftest import Gql, TeamHandle, test_settings
from tests.dns_zone import DnsServer

MakeTeam = Callable[..., Awaitable[TeamHandle]]

FIELDS = "id name verificationRecordName verificationRecord verified verifiedAt"
CREATE = f"""
mutation($name: String!) {{ domainCreate(input: {{name: $name}}) {{ domain {{ {FIELDS} }} }} }}
"""
VERIFY = f"mutation($id: ID!) {{ domainVerify(input: {{id: $id}}) {{ domain {{ {FIELDS} }} }} }}"
DELETE = "mutation($id: ID!) { domainDelete(input: {id: $id}) { domain { id } } }"
DOMAINS = f"{{ domains {{ edges {{ node {{ {FIELDS} reverificationRequired }} }} }} }}"


@pytest.fixture
def settings(dns_zone: DnsServer) -> Settings:
    return test_settings(dns_nameservers=(dns_zone.nameserver,))


async def add(gql: Gql, team: TeamHandle, name: str = "acme.example") -> dict[str, Any]:
    domain: dict[str, Any] = (await gql(CREATE, {"name": name}, token=team.token)).ok()[
        "domainCreate"
    ]["domain"]
    return domain


def publish(dns: DnsServer, domain: dict[str, Any]) -> None:
    dns.publish(domain["verificationRecordName"], domain["verificationRecord"])


async def test_a_domain_says_which_txt_record_to_publish(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    domain = await add(gql, team, "Mail.Acme.example")

    assert domain["name"] == "mail.acme.example"
    assert domain["verificationRecordName"] == "_mailkeys.mail.acme.example"
    assert domain["verificationRecord"].startswith("mailkeys-verify=")
    assert len(domain["verificationRecord"]) == len("mailkeys-verify=") + 32
    assert (domain["verified"], domain["verifiedAt"]) == (False, None)


async def test_verification_needs_the_published_txt_record(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    team = await make_team()
    domain = await add(gql, team)

    # nothing published
    missing = await gql(VERIFY, {"id": domain["id"]}, token=team.token)
    # a record, but with another value (another team's, say)
    dns_zone.publish(domain["verificationRecordName"], "mailkeys-verify=somebody-else")
    wrong = await gql(VERIFY, {"id": domain["id"]}, token=team.token)
    # the right value at the apex, not at the record name
    dns_zone.publish(domain["name"], domain["verificationRecord"])
    elsewhere = await gql(VERIFY, {"id": domain["id"]}, token=team.token)

    for result in (missing, wrong, elsewhere):
        assert result.codes == ["CONFLICT"]
        assert result.errors[0]["extensions"]["reason"] == "DNS_RECORD_NOT_FOUND"
        assert result.errors[0]["extensions"]["retryable"] is False
        assert domain["verificationRecordName"] in result.errors[0]["message"]
    listed = (await gql(DOMAINS, token=team.token)).ok()["domains"]["edges"][0]["node"]
    assert (listed["verified"], listed["verifiedAt"]) == (False, None)


async def test_a_published_record_verifies_the_domain_once_and_for_all(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    team = await make_team()
    domain = await add(gql, team)
    dns_zone.publish(domain["verificationRecordName"], "v=spf1 -all")  # other values may stay
    publish(dns_zone, domain)

    verified = (await gql(VERIFY, {"id": domain["id"]}, token=team.token)).ok()
    dns_zone.withdraw(domain["verificationRecordName"])
    again = (await gql(VERIFY, {"id": domain["id"]}, token=team.token)).ok()

    node = verified["domainVerify"]["domain"]
    assert node["verified"] is True
    assert node["verifiedAt"] is not None
    assert again["domainVerify"]["domain"] == node  # idempotent, no DNS needed any more


@pytest.mark.parametrize("failure", ["silent", "closed port", "SERVFAIL"])
async def test_a_resolver_that_does_not_answer_is_unavailable(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer, silent_nameserver: str, failure: str
) -> None:
    team = await make_team()
    domain = await add(gql, team)
    publish(dns_zone, domain)
    nameserver = {
        "silent": silent_nameserver,
        "closed port": f"127.0.0.1:{closed_udp_port()}",
        "SERVFAIL": dns_zone.nameserver,
    }[failure]
    dns_zone.zone.failing = failure == "SERVFAIL"

    result = await verify_through(
        test_settings(dns_nameservers=(nameserver,), dns_timeout_ms=300), domain["id"], team
    )

    errors = result.json()["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["UNAVAILABLE"]
    assert errors[0]["extensions"]["retryable"] is True
    assert errors[0]["extensions"]["reason"] == "DNS_UNAVAILABLE"
    assert result.status_code == 503
    assert (await Domain.get(id=domain["id"])).verified_name is None


def closed_udp_port() -> int:
    """A UDP port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def verify_through(settings: Settings, domain_id: str, team: TeamHandle) -> httpx.Response:
    """domainVerify on an app built from `settings` (the same database as the test's)."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": VERIFY, "variables": {"id": domain_id}},
            headers={"Authorization": f"Bearer {team.token}"},
        )
    await cast(Services, app.state.services).limiter.close()
    return response


async def test_a_domain_verified_by_one_team_cannot_be_added_by_another(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    owner = await make_team("Owner")
    other = await make_team("Other")
    domain = await add(gql, owner)
    publish(dns_zone, domain)
    (await gql(VERIFY, {"id": domain["id"]}, token=owner.token)).ok()

    result = await gql(CREATE, {"name": "ACME.example."}, token=other.token)

    assert result.codes == ["CONFLICT"]
    assert result.errors[0]["extensions"]["reason"] == "DOMAIN_UNAVAILABLE"
    assert owner.id not in str(result.body)
    assert "Owner" not in str(result.body)


async def test_a_domain_verified_by_one_team_cannot_be_verified_by_another(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    owner = await make_team("Owner")
    other = await make_team("Other")
    theirs = await add(gql, other)  # added before the owner verified
    mine = await add(gql, owner)
    publish(dns_zone, mine)
    (await gql(VERIFY, {"id": mine["id"]}, token=owner.token)).ok()
    publish(dns_zone, theirs)  # say they once controlled the zone

    result = await gql(VERIFY, {"id": theirs["id"]}, token=other.token)

    assert result.codes == ["CONFLICT"]
    assert result.errors[0]["extensions"]["reason"] == "DOMAIN_UNAVAILABLE"
    assert owner.id not in str(result.body)
    assert mine["id"] not in str(result.body)
    assert (await Domain.get(id=theirs["id"])).verified_name is None


async def test_concurrent_verifications_of_one_name_make_one_holder(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    teams = [await make_team(f"T{i}") for i in range(4)]
    domains = [await add(gql, team) for team in teams]
    for domain in domains:
        publish(dns_zone, domain)

    results = await asyncio.gather(
        *(
            gql(VERIFY, {"id": domain["id"]}, token=team.token)
            for team, domain in zip(teams, domains, strict=True)
        )
    )

    assert sorted(tuple(result.codes) for result in results) == [
        (),
        ("CONFLICT",),
        ("CONFLICT",),
        ("CONFLICT",),
    ]
    assert await Domain.filter(verified_name="acme.example").count() == 1


async def test_the_database_holds_one_verified_name_whatever_the_code_does(
    make_team: MakeTeam,
) -> None:
    first = await make_team("A")
    second = await make_team("B")
    await Domain.create(id="dom_a", team_id=first.id, name="acme.example", verification_record="x")
    await Domain.filter(id="dom_a").update(verified_name="acme.example")
    await Domain.create(id="dom_b", team_id=second.id, name="acme.example", verification_record="y")

    with pytest.raises(IntegrityError):
        await Domain.filter(id="dom_b").update(verified_name="acme.example")


async def test_a_deleted_domain_can_be_claimed_by_another_team(
    gql: Gql, make_team: MakeTeam, dns_zone: DnsServer
) -> None:
    before = await make_team("Before")
    after = await make_team("After")
    old = await add(gql, before)
    publish(dns_zone, old)
    (await gql(VERIFY, {"id": old["id"]}, token=before.token)).ok()
    (await gql(DELETE, {"id": old["id"]}, token=before.token)).ok()
    dns_zone.withdraw(old["verificationRecordName"])

    new = await add(gql, after)
    publish(dns_zone, new)
    verified = (await gql(VERIFY, {"id": new["id"]}, token=after.token)).ok()

    assert verified["domainVerify"]["domain"]["verified"] is True


@pytest.mark.parametrize("name", ["example.com", "EXAMPLE.COM."])
async def test_the_shared_domain_cannot_be_added(gql: Gql, make_team: MakeTeam, name: str) -> None:
    team = await make_team()

    result = await gql(CREATE, {"name": name}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "name"


@pytest.mark.parametrize(
    "name",
    [
        "acme\u200b.example",
        "acme.example\x00",
        "\u202eelpmaxe.emca",
        "acme.local",
        "acme.test",
        "ops@acme.example",
        "a" * 300 + ".example",
    ],
)
async def test_domain_names_with_hidden_characters_or_reserved_names_are_refused(
    gql: Gql, make_team: MakeTeam, name: str
) -> None:
    team = await make_team()

    result = await gql(CREATE, {"name": name}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "name"


async def test_an_internationalised_name_is_one_name_however_it_is_spelt(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()

    unicode = await add(gql, team, "Bücher.example")
    ascii_form = await gql(CREATE, {"name": "xn--bcher-kva.example"}, token=team.token)

    assert unicode["name"] == "xn--bcher-kva.example"
    assert unicode["verificationRecordName"] == "_mailkeys.xn--bcher-kva.example"
    assert ascii_form.codes == ["CONFLICT"]
