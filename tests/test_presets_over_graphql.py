"""Domains, webhooks, billing and audit over GraphQL, and what each preset may do there.

The truth table at the end is docs/permissions.md read operation by operation: for every
role preset, a
sending key and a mailbox key, each GraphQL operation of a team is either allowed (it answers
without error, given valid inputs) or FORBIDDEN. This file says which permission each
operation needs; who holds it is looked up in policy_tests/shipped.csv, the one written
statement of the presets' grants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mailkeys.models import Domain, Webhook
from mailkeys.policy import CredentialKind
from mailkeys.policy.vocabulary import PERMISSION_DOMAIN
from mailkeys.settings import Settings
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle, test_settings
from tests.dns_zone import DnsServer
from tests.shipped_table import OWN_MAILBOX, expected, presets

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

DOMAIN_FIELDS = "id name verificationRecordName verificationRecord verifiedAt createdAt"
DOMAIN_CREATE = f"""
mutation($name: String!) {{
  domainCreate(input: {{name: $name}}) {{ domain {{ {DOMAIN_FIELDS} }} }}
}}
"""
DOMAIN_VERIFY = f"""
mutation($id: ID!) {{ domainVerify(input: {{id: $id}}) {{ domain {{ {DOMAIN_FIELDS} }} }} }}
"""
DOMAIN_DELETE = "mutation($id: ID!) { domainDelete(input: {id: $id}) { domain { id } } }"
DOMAINS = f"{{ domains {{ edges {{ node {{ {DOMAIN_FIELDS} }} }} totalCount }} }}"
WEBHOOK_FIELDS = "id url events active createdAt"
WEBHOOK_CREATE = f"""
mutation($url: String!, $events: [String!]!) {{
  webhookCreate(input: {{url: $url, events: $events}}) {{
    webhook {{ {WEBHOOK_FIELDS} }} signingSecret
  }}
}}
"""
WEBHOOK_UPDATE = f"""
mutation($input: WebhookUpdateInput!) {{
  webhookUpdate(input: $input) {{ webhook {{ {WEBHOOK_FIELDS} }} }}
}}
"""
WEBHOOK_ROTATE = f"""
mutation($id: ID!) {{
  webhookSecretRotate(input: {{id: $id}}) {{ webhook {{ {WEBHOOK_FIELDS} }} signingSecret }}
}}
"""
WEBHOOK_DELETE = "mutation($id: ID!) { webhookDelete(input: {id: $id}) { webhook { id } } }"
WEBHOOKS = f"{{ webhooks {{ edges {{ node {{ {WEBHOOK_FIELDS} }} }} totalCount }} }}"
BILLING_FIELDS = "company email address taxId"
BILLING = f"{{ billingProfile {{ {BILLING_FIELDS} }} }}"
BILLING_UPDATE = f"""
mutation($input: BillingProfileUpdateInput!) {{
  billingProfileUpdate(input: $input) {{ billingProfile {{ {BILLING_FIELDS} }} }}
}}
"""
AUDIT = "{ auditEvents(first: 100) { edges { node { action actor targetId outcome details } } } }"
LIMITS = "{ viewer { team { limits { resource used limit } } } }"
SET_LIMIT = """
mutation($team: ID!, $resource: LimitedResource!, $limit: Int!) {
  teamLimitsUpdate(input: {teamId: $team, resource: $resource, limit: $limit}) { team { id } }
}
"""
HOOK_URL = "https://hooks.example.com/mailkeys"


@pytest.fixture
def settings(dns_zone: DnsServer) -> Settings:
    """Domains are verified against the test's DNS server."""
    return test_settings(dns_nameservers=(dns_zone.nameserver,))


async def add_domain(
    gql: Gql, token: str, name: str = "acme.example", dns: DnsServer | None = None
) -> dict[str, Any]:
    """Create a domain and return it; with `dns`, its verification record is published."""
    domain: dict[str, Any] = (await gql(DOMAIN_CREATE, {"name": name}, token=token)).ok()[
        "domainCreate"
    ]["domain"]
    if dns is not None:
        dns.publish(domain["verificationRecordName"], domain["verificationRecord"])
    return domain


async def add_webhook(gql: Gql, token: str, url: str = HOOK_URL) -> dict[str, Any]:
    """Create a webhook and return the payload (webhook and signing secret)."""
    variables = {"url": url, "events": ["email.delivered", "email.bounced"]}
    payload: dict[str, Any] = (await gql(WEBHOOK_CREATE, variables, token=token)).ok()[
        "webhookCreate"
    ]
    return payload


# --- domains ---------------------------------------------------------------------------------


async def test_domain_lifecycle(gql: Gql, make_team: MakeTeam, dns_zone: DnsServer) -> None:
    team = await make_team()

    created = await add_domain(gql, team.token, "Mail.Example.com.", dns=dns_zone)
    verified = (await gql(DOMAIN_VERIFY, {"id": created["id"]}, token=team.token)).ok()
    again = (await gql(DOMAIN_VERIFY, {"id": created["id"]}, token=team.token)).ok()
    listed = (await gql(DOMAINS, token=team.token)).ok()["domains"]
    deleted = (await gql(DOMAIN_DELETE, {"id": created["id"]}, token=team.token)).ok()
    after = (await gql(DOMAINS, token=team.token)).ok()["domains"]

    assert created["name"] == "mail.example.com"
    assert created["verificationRecord"]
    assert created["verifiedAt"] is None
    verified_at = verified["domainVerify"]["domain"]["verifiedAt"]
    assert verified_at is not None
    assert again["domainVerify"]["domain"]["verifiedAt"] == verified_at  # idempotent
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"]["verifiedAt"] == verified_at
    assert deleted["domainDelete"]["domain"]["id"] == created["id"]
    assert after["totalCount"] == 0
    assert (await gql(DOMAIN_VERIFY, {"id": created["id"]}, token=team.token)).codes == [
        "NOT_FOUND"
    ]


@pytest.mark.parametrize("name", ["", "localhost", "exa mple.com", "-bad.example.com"])
async def test_domain_name_is_checked(gql: Gql, make_team: MakeTeam, name: str) -> None:
    team = await make_team()

    result = await gql(DOMAIN_CREATE, {"name": name}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "name"


async def test_a_team_adds_a_domain_once(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    await add_domain(gql, team.token, "acme.example")

    result = await gql(DOMAIN_CREATE, {"name": "ACME.example"}, token=team.token)

    assert result.codes == ["CONFLICT"]


async def test_a_team_has_at_most_25_domains_by_default(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    await Domain.bulk_create(
        [
            Domain(
                id=f"dom_fill{i:02d}",
                team_id=team.id,
                name=f"d{i}.example.com",
                verification_record="x",
            )
            for i in range(24)
        ]
    )
    await add_domain(gql, team.token, "d24.example.com")

    result = await gql(DOMAIN_CREATE, {"name": "d25.example.com"}, token=team.token)

    assert result.codes == ["LIMIT_EXCEEDED"]
    assert result.errors[0]["extensions"]["resource"] == "domains"
    assert result.errors[0]["extensions"]["limit"] == 25
    assert await Domain.filter(team_id=team.id).count() == 25


async def test_the_operator_changes_the_domain_limit(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    variables = {"team": team.id, "resource": "DOMAINS", "limit": 1}
    (await gql(SET_LIMIT, variables, token=OPERATOR_TOKEN)).ok()
    await add_domain(gql, team.token, "one.example.com")

    result = await gql(DOMAIN_CREATE, {"name": "two.example.com"}, token=team.token)
    limits = (await gql(LIMITS, token=team.token)).ok()["viewer"]["team"]["limits"]

    assert result.codes == ["LIMIT_EXCEEDED"]
    assert {"resource": "DOMAINS", "used": 1, "limit": 1} in limits


async def test_another_teams_domain_is_not_found(gql: Gql, make_team: MakeTeam) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    domain = await add_domain(gql, theirs.token)

    verify = await gql(DOMAIN_VERIFY, {"id": domain["id"]}, token=mine.token)
    delete = await gql(DOMAIN_DELETE, {"id": domain["id"]}, token=mine.token)

    assert verify.codes == ["NOT_FOUND"]
    assert delete.codes == ["NOT_FOUND"]
    assert (await gql(DOMAINS, token=mine.token)).ok()["domains"]["totalCount"] == 0
    assert (await gql(DOMAINS, token=theirs.token)).ok()["domains"]["edges"][0]["node"][
        "verifiedAt"
    ] is None


# --- webhooks --------------------------------------------------------------------------------


async def test_webhook_lifecycle(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    created = await add_webhook(gql, team.token)
    webhook_id = created["webhook"]["id"]
    updated = (
        await gql(
            WEBHOOK_UPDATE,
            {
                "input": {
                    "id": webhook_id,
                    "url": "https://hooks.example.com/v2",
                    "events": ["key.revoked"],
                    "active": False,
                }
            },
            token=team.token,
        )
    ).ok()["webhookUpdate"]["webhook"]
    listed = (await gql(WEBHOOKS, token=team.token)).ok()["webhooks"]
    deleted = (await gql(WEBHOOK_DELETE, {"id": webhook_id}, token=team.token)).ok()
    after = (await gql(WEBHOOKS, token=team.token)).ok()["webhooks"]

    assert created["webhook"]["url"] == HOOK_URL
    assert created["webhook"]["events"] == ["email.bounced", "email.delivered"]
    assert created["webhook"]["active"] is True
    assert (updated["url"], updated["events"], updated["active"]) == (
        "https://hooks.example.com/v2",
        ["key.revoked"],
        False,
    )
    assert listed["edges"][0]["node"] == updated
    assert deleted["webhookDelete"]["webhook"]["id"] == webhook_id
    assert after["totalCount"] == 0


@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        ("http://hooks.example.com/x", ["email.delivered"], "url"),
        ("not a url", ["email.delivered"], "url"),
        (HOOK_URL, [], "events"),
        (HOOK_URL, ["email.opened.by.martians"], "events"),
    ],
)
async def test_webhook_input_is_checked(
    gql: Gql, make_team: MakeTeam, url: str, events: list[str], field: str
) -> None:
    team = await make_team()

    result = await gql(WEBHOOK_CREATE, {"url": url, "events": events}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field


async def test_the_signing_secret_is_shown_once_and_rotates(gql: Gql, make_team: MakeTeam) -> None:
    # given a webhook whose secret was shown at creation
    team = await make_team()
    created = await add_webhook(gql, team.token)
    first_secret = created["signingSecret"]

    # when the secret is rotated
    rotated = (await gql(WEBHOOK_ROTATE, {"id": created["webhook"]["id"]}, token=team.token)).ok()
    second_secret = rotated["webhookSecretRotate"]["signingSecret"]

    # then the new one differs and is shown only in the rotation's payload
    assert first_secret
    assert second_secret
    assert second_secret != first_secret
    assert (await Webhook.get(id=created["webhook"]["id"])).signing_secret == second_secret
    listed = (await gql(WEBHOOKS, token=team.token)).ok()
    events = (await gql(AUDIT, token=team.token)).ok()
    for secret in (first_secret, second_secret):
        assert secret not in repr(listed)
        assert secret not in repr(events)


async def test_the_webhook_type_has_no_secret_field(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    await add_webhook(gql, team.token)

    result = await gql("{ webhooks { edges { node { signingSecret } } } }", token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]  # a validation error: the field does not exist
    assert result.data is None


async def test_a_team_has_at_most_10_webhooks_by_default(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    for i in range(10):
        await add_webhook(gql, team.token, f"https://hooks.example.com/{i}")

    result = await gql(
        WEBHOOK_CREATE, {"url": HOOK_URL, "events": ["email.delivered"]}, token=team.token
    )

    assert result.codes == ["LIMIT_EXCEEDED"]
    assert result.errors[0]["extensions"]["resource"] == "webhooks"
    assert result.errors[0]["extensions"]["limit"] == 10
    assert await Webhook.filter(team_id=team.id).count() == 10


async def test_another_teams_webhook_is_not_found(gql: Gql, make_team: MakeTeam) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    webhook_id = (await add_webhook(gql, theirs.token))["webhook"]["id"]

    for query, variables in (
        (WEBHOOK_UPDATE, {"input": {"id": webhook_id, "active": False}}),
        (WEBHOOK_ROTATE, {"id": webhook_id}),
        (WEBHOOK_DELETE, {"id": webhook_id}),
    ):
        result = await gql(query, variables, token=mine.token)
        assert result.codes == ["NOT_FOUND"], query
    assert (await gql(WEBHOOKS, token=theirs.token)).ok()["webhooks"]["edges"][0]["node"][
        "active"
    ] is True


# --- billing and audit -----------------------------------------------------------------------


async def test_billing_profile_starts_empty_and_updates(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    empty = (await gql(BILLING, token=team.token)).ok()["billingProfile"]
    changed = (
        await gql(
            BILLING_UPDATE,
            {"input": {"company": "Acme Ltd", "email": "Billing@Acme.example", "taxId": "GB1"}},
            token=team.token,
        )
    ).ok()["billingProfileUpdate"]["billingProfile"]
    address_only = (
        await gql(BILLING_UPDATE, {"input": {"address": "1 Main St"}}, token=team.token)
    ).ok()["billingProfileUpdate"]["billingProfile"]
    read = (await gql(BILLING, token=team.token)).ok()["billingProfile"]

    assert empty == {"company": "", "email": "", "address": "", "taxId": ""}
    assert changed == {
        "company": "Acme Ltd",
        "email": "billing@acme.example",
        "address": "",
        "taxId": "GB1",
    }
    assert address_only == {**changed, "address": "1 Main St"}
    assert read == address_only


async def test_billing_email_is_checked(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    result = await gql(BILLING_UPDATE, {"input": {"email": "not an email"}}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "email"


async def test_billing_profiles_are_per_team(gql: Gql, make_team: MakeTeam) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    (await gql(BILLING_UPDATE, {"input": {"company": "Theirs"}}, token=theirs.token)).ok()

    assert (await gql(BILLING, token=mine.token)).ok()["billingProfile"]["company"] == ""


async def test_resource_changes_are_audited(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, dns_zone: DnsServer
) -> None:
    team = await make_team()
    provider_admin = await make_key(team.token, preset="root:provider_admin")
    domain = await add_domain(gql, provider_admin.token, dns=dns_zone)
    (await gql(DOMAIN_VERIFY, {"id": domain["id"]}, token=provider_admin.token)).ok()
    webhook = await add_webhook(gql, team.token)
    (await gql(WEBHOOK_ROTATE, {"id": webhook["webhook"]["id"]}, token=team.token)).ok()
    (await gql(BILLING_UPDATE, {"input": {"company": "Acme"}}, token=team.token)).ok()
    await gql(BILLING_UPDATE, {"input": {"company": "Evil"}}, token=provider_admin.token)

    events = (await gql(AUDIT, token=provider_admin.token)).ok()["auditEvents"]["edges"]

    seen = [(e["node"]["action"], e["node"]["outcome"]) for e in events]
    assert seen[:6] == [
        ("billing.update", "permission_denied"),
        ("billing.update", "success"),
        ("webhook.secret.rotate", "success"),
        ("webhook.create", "success"),
        ("domain.verify", "success"),
        ("domain.create", "success"),
    ]
    assert events[5]["node"]["actor"].endswith(provider_admin.id)
    assert events[5]["node"]["targetId"] == domain["id"]
    assert webhook["signingSecret"] not in repr(events)


@pytest.mark.parametrize("preset", presets())
async def test_audit_events_need_logs_read(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, preset: str
) -> None:
    team = await make_team()
    key = await make_key(team.token, preset=preset)

    result = await gql(AUDIT, token=key.token)

    allowed = expected(CredentialKind.INFRASTRUCTURE, "logs.read", preset=preset)
    assert result.codes == ([] if allowed else ["FORBIDDEN"])


# --- the truth table -------------------------------------------------------------------------

FULL = "root:full"
READ = "root:readonly"
PROV = "root:provider_admin"
BILL = "root:billing_admin"
HOOK = "root:webhook_admin"
SEND = "sending key"
MBOX = "mailbox key"
PRINCIPALS = (FULL, READ, PROV, BILL, HOOK, SEND, MBOX)
MAILBOX_PERMISSIONS = ["email.send", "email.receive", "mailbox.read", "mailbox.settings.update"]
ADDRESS = "ops@example.com"


def holds(principal: str, permission: str) -> bool:
    """Whether policy_tests/shipped.csv lets the principal use `permission`: on its team, or,
    for a mailbox permission, on the team's mailbox (the mailbox key's own)."""
    mailbox_class = frozenset(MAILBOX_PERMISSIONS)
    if principal == SEND:
        return expected(CredentialKind.SENDING, permission, permissions=mailbox_class)
    if principal == MBOX:
        own = frozenset({OWN_MAILBOX})
        return expected(
            CredentialKind.MAILBOX, permission, permissions=mailbox_class, mailboxes=own
        )
    return expected(CredentialKind.INFRASTRUCTURE, permission, preset=principal)


class World:
    """One team whose resources are made on first use by its first (Full Access) key.

    Each operation asks only for what its variables name, which keeps 300-odd cases fast.
    """

    def __init__(self, gql: Gql, team: TeamHandle, make_key: MakeKey, dns: DnsServer) -> None:
        self._gql = gql
        self._make_key = make_key
        self._dns = dns
        self.team = team
        self._made: dict[str, str] = {"team": team.id}

    async def _run(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        return (await self._gql(document, variables, token=self.team.token)).ok()

    async def get(self, resource: str) -> str:
        """The id (or, for `address`, the sender address) of a resource, made if needed."""
        if resource not in self._made:
            self._made[resource] = await self._make(resource)
        return self._made[resource]

    async def _make(self, resource: str) -> str:
        if resource == "address":
            await self.get("mailbox")
            return ADDRESS
        if resource == "mailbox":
            created = await self._run(
                "mutation($a: String!) { mailboxCreate(input: {address: $a}) { mailbox { id } } }",
                {"a": ADDRESS},
            )
            return str(created["mailboxCreate"]["mailbox"]["id"])
        if resource == "provider":
            created = await self._run(
                'mutation { providerCreate(input: {name: "ses"}) { provider { id } } }'
            )
            return str(created["providerCreate"]["provider"]["id"])
        if resource == "group":
            created = await self._run(
                'mutation($p: ID!) { deliveryGroupCreate(input: {name: "all", providerIds: [$p]})'
                " { deliveryGroup { id } } }",
                {"p": await self.get("provider")},
            )
            return str(created["deliveryGroupCreate"]["deliveryGroup"]["id"])
        if resource == "password":
            created = await self._run(
                'mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, appName: "mua"})'
                " { mailboxPassword { id } } }",
                {"m": await self.get("mailbox")},
            )
            return str(created["mailboxPasswordCreate"]["mailboxPassword"]["id"])
        if resource == "domain":
            return str((await add_domain(self._gql, self.team.token, dns=self._dns))["id"])
        if resource == "webhook":
            return str((await add_webhook(self._gql, self.team.token))["webhook"]["id"])
        if resource == "key":
            return (await self._make_key(self.team.token, preset="root:readonly")).id
        raise AssertionError(f"unknown resource {resource!r}")

    async def credential(self, principal: str) -> KeyHandle:
        """A fresh credential of the principal's kind in the team."""
        if principal == SEND:
            return await self._make_key(
                self.team.token, type="SENDING", permissions=MAILBOX_PERMISSIONS
            )
        if principal == MBOX:
            return await self._make_key(
                self.team.token,
                type="MAILBOX",
                permissions=MAILBOX_PERMISSIONS,
                mailboxId=await self.get("mailbox"),
            )
        return await self._make_key(self.team.token, preset=principal)


@dataclass(frozen=True)
class Operation:
    """A GraphQL operation, the permissions that let one run it, the resources it names."""

    name: str
    document: str
    # holding any one of these (on the team, or on the mailbox the operation names) suffices
    permissions: tuple[str, ...]
    # variable name -> resource of the `World` it takes
    variables: tuple[tuple[str, str], ...] = ()
    # resources that must exist besides those named (a provider to send through)
    needs: tuple[str, ...] = ()

    def allowed(self, principal: str) -> bool:
        """Whether the shipped table gives the principal a permission this operation takes."""
        return any(holds(principal, permission) for permission in self.permissions)


def op(
    name: str,
    document: str,
    permissions: str | tuple[str, ...],
    needs: tuple[str, ...] = (),
    **variables: str,
) -> Operation:
    """Shorthand for the table below: `op(name, document, "mailbox.admin.read", id="mailbox")`."""
    needed = (permissions,) if isinstance(permissions, str) else permissions
    return Operation(name, document, needed, tuple(variables.items()), needs)


# Each row: the operation and the permission it needs (docs/permissions.md).
# Mailbox-class keys in the table hold the four mailbox permissions on their mailboxes (the
# sending key: every mailbox of the team); platform operations need platform permissions.
OPERATIONS: tuple[Operation, ...] = (
    op("team", "query($id: ID!) { team(id: $id) { id } }", "team.read", id="team"),
    op("apiKeys", "{ apiKeys { totalCount } }", "key.read"),
    op("apiKey", "query($id: ID!) { apiKey(id: $id) { id } }", "key.read", id="key"),
    op(
        "apiKeyCreate",
        'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"})'
        " { secret } }",
        "key.create",
    ),
    op(
        "apiKeyRotate",
        "mutation($id: ID!) { apiKeyRotate(input: {id: $id}) { secret } }",
        "key.rotate",
        id="key",
    ),
    op(
        "apiKeyRevoke",
        "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }",
        "key.revoke",
        id="key",
    ),
    op(
        "mailboxes",
        "{ mailboxes { totalCount } }",
        ("mailbox.admin.read", "mailbox.read"),
        ("mailbox",),
    ),
    op(
        "mailbox",
        "query($id: ID!) { mailbox(id: $id) { id } }",
        ("mailbox.admin.read", "mailbox.read"),
        id="mailbox",
    ),
    op(
        "mailboxPasswords",
        "query($id: ID!) { mailboxPasswords(mailboxId: $id) { id } }",
        "mailbox.admin.read",
        id="mailbox",
    ),
    op(
        "mailboxCreate",
        'mutation { mailboxCreate(input: {address: "new@example.com"}) { mailbox { id } } }',
        "mailbox.admin.create",
    ),
    op(
        "mailboxDelete",
        "mutation($id: ID!) { mailboxDelete(input: {id: $id}) { mailbox { id } } }",
        "mailbox.admin.delete",
        id="mailbox",
    ),
    op(
        "mailboxSuspend",
        "mutation($id: ID!) { mailboxSuspend(input: {id: $id}) { mailbox { id } } }",
        "mailbox.admin.manage",
        id="mailbox",
    ),
    op(
        "mailboxResume",
        "mutation($id: ID!) { mailboxResume(input: {id: $id}) { mailbox { id } } }",
        "mailbox.admin.manage",
        id="mailbox",
    ),
    op(
        "mailboxPasswordCreate",
        'mutation($id: ID!) { mailboxPasswordCreate(input: {mailboxId: $id, appName: "mua"})'
        " { password } }",
        "mailbox.admin.manage",
        id="mailbox",
    ),
    op(
        "mailboxPasswordRevoke",
        "mutation($id: ID!) { mailboxPasswordRevoke(input: {id: $id}) { mailboxPassword { id } } }",
        "mailbox.admin.manage",
        id="password",
    ),
    op(
        "mailboxUpdate",
        'mutation($id: ID!) { mailboxUpdate(input: {id: $id, displayName: "Ops"})'
        " { mailbox { id } } }",
        ("mailbox.settings.update", "mailbox.admin.manage"),
        id="mailbox",
    ),
    op(
        "emailSend",
        'mutation($from: String!) { emailSend(input: {from: $from, to: ["r@example.net"],'
        ' subject: "s", text: "t"}) { message { id } } }',
        "email.send",
        ("provider",),
        **{"from": "address"},
    ),
    op("providers", "{ providers { totalCount } }", "provider.read"),
    op(
        "provider",
        "query($id: ID!) { provider(id: $id) { id } }",
        "provider.read",
        id="provider",
    ),
    op(
        "dependents",
        "query($id: ID!) { dependents(id: $id) { id } }",
        "provider.read",
        id="provider",
    ),
    op(
        "providerCreate",
        'mutation { providerCreate(input: {name: "mailgun"}) { provider { id } } }',
        "provider.create",
    ),
    op(
        "providerUpdate",
        'mutation($id: ID!) { providerUpdate(input: {id: $id, name: "x"}) { provider { id } } }',
        "provider.update",
        id="provider",
    ),
    op(
        "providerDeactivate",
        "mutation($id: ID!) { providerDeactivate(input: {id: $id}) { provider { id } } }",
        "provider.update",
        id="provider",
    ),
    op(
        "providerActivate",
        "mutation($id: ID!) { providerActivate(input: {id: $id}) { provider { id } } }",
        "provider.update",
        id="provider",
    ),
    op(
        "providerDelete",
        "mutation($id: ID!) { providerDelete(input: {id: $id}) { provider { id } } }",
        "provider.delete",
        id="provider",
    ),
    op("deliveryGroups", "{ deliveryGroups { totalCount } }", "routing.read"),
    op(
        "deliveryGroup",
        "query($id: ID!) { deliveryGroup(id: $id) { id } }",
        "routing.read",
        id="group",
    ),
    op(
        "deliveryGroupCreate",
        'mutation($p: ID!) { deliveryGroupCreate(input: {name: "bulk", providerIds: [$p]})'
        " { deliveryGroup { id } } }",
        "routing.create",
        p="provider",
    ),
    op(
        "deliveryGroupUpdate",
        'mutation($id: ID!) { deliveryGroupUpdate(input: {id: $id, name: "x"})'
        " { deliveryGroup { id } } }",
        "routing.update",
        id="group",
    ),
    op(
        "deliveryGroupDelete",
        "mutation($id: ID!) { deliveryGroupDelete(input: {id: $id}) { deliveryGroup { id } } }",
        "routing.delete",
        id="group",
    ),
    op("domains", "{ domains { totalCount } }", "domain.read"),
    op(
        "domainCreate",
        'mutation { domainCreate(input: {name: "news.example.com"}) { domain { id } } }',
        "domain.create",
    ),
    op(
        "domainVerify",
        "mutation($id: ID!) { domainVerify(input: {id: $id}) { domain { id } } }",
        "domain.verify",
        id="domain",
    ),
    op(
        "domainDelete",
        "mutation($id: ID!) { domainDelete(input: {id: $id}) { domain { id } } }",
        "domain.delete",
        id="domain",
    ),
    op("webhooks", "{ webhooks { totalCount } }", "webhook.read"),
    op(
        "webhookCreate",
        'mutation { webhookCreate(input: {url: "https://hooks.example.com/new",'
        ' events: ["email.bounced"]}) { signingSecret } }',
        "webhook.create",
    ),
    op(
        "webhookUpdate",
        "mutation($id: ID!) { webhookUpdate(input: {id: $id, active: false}) { webhook { id } } }",
        "webhook.update",
        id="webhook",
    ),
    op(
        "webhookSecretRotate",
        "mutation($id: ID!) { webhookSecretRotate(input: {id: $id}) { signingSecret } }",
        "webhook.manage",
        id="webhook",
    ),
    op(
        "webhookDelete",
        "mutation($id: ID!) { webhookDelete(input: {id: $id}) { webhook { id } } }",
        "webhook.delete",
        id="webhook",
    ),
    op("billingProfile", "{ billingProfile { company } }", "billing.read"),
    op(
        "billingProfileUpdate",
        'mutation { billingProfileUpdate(input: {company: "Acme"})'
        " { billingProfile { company } } }",
        "billing.update",
    ),
    op("auditEvents", "{ auditEvents { totalCount } }", "logs.read"),
    op(
        "teamLimitsUpdate",
        "mutation($id: ID!) { teamLimitsUpdate(input: {teamId: $id, resource: DOMAINS,"
        " limit: 5}) { team { id } } }",
        "platform.team.limits.update",
        id="team",
    ),
    op(
        "teamCreate",
        'mutation { teamCreate(input: {name: "Mine"}) { secret } }',
        "platform.team.create",
    ),
    op(
        "credentialCheck",
        'query($a: String!) { credentialCheck(address: $a, secret: "x", protocol: SMTP)'
        " { allowed } }",
        "platform.credential.check",
        a="address",
    ),
)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
async def test_operation_truth_table(
    gql: Gql,
    make_team: MakeTeam,
    make_key: MakeKey,
    dns_zone: DnsServer,
    operation: Operation,
    principal: str,
) -> None:
    # given a team with what the operation names, and a credential of the principal's kind
    world = World(gql, await make_team(), make_key, dns_zone)
    variables = {name: await world.get(resource) for name, resource in operation.variables}
    for resource in operation.needs:
        await world.get(resource)
    key = await world.credential(principal)

    # when the principal runs the operation with valid inputs
    result = await gql(operation.document, variables, token=key.token)

    # then it is answered without any error, or refused as FORBIDDEN and nothing else
    expected: list[str] = [] if operation.allowed(principal) else ["FORBIDDEN"]
    assert result.codes == expected, result.body
    assert result.status == 200
    if expected:
        assert result.data is None


def test_the_table_names_known_permissions_and_each_operation_once() -> None:
    for operation in OPERATIONS:
        assert set(operation.permissions) <= set(PERMISSION_DOMAIN), operation.name
    assert len({operation.name for operation in OPERATIONS}) == len(OPERATIONS)


def test_the_principals_are_the_shipped_presets_and_both_mailbox_class_kinds() -> None:
    assert set(PRINCIPALS) == {*presets(), SEND, MBOX}


async def test_the_gateway_is_refused_team_operations(gql: Gql, make_team: MakeTeam) -> None:
    await make_team()

    for document in (
        "{ apiKeys { totalCount } }",
        "{ domains { totalCount } }",
        'mutation { teamCreate(input: {name: "x"}) { secret } }',
    ):
        assert (await gql(document, token=GATEWAY_TOKEN)).codes == ["FORBIDDEN"], document
