"""People over GraphQL: signing in with the provider's JWT, teams, invitations, roles.

Tokens come from a real OpenID provider (tests/oidc.py: the npm `oidc-provider`, through the
authorization code flow with PKCE); hand-made ones only where a token must be wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from mailkeys import clock
from mailkeys.clock import ManualClock
from mailkeys.models import Membership
from mailkeys.settings import Settings
from tests.conftest import GATEWAY_TOKEN, GqlResult, test_settings
from tests.handmade_tokens import BAD_TOKENS, BadToken
from tests.oidc import OidcProvider

DASHBOARD = "http://127.0.0.1:8765"
VIEWER = "{ viewer { kind role person { id email } team { id name } } }"
TEAM_CREATE = """
mutation($name: String!) {
  teamCreate(input: {name: $name}) { team { id name } apiKey { id } secret membership { role } }
}
"""
INVITE = """
mutation($email: String!, $role: MemberRole!) {
  invitationCreate(input: {email: $email, role: $role}) { invitation { id role email } }
}
"""
MY_INVITATIONS = "{ viewer { invitations { id role team { id name } } } }"
ACCEPT = "mutation($id: ID!) { invitationAccept(input: {id: $id}) { membership { id role } } }"
MEMBERS = "{ teamMembers { edges { node { id role person { email } } } } }"
ROLE_UPDATE = """
mutation($id: ID!, $role: MemberRole!) {
  memberRoleUpdate(input: {id: $id, role: $role}) { membership { id role } }
}
"""
REMOVE = "mutation($id: ID!) { memberRemove(input: {id: $id}) { membership { id } } }"
TRANSFER = "mutation($id: ID!) { teamOwnershipTransfer(input: {id: $id}) { membership { role } } }"
KEY_CREATE = """
mutation($preset: String!) {
  apiKeyCreate(input: {type: INFRASTRUCTURE, preset: $preset, name: "made by a person"}) {
    apiKey { id createdBy } secret
  }
}
"""
KEYS = "{ apiKeys { totalCount edges { node { id } } } }"
DELETE = """
mutation($name: String!) { teamDelete(input: {confirmName: $name}) { team { id purgeAfter } } }
"""
CANCEL = "mutation { teamDeletionCancel { team { id purgeAfter } } }"
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
PASSWORD_CREATE = """
mutation($mailbox: ID!) {
  mailboxPasswordCreate(input: {mailboxId: $mailbox, appName: "phone"}) { password }
}
"""
AUDIT = "{ auditEvents(first: 50) { edges { node { action actor actorEmail outcome } } } }"


@pytest.fixture
def settings(oidc: OidcProvider) -> Settings:
    return test_settings(oidc_issuer=oidc.issuer, cors_origins=(DASHBOARD,))


Ask = Callable[..., Awaitable[GqlResult]]


@pytest.fixture
def ask(client: httpx.AsyncClient) -> Ask:
    """Run a document as a person: their token, and the team the request names."""

    async def run(query: str, token: str, team: str | None = None, **variables: Any) -> GqlResult:
        headers = {"Authorization": f"Bearer {token}"}
        if team is not None:
            headers["X-Team-Id"] = team
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        return GqlResult(response.status_code, response.headers, response.json())

    return run


async def team_of(ask: Ask, token: str, name: str = "Alice Co") -> str:
    created = (await ask(TEAM_CREATE, token, name=name)).ok()["teamCreate"]
    assert created["membership"] == {"role": "OWNER"}
    assert created["apiKey"] is None
    assert created["secret"] is None
    return str(created["team"]["id"])


async def join(ask: Ask, owner: str, team: str, token: str, email: str, role: str) -> str:
    """Invite `email` with `role` and accept as them; their membership id."""
    (await ask(INVITE, owner, team, email=email, role=role)).ok()
    [invitation] = (await ask(MY_INVITATIONS, token)).ok()["viewer"]["invitations"]
    accepted = (await ask(ACCEPT, token, id=invitation["id"])).ok()
    return str(accepted["invitationAccept"]["membership"]["id"])


async def test_a_person_signs_in_and_starts_a_team_of_their_own(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice = oidc.login("alice@example.com")

    before = (await ask(VIEWER, alice)).ok()["viewer"]
    team = await team_of(ask, alice)
    inside = (await ask(VIEWER, alice, team)).ok()["viewer"]

    assert before["kind"] == "PERSON"
    assert before["person"]["email"] == "alice@example.com"
    assert before["team"] is None
    assert before["role"] is None
    assert inside["role"] == "OWNER"
    assert inside["team"] == {"id": team, "name": "Alice Co"}


async def test_an_invited_person_accepts_once_with_the_matching_verified_email(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice, bob = oidc.login("alice@example.com"), oidc.login("bob@example.com")
    carol = oidc.login("carol@example.com")
    team = await team_of(ask, alice)
    (await ask(INVITE, alice, team, email="Bob@Example.com", role="DEVELOPER")).ok()
    [invitation] = (await ask(MY_INVITATIONS, bob)).ok()["viewer"]["invitations"]

    someone_else = await ask(ACCEPT, carol, id=invitation["id"])
    accepted = await ask(ACCEPT, bob, id=invitation["id"])
    again = await ask(ACCEPT, bob, id=invitation["id"])

    assert someone_else.codes == ["NOT_FOUND"]  # not for carol, and she learns nothing more
    assert accepted.ok()["invitationAccept"]["membership"]["role"] == "DEVELOPER"
    assert again.codes == ["CONFLICT"]
    assert again.errors[0]["extensions"]["reason"] == "INVITATION_ACCEPTED"
    assert await Membership.filter(team_id=team).count() == 2
    assert (await ask(VIEWER, bob, team)).ok()["viewer"]["role"] == "DEVELOPER"


async def test_an_expired_invitation_changes_nothing(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    with clock.using(ManualClock(clock.time())) as time:
        alice = oidc.sign(oidc.claims_for("alice@example.com", now=time.time()))
        team = await team_of(ask, alice)
        invited = (await ask(INVITE, alice, team, email="bob@example.com", role="MEMBER")).ok()

        time.advance(8 * 24 * 3600)
        bob = oidc.sign(oidc.claims_for("bob@example.com", now=time.time()))
        late = await ask(ACCEPT, bob, id=invited["invitationCreate"]["invitation"]["id"])

    assert late.codes == ["CONFLICT"]
    assert late.errors[0]["extensions"]["reason"] == "INVITATION_EXPIRED"
    assert await Membership.filter(team_id=team).count() == 1


async def test_a_developer_issues_only_what_their_role_holds(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice, dev = oidc.login("alice@example.com"), oidc.login("dev@example.com")
    team = await team_of(ask, alice)
    await join(ask, alice, team, dev, "dev@example.com", "DEVELOPER")

    full = await ask(KEY_CREATE, dev, team, preset="root:full")
    webhooks = await ask(KEY_CREATE, dev, team, preset="root:webhook_admin")

    assert full.codes == ["FORBIDDEN"]
    created = webhooks.ok()["apiKeyCreate"]
    assert created["secret"].startswith("smx_root_")
    # the key records who made it, and the audit trail names the person by id and email
    dev_id = (await ask(VIEWER, dev)).ok()["viewer"]["person"]["id"]
    assert created["apiKey"]["createdBy"] == f"person:{dev_id}"
    events = (await ask(AUDIT, alice, team)).ok()["auditEvents"]["edges"]
    assert {
        "action": "key.create",
        "actor": f"person:{dev_id}",
        "actorEmail": "dev@example.com",
        "outcome": "success",
    } in [edge["node"] for edge in events]


async def test_role_rules_answer_forbidden_naming_the_rule(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice, admin = oidc.login("alice@example.com"), oidc.login("admin@example.com")
    team = await team_of(ask, alice)
    admin_membership = await join(ask, alice, team, admin, "admin@example.com", "ADMIN")
    members = (await ask(MEMBERS, alice, team)).ok()["teamMembers"]["edges"]
    owner_membership = next(e["node"]["id"] for e in members if e["node"]["role"] == "OWNER")

    cases = {
        "OWN_ROLE": await ask(ROLE_UPDATE, admin, team, id=admin_membership, role="MEMBER"),
        "SELF_REMOVAL": await ask(REMOVE, admin, team, id=admin_membership),
        "OWNER_REMOVAL": await ask(REMOVE, admin, team, id=owner_membership),
        "OWNER_BY_TRANSFER": await ask(INVITE, alice, team, email="x@example.com", role="OWNER"),
        "ROLE_NOT_ASSIGNABLE": await ask(INVITE, admin, team, email="y@example.com", role="ADMIN"),
    }

    for rule, result in cases.items():
        assert result.codes == ["FORBIDDEN"], rule
        assert result.errors[0]["extensions"]["rule"] == rule


async def test_a_removed_member_is_refused_on_their_next_request(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice, bob = oidc.login("alice@example.com"), oidc.login("bob@example.com")
    team = await team_of(ask, alice)
    membership = await join(ask, alice, team, bob, "bob@example.com", "MEMBER")
    assert (await ask(KEYS, bob, team)).ok()

    (await ask(REMOVE, alice, team, id=membership)).ok()

    assert (await ask(KEYS, bob, team)).codes == ["NOT_FOUND"]  # the team is not theirs


async def test_ownership_moves_only_by_transfer(ask: Ask, db: None, oidc: OidcProvider) -> None:
    alice, bob = oidc.login("alice@example.com"), oidc.login("bob@example.com")
    team = await team_of(ask, alice)
    membership = await join(ask, alice, team, bob, "bob@example.com", "ADMIN")

    handed = await ask(TRANSFER, alice, team, id=membership)

    assert handed.ok()["teamOwnershipTransfer"]["membership"]["role"] == "OWNER"
    assert (await ask(VIEWER, alice, team)).ok()["viewer"]["role"] == "ADMIN"
    assert (await ask(TRANSFER, alice, team, id=membership)).codes == ["FORBIDDEN"]


async def test_a_team_a_person_is_not_in_answers_as_one_that_does_not_exist(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice, mallory = oidc.login("alice@example.com"), oidc.login("mallory@example.com")
    team = await team_of(ask, alice)

    theirs = await ask(KEYS, mallory, team)
    nowhere = await ask(KEYS, mallory, "team_0000000000000000")

    assert theirs.codes == nowhere.codes == ["NOT_FOUND"]
    assert theirs.errors[0]["message"] == nowhere.errors[0]["message"]
    assert (await ask(VIEWER, mallory, team)).ok()["viewer"]["team"] is None


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_a_bad_token_is_unauthenticated_with_an_invalid_token_challenge(
    ask: Ask, db: None, oidc: OidcProvider, kind: BadToken
) -> None:
    result = await ask(VIEWER, oidc.bad_token(kind))

    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert 'error="invalid_token"' in result.headers["www-authenticate"]


async def test_team_deletion_pauses_members_until_the_owner_cancels(
    ask: Ask, db: None, oidc: OidcProvider
) -> None:
    alice, bob = oidc.login("alice@example.com"), oidc.login("bob@example.com")
    team = await team_of(ask, alice)
    await join(ask, alice, team, bob, "bob@example.com", "ADMIN")

    assert (await ask(DELETE, alice, team, name="alice co")).codes == ["BAD_USER_INPUT"]
    scheduled = (await ask(DELETE, alice, team, name="Alice Co")).ok()["teamDelete"]["team"]
    paused = await ask(KEYS, bob, team)
    owner_still = await ask(KEYS, alice, team)
    (await ask(CANCEL, alice, team)).ok()
    back = await ask(KEYS, bob, team)

    assert scheduled["purgeAfter"] is not None
    assert paused.codes == ["FORBIDDEN"]
    assert paused.errors[0]["extensions"]["reason"] == "TEAM_DELETION_PENDING"
    assert owner_still.ok()
    assert back.ok()


async def test_team_deletion_pauses_the_teams_keys_and_passwords_until_cancelled(
    ask: Ask, client: httpx.AsyncClient, db: None, oidc: OidcProvider
) -> None:
    alice = oidc.login("alice@example.com")
    team = await team_of(ask, alice)
    key = (await ask(KEY_CREATE, alice, team, preset="root:full")).ok()["apiKeyCreate"]["secret"]
    mailbox = (await ask(MAILBOX_CREATE, key, address="desk@example.com")).ok()
    mailbox_id = mailbox["mailboxCreate"]["mailbox"]["id"]
    password = (await ask(PASSWORD_CREATE, key, mailbox=mailbox_id)).ok()
    secret = password["mailboxPasswordCreate"]["password"]

    async def gateway_check() -> bool:
        response = await client.post(
            "/v1/credentials/check",
            json={"address": "desk@example.com", "secret": secret, "protocol": "IMAP"},
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
        )
        return bool(response.json()["allowed"])

    before = (await gateway_check(), (await ask(KEYS, key)).ok())
    (await ask(DELETE, alice, team, name="Alice Co")).ok()
    paused_key, paused_check = await ask(KEYS, key), await gateway_check()
    (await ask(CANCEL, alice, team)).ok()
    after = (await gateway_check(), (await ask(KEYS, key)).ok())

    assert before[0]
    assert after[0]
    assert paused_key.codes == ["FORBIDDEN"]
    assert paused_key.errors[0]["extensions"]["reason"] == "TEAM_DELETION_PENDING"
    assert paused_check is False


async def test_cors_answers_the_configured_origin_only(client: httpx.AsyncClient, db: None) -> None:
    def preflight(origin: str) -> Awaitable[httpx.Response]:
        return client.options(
            "/graphql",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-team-id",
            },
        )

    allowed, other = await preflight(DASHBOARD), await preflight("https://evil.example")

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == DASHBOARD
    assert "x-team-id" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers  # no cookies, ever
    assert "access-control-allow-origin" not in other.headers
