"""A token is shown once, in its creation payload, and nowhere else (docs/credentials.md)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import pytest

from mailkeys.models import ApiKey, AuditEvent, Mailbox, Team, TeamLimit
from mailkeys.tokens import parse_token
from tests.conftest import Gql, KeyHandle, TeamHandle

EVERYTHING = """
{
  viewer { team { id name limits { resource used limit } } apiKey { id displayToken } }
  apiKeys(first: 100) {
    edges { node { id name type preset permissions status displayToken createdBy } }
  }
  auditEvents(first: 100) { edges { node { actor action targetId outcome details } } }
  presets { id }
}
"""
ROTATE = """
mutation($id: ID!) { apiKeyRotate(input: {id: $id, gracePeriodSeconds: 60}) {
  apiKey { id displayToken } secret previous { id displayToken } } }
"""


async def test_tokens_appear_only_in_their_creation_payload(
    gql: Gql,
    make_team: Callable[..., Awaitable[TeamHandle]],
    make_key: Callable[..., Awaitable[KeyHandle]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # given credentials of every kind, a rotation, a revocation and a refused attempt
    team = await make_team()
    await Mailbox.create(id="mbx_ops", team_id=team.id, address="ops@example.com")
    readonly = await make_key(team.token, preset="root:readonly", name="ro")
    sending = await make_key(team.token, type="SENDING", permissions=["email.send"])
    mailbox = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId="mbx_ops"
    )
    rotated = (await gql(ROTATE, {"id": readonly.id}, token=team.token)).ok()["apiKeyRotate"]
    await gql(
        "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }",
        {"id": sending.id},
        token=team.token,
    )
    await gql(
        'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:full"}) { secret } }',
        token=rotated["secret"],
    )
    tokens = [team.token, readonly.token, sending.token, mailbox.token, rotated["secret"]]
    secrets = [token.split("_")[-1] for token in tokens]  # the secret and checksum part
    assert all(parse_token(token) for token in tokens)

    # when everything is read back, by every credential still working
    responses = [
        json.dumps((await gql(EVERYTHING, token=token)).body, ensure_ascii=False)
        for token in (team.token, readonly.token, mailbox.token, rotated["secret"])
    ]
    rows = [
        json.dumps(row, default=str, ensure_ascii=False)
        for model in (Team, TeamLimit, ApiKey, Mailbox, AuditEvent)
        for row in await model.all().values()
    ]

    # then no token or secret is in any response, log line or stored row
    haystacks = {
        "responses": "\n".join(responses),
        "logs": caplog.text,
        "database": "\n".join(rows),
    }
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into the {where}"
    # and the display forms are there instead
    assert readonly.node["displayToken"] in haystacks["responses"]
    assert readonly.node["displayToken"] in haystacks["database"]
