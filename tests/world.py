"""A small populated team for tests that probe the whole API: one resource of every kind.

Built through the API itself (the operator's `teamCreate`, then the team's Full Access key),
so every secret in it was issued exactly as a client gets one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.resolvers.policy_versions import seed_policy
from mailkeys.settings import Settings
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN, TEST_SHARED_DOMAIN, Gql, test_settings

TEAM_CREATE = """
mutation($name: String!) { teamCreate(input: {name: $name}) { team { id } apiKey { id } secret } }
"""
KEY_CREATE = """
mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { apiKey { id } secret } }
"""
MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
PASSWORD_CREATE = """
mutation($mailbox: ID!) {
  mailboxPasswordCreate(input: {mailboxId: $mailbox, appName: "Mail app"}) {
    mailboxPassword { id } password
  }
}
"""
PROVIDER_CREATE = 'mutation { providerCreate(input: {name: "ses"}) { provider { id } } }'
GROUP_CREATE = """
mutation($providers: [ID!]!) {
  deliveryGroupCreate(input: {name: "eu", providerIds: $providers}) { deliveryGroup { id } }
}
"""
DOMAIN_CREATE = 'mutation { domainCreate(input: {name: "mail.acme.example"}) { domain { id } } }'
WEBHOOK_CREATE = """
mutation {
  webhookCreate(input: {url: "https://hooks.acme.example/mail", events: ["email.delivered"]}) {
    webhook { id } signingSecret
  }
}
"""


@dataclass
class World:
    """Ids of one resource of each kind, and every secret issued to make them."""

    team_id: str
    full_access_token: str
    full_access_id: str
    spare_key_id: str
    sending_token: str
    sending_key_id: str
    mailbox_id: str
    password: str
    password_id: str
    provider_id: str
    group_id: str
    domain_id: str
    webhook_id: str
    webhook_secret: str
    secrets: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """Ids a client may name, sacrificial ones first (the fuzzer may revoke them)."""
        return [
            self.spare_key_id,
            self.mailbox_id,
            self.password_id,
            self.provider_id,
            self.group_id,
            self.domain_id,
            self.webhook_id,
            self.team_id,
        ]

    @property
    def credentials(self) -> list[str | None]:
        """Every way to call the API: none, the team's keys, the operator and the gateway."""
        return [None, self.full_access_token, self.sending_token, OPERATOR_TOKEN, GATEWAY_TOKEN]


async def build_world(gql: Gql) -> World:
    """The shipped policy stored as version 1 (as after a first start), and a team with a
    key, a spare key, a sending key, a mailbox, its password, a provider, a delivery group,
    a domain and a webhook."""
    await seed_policy(shipped_model_text(), shipped_policy_text())
    team = (await gql(TEAM_CREATE, {"name": "Acme"}, token=OPERATOR_TOKEN)).ok()["teamCreate"]
    admin = team["secret"]

    async def key(**key_input: object) -> dict[str, str]:
        created = (await gql(KEY_CREATE, {"input": key_input}, token=admin)).ok()
        return {"id": created["apiKeyCreate"]["apiKey"]["id"], **created["apiKeyCreate"]}

    address = f"news@{TEST_SHARED_DOMAIN}"
    mailbox = (await gql(MAILBOX_CREATE, {"address": address}, token=admin)).ok()
    mailbox_id = mailbox["mailboxCreate"]["mailbox"]["id"]
    spare = await key(type="INFRASTRUCTURE", preset="root:full", name="spare")
    sending = await key(type="SENDING", permissions=["email.send"], mailboxIds=[mailbox_id])
    password = (await gql(PASSWORD_CREATE, {"mailbox": mailbox_id}, token=admin)).ok()
    provider = (await gql(PROVIDER_CREATE, token=admin)).ok()["providerCreate"]["provider"]["id"]
    group = (await gql(GROUP_CREATE, {"providers": [provider]}, token=admin)).ok()
    domain = (await gql(DOMAIN_CREATE, token=admin)).ok()["domainCreate"]["domain"]["id"]
    webhook = (await gql(WEBHOOK_CREATE, token=admin)).ok()["webhookCreate"]
    world = World(
        team_id=team["team"]["id"],
        full_access_token=admin,
        full_access_id=team["apiKey"]["id"],
        spare_key_id=spare["id"],
        sending_token=sending["secret"],
        sending_key_id=sending["id"],
        mailbox_id=mailbox_id,
        password=password["mailboxPasswordCreate"]["password"],
        password_id=password["mailboxPasswordCreate"]["mailboxPassword"]["id"],
        provider_id=provider,
        group_id=group["deliveryGroupCreate"]["deliveryGroup"]["id"],
        domain_id=domain,
        webhook_id=webhook["webhook"]["id"],
        webhook_secret=webhook["signingSecret"],
    )
    world.secrets = [
        admin,
        spare["secret"],
        world.sending_token,
        world.password,
        world.webhook_secret,
        OPERATOR_TOKEN,
        GATEWAY_TOKEN,
    ]
    return world


def generous_settings() -> Settings:
    """Settings whose rate limits never stop a long test run (its subject is something else)."""
    return test_settings(
        rate_limit_infrastructure=1_000_000,
        rate_limit_mailbox=1_000_000,
        auth_failures_per_minute=1_000_000,
        check_failures_per_minute=1_000_000,
        anonymous_per_minute=1_000_000,
    )
