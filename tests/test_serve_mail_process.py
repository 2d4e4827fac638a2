"""Mailboxes, passwords, sending and suspension through a real `mailkeys serve` process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN
from tests.served import serve

pytestmark = pytest.mark.process

ADDRESS = "ops@acme.example"


class Api:
    """A thin GraphQL client for one server."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def call(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        response = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        body["status"] = response.status_code
        return body

    def ok(self, token: str, query: str, **variables: Any) -> Any:
        body = self.call(token, query, **variables)
        assert "errors" not in body, body
        return body["data"]

    def send(self, token: str) -> dict[str, Any]:
        return self.call(
            token,
            'mutation($from: String!) { emailSend(input: {from: $from, to: ["a@b.example"], '
            'subject: "hi", text: "hello"}) { message { id providerId } } }',
            **{"from": ADDRESS},
        )

    def smtp_check(self, secret: str) -> bool:
        response = self.client.post(
            "/v1/credentials/check",
            json={"address": ADDRESS, "secret": secret, "protocol": "SMTP"},
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
        )
        assert response.status_code == 200
        return bool(response.json()["allowed"])


def sent(body: dict[str, Any]) -> bool:
    return "errors" not in body and bool(body["data"]["emailSend"]["message"]["id"])


def test_suspension_stops_every_credential_of_a_mailbox_until_resumed(tmp_path: Path) -> None:
    with (
        serve(tmp_path, MAILKEYS_SHARED_DOMAIN="acme.example") as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        api = Api(client)
        admin = api.ok(OPERATOR_TOKEN, 'mutation { teamCreate(input: {name: "Acme"}) { secret } }')[
            "teamCreate"
        ]["secret"]
        api.ok(admin, 'mutation { providerCreate(input: {name: "ses"}) { provider { id } } }')

        # create mailbox -> mailbox key, a password, and a sending key for all mailboxes
        mailbox_id = api.ok(
            admin,
            "mutation($a: String!) { mailboxCreate(input: {address: $a}) { mailbox { id } } }",
            a=ADDRESS,
        )["mailboxCreate"]["mailbox"]["id"]
        mailbox_key = api.ok(
            admin,
            "mutation($m: ID!) { apiKeyCreate(input: {type: MAILBOX, mailboxId: $m, "
            'permissions: ["email.send", "mailbox.read"]}) { secret } }',
            m=mailbox_id,
        )["apiKeyCreate"]["secret"]
        sending_key = api.ok(
            admin,
            'mutation { apiKeyCreate(input: {type: SENDING, permissions: ["email.send"]}) '
            "{ secret } }",
        )["apiKeyCreate"]["secret"]
        created = api.ok(
            admin,
            "mutation($m: ID!) { mailboxPasswordCreate(input: {mailboxId: $m, "
            'appName: "Thunderbird"}) { password mailboxPassword { id } '
            "connection { username imapPort smtpPort } } }",
            m=mailbox_id,
        )["mailboxPasswordCreate"]
        password, password_id = created["password"], created["mailboxPassword"]["id"]
        assert created["connection"] == {"username": ADDRESS, "imapPort": 993, "smtpPort": 587}

        # send works with each
        assert sent(api.send(mailbox_key))
        assert sent(api.send(sending_key))
        assert api.smtp_check(password)
        assert api.smtp_check(mailbox_key)

        # suspend -> the mailbox key, the password and the broad sending key all fail
        api.ok(
            admin,
            "mutation($m: ID!) { mailboxSuspend(input: {id: $m}) { mailbox { id } } }",
            m=mailbox_id,
        )
        refused = api.send(mailbox_key)
        assert refused["status"] == 401
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert not sent(api.send(sending_key))
        assert api.send(sending_key)["errors"][0]["extensions"]["code"] == "CONFLICT"
        assert not api.smtp_check(password)
        assert not api.smtp_check(mailbox_key)

        # resume -> all work again, nothing was deleted
        api.ok(
            admin,
            "mutation($m: ID!) { mailboxResume(input: {id: $m}) { mailbox { id } } }",
            m=mailbox_id,
        )
        assert sent(api.send(mailbox_key))
        assert sent(api.send(sending_key))
        assert api.smtp_check(password)

        # revoke the password -> only it fails
        api.ok(
            admin,
            "mutation($p: ID!) { mailboxPasswordRevoke(input: {id: $p}) "
            "{ mailboxPassword { revokedAt } } }",
            p=password_id,
        )
        assert not api.smtp_check(password)
        assert api.smtp_check(mailbox_key)
        assert sent(api.send(mailbox_key))
        assert sent(api.send(sending_key))

        for secret in (admin, mailbox_key, sending_key, password):
            assert secret not in server.output()
