"""IP allowlists per key and per mailbox password: set, changed without rotation, enforced.

Requests come from chosen peer addresses through the real ASGI app (httpx's ASGITransport
takes the client address); X-Forwarded-For counts only from a trusted proxy.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from mailkeys.auth.allowlist import admits, clean_allowlist, parse_address
from mailkeys.auth.client_address import client_address
from mailkeys.errors import InvalidInputError
from mailkeys.models import AuditEvent
from mailkeys.settings import Settings, parse_networks
from tests.conftest import Gql, GqlResult, KeyHandle, TeamHandle, test_settings

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]
VIEWER = "{ viewer { apiKey { id allowedIps } } }"
UPDATE = """
mutation($id: ID!, $ips: [String!]) {
  apiKeyAllowedIpsUpdate(input: {id: $id, allowedIps: $ips}) { apiKey { id allowedIps } }
}
"""
ROTATE = """
mutation($id: ID!) { apiKeyRotate(input: {id: $id}) { apiKey { allowedIps } secret } }
"""
REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }"
OFFICE = "203.0.113.0/24"


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    """The test settings; a test may override some through indirect parametrization."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return test_settings(**overrides)


From = Callable[..., Awaitable[GqlResult]]


@pytest.fixture
def gql_from(db: None, app: Starlette) -> From:
    """Run a GraphQL document as a client at `peer` (optionally through proxies)."""

    async def run(
        peer: str,
        query: str,
        token: str,
        variables: dict[str, Any] | None = None,
        forwarded_for: str | None = None,
    ) -> GqlResult:
        transport = httpx.ASGITransport(app=app, client=(peer, 50_000))
        headers = {"Authorization": f"Bearer {token}"}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as c:
            response = await c.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        return GqlResult(response.status_code, response.headers, response.json())

    return run


async def test_a_key_with_an_allowlist_works_only_from_its_addresses(
    gql_from: From,
    make_team: MakeTeam,
    make_key: MakeKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a key that may be used from an office network and one IPv6 address
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly", allowedIps=[OFFICE, "2001:db8::1"])

    # when it is used from inside, from an IPv4-mapped inside address, and from outside
    inside = await gql_from("203.0.113.7", VIEWER, key.token)
    mapped = await gql_from("::ffff:203.0.113.9", VIEWER, key.token)
    six = await gql_from("2001:db8::1", VIEWER, key.token)
    with caplog.at_level(logging.INFO, logger="mailkeys.requests"):
        outside = await gql_from("198.51.100.1", VIEWER, key.token)
    forged = await gql_from("198.51.100.1", VIEWER, key.token[:-8] + "AAAAAAAA")

    # then only the outside use fails, exactly like any other failed authentication
    assert inside.ok()["viewer"]["apiKey"] == {"id": key.id, "allowedIps": [OFFICE, "2001:db8::1"]}
    assert mapped.ok()
    assert six.ok()
    assert outside.status == forged.status == 401
    assert outside.codes == forged.codes == ["UNAUTHENTICATED"]
    assert outside.errors[0]["message"] == forged.errors[0]["message"]
    # and the request log says why, without the token
    lines = [r for r in caplog.records if r.name == "mailkeys.requests"]
    assert [getattr(r, "auth_failure", None) for r in lines] == ["ip_not_allowed"]
    assert key.token not in caplog.text


async def test_a_key_without_an_allowlist_works_from_anywhere(
    gql_from: From, make_team: MakeTeam
) -> None:
    team = await make_team()

    results = [await gql_from(peer, VIEWER, team.token) for peer in ("198.51.100.1", "::1")]

    assert [result.ok()["viewer"]["apiKey"]["allowedIps"] for result in results] == [None, None]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["10.0.0.0/8", "10.0.0.0/8", " 192.0.2.1 "], ["10.0.0.0/8", "192.0.2.1"]),
        (["2001:DB8::/32", "2001:db8:0::1"], ["2001:db8::/32", "2001:db8::1"]),
        (["0.0.0.0/0", "::/0"], ["0.0.0.0/0", "::/0"]),
        (["192.0.2.1/32"], ["192.0.2.1/32"]),
    ],
)
async def test_allowlists_are_kept_in_canonical_form(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, given: list[str], stored: list[str]
) -> None:
    team = await make_team()

    key = await make_key(team.token, preset="root:readonly", allowedIps=given)
    shown = (
        await gql("query($id: ID!) { apiKey(id: $id) { allowedIps } }", {"id": key.id}, team.token)
    ).ok()

    assert shown["apiKey"]["allowedIps"] == stored


@pytest.mark.parametrize(
    "allowed_ips",
    [
        [],
        ["10.0.0.1/8"],  # host bits set: 10.0.0.0/8 or 10.0.0.1?
        ["not-an-address"],
        ["fe80::1%eth0"],
        ["::ffff:192.0.2.1"],  # write it as 192.0.2.1
        ["192.0.2.1:443"],
        ["010.0.0.1"],
        ["1" * 200],
        [f"10.0.{i // 256}.{i % 256}" for i in range(101)],
    ],
)
async def test_bad_allowlists_are_refused_naming_the_field(
    gql: Gql, make_team: MakeTeam, allowed_ips: list[str]
) -> None:
    team = await make_team()
    key_input = {"type": "INFRASTRUCTURE", "preset": "root:readonly", "allowedIps": allowed_ips}

    created = await gql(
        "mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { secret } }",
        {"input": key_input},
        team.token,
    )
    updated = await gql(UPDATE, {"id": team.key_id, "ips": allowed_ips}, team.token)

    for result in (created, updated):
        assert result.codes == ["BAD_USER_INPUT"]
        assert result.errors[0]["extensions"]["field"] == "allowedIps"


async def test_an_allowlist_changes_without_rotation_and_is_audited(
    gql: Gql, gql_from: From, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a key used from the office
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly", allowedIps=[OFFICE])
    assert (await gql_from("203.0.113.7", VIEWER, key.token)).ok()

    # when its allowlist moves to another network, then is lifted
    moved = (await gql(UPDATE, {"id": key.id, "ips": ["198.51.100.0/24"]}, team.token)).ok()
    from_office = await gql_from("203.0.113.7", VIEWER, key.token)
    from_new = await gql_from("198.51.100.9", VIEWER, key.token)
    lifted = (await gql(UPDATE, {"id": key.id, "ips": None}, team.token)).ok()
    from_anywhere = await gql_from("192.0.2.55", VIEWER, key.token)

    # then the same token follows each change on the next request
    assert moved["apiKeyAllowedIpsUpdate"]["apiKey"] == {
        "id": key.id,
        "allowedIps": ["198.51.100.0/24"],
    }
    assert from_office.codes == ["UNAUTHENTICATED"]
    assert from_new.ok()
    assert lifted["apiKeyAllowedIpsUpdate"]["apiKey"]["allowedIps"] is None
    assert from_anywhere.ok()
    # and each change is an audit event with the list before and after
    events = await AuditEvent.filter(action="key.allowed_ips.update").order_by("created_at")
    assert [(e.target_id, e.outcome) for e in events] == [(key.id, "success")] * 2
    assert [e.details for e in events] == [
        {"allowed_ips": ["198.51.100.0/24"], "previous": [OFFICE]},
        {"allowed_ips": None, "previous": ["198.51.100.0/24"]},
    ]


async def test_changing_an_allowlist_needs_what_issuing_the_key_needs(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    other_team = await make_team("Other")
    reader = await make_key(team.token, preset="root:readonly")
    revoked = await make_key(team.token, preset="root:readonly")
    (await gql(REVOKE, {"id": revoked.id}, team.token)).ok()

    by_reader = await gql(UPDATE, {"id": team.key_id, "ips": [OFFICE]}, reader.token)
    other_teams = await gql(UPDATE, {"id": other_team.key_id, "ips": [OFFICE]}, team.token)
    of_revoked = await gql(UPDATE, {"id": revoked.id, "ips": [OFFICE]}, team.token)

    assert by_reader.codes == ["FORBIDDEN"]
    assert other_teams.codes == ["NOT_FOUND"]
    assert of_revoked.codes == ["CONFLICT"]


async def test_a_rotation_copies_the_allowlist(
    gql: Gql, gql_from: From, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly", allowedIps=[OFFICE])

    rotated = (await gql(ROTATE, {"id": key.id}, team.token)).ok()["apiKeyRotate"]

    assert rotated["apiKey"]["allowedIps"] == [OFFICE]
    assert (await gql_from("203.0.113.7", VIEWER, rotated["secret"])).ok()
    assert (await gql_from("198.51.100.1", VIEWER, rotated["secret"])).codes == ["UNAUTHENTICATED"]


# --- whose address: the peer, or what trusted proxies say --------------------------------------


async def test_x_forwarded_for_is_ignored_by_default(
    gql_from: From, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly", allowedIps=[OFFICE])

    claimed = await gql_from("127.0.0.1", VIEWER, key.token, forwarded_for="203.0.113.7")

    assert claimed.codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "settings", [{"trusted_proxies": parse_networks("test", "10.0.0.0/8")}], indirect=True
)
async def test_a_trusted_proxy_names_the_client(
    gql_from: From, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset="root:readonly", allowedIps=[OFFICE])

    # the proxy appended the office address it saw; the client's own claim is to its left
    through_proxy = await gql_from(
        "10.0.0.5", VIEWER, key.token, forwarded_for="198.51.100.1, 203.0.113.7"
    )
    # a client outside claims the office address; the proxy appended the real one
    spoofed = await gql_from(
        "10.0.0.5", VIEWER, key.token, forwarded_for="203.0.113.7, 198.51.100.1"
    )
    # a peer that is not a trusted proxy is the client, whatever it forwards
    untrusted_peer = await gql_from("192.0.2.1", VIEWER, key.token, forwarded_for="203.0.113.7")

    assert through_proxy.ok()
    assert spoofed.codes == ["UNAUTHENTICATED"]
    assert untrusted_peer.codes == ["UNAUTHENTICATED"]


PROXIES = parse_networks("test", "10.0.0.0/8,fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "client"),
    [
        ("192.0.2.1", ["198.51.100.1"], (), "192.0.2.1"),  # no trusted proxy: the peer
        ("192.0.2.1", ["198.51.100.1"], PROXIES, "192.0.2.1"),  # peer not trusted
        ("10.0.0.1", [], PROXIES, "10.0.0.1"),  # trusted peer, no header: the peer
        ("10.0.0.1", ["198.51.100.1, 10.0.0.2"], PROXIES, "198.51.100.1"),  # two proxies
        ("10.0.0.1", ["203.0.113.9, 198.51.100.1"], PROXIES, "198.51.100.1"),  # right-most
        ("10.0.0.1", ["203.0.113.9", "198.51.100.1"], PROXIES, "198.51.100.1"),  # two headers
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], PROXIES, "10.0.0.3"),  # all trusted: left-most
        ("10.0.0.1", ["198.51.100.1, garbage"], PROXIES, None),  # unreadable hop: unknown
        ("10.0.0.1", ["198.51.100.1,"], PROXIES, "198.51.100.1"),  # empty hops are skipped
        ("fd00::1", ["2001:db8::7"], PROXIES, "2001:db8::7"),
        ("::ffff:10.0.0.1", ["::ffff:198.51.100.1"], PROXIES, "198.51.100.1"),
        (None, ["198.51.100.1"], PROXIES, None),  # no peer (a Unix socket)
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_added(
    peer: str | None, forwarded_for: list[str], proxies: Any, client: str | None
) -> None:
    found = client_address(peer, forwarded_for, proxies)

    assert (str(found) if found is not None else None) == client


def test_an_allowlist_admits_what_it_lists_and_nothing_else() -> None:
    allowlist = clean_allowlist("allowedIps", [OFFICE, "2001:db8::/32", "192.0.2.1"])

    def admitted(address: str) -> bool:
        return admits(allowlist, parse_address(address))

    assert all(map(admitted, ["203.0.113.0", "203.0.113.255", "2001:db8::9", "192.0.2.1"]))
    assert not any(map(admitted, ["203.0.114.0", "2001:db9::", "192.0.2.2", "::"]))
    assert not admits(allowlist, None)  # an unknown client
    assert admits(None, None)  # no allowlist
    with pytest.raises(InvalidInputError):
        clean_allowlist("allowedIps", ["203.0.113.1/24"])
