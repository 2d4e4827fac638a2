"""The one door: team isolation, quiet probes, one action name per change, no "None" teams."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from mailkeys import clock
from mailkeys.clock import ManualClock
from mailkeys.models import AuditEvent
from mailkeys.resolvers.changes import REFUSALS_RECORDED_PER_MINUTE
from tests.conftest import OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

MAILBOX_CREATE = """
mutation($address: String!) { mailboxCreate(input: {address: $address}) { mailbox { id } } }
"""
MAILBOX = "query($id: ID!) { mailbox(id: $id) { id address } }"
KEY_CREATE = """
mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) {
  apiKey { id } } }
"""
REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { apiKey { id } } }"
WEBHOOK_CREATE = """
mutation { webhookCreate(input: {url: "https://hooks.example.com/x", events: ["key.revoked"]}) {
  webhook { id } signingSecret } }
"""
WEBHOOK_ROTATE = """
mutation($id: ID!) { webhookSecretRotate(input: {id: $id}) { webhook { id } signingSecret } }
"""
LIMITS_THROUGH_VIEWER = "{ viewer { team { id limits { resource used limit } } } }"
TEAM_LIMITS = "query($id: ID!) { team(id: $id) { id limits { resource limit } } }"


async def _mailbox(gql: Gql, team: TeamHandle, address: str) -> str:
    created = (await gql(MAILBOX_CREATE, {"address": address}, token=team.token)).ok()
    return str(created["mailboxCreate"]["mailbox"]["id"])


async def test_a_permission_probe_never_logs_a_denial(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey, caplog: pytest.LogCaptureFixture
) -> None:
    # given a mailbox key, which reads its mailbox by `mailbox.read`, not `mailbox.admin.read`
    team = await make_team()
    mailbox_id = await _mailbox(gql, team, "ops@example.com")
    key = await make_key(
        team.token, type="MAILBOX", mailboxId=mailbox_id, permissions=["mailbox.read"]
    )

    # when it reads its own mailbox, which first probes the admin permission
    with caplog.at_level(logging.INFO, logger="mailkeys.decisions"):
        result = await gql(MAILBOX, {"id": mailbox_id}, token=key.token)

    # then it is allowed, and no denial was logged on the way
    assert result.ok()["mailbox"]["id"] == mailbox_id
    assert [r for r in caplog.records if r.name == "mailkeys.decisions"] == []


async def test_an_operators_refused_team_change_is_audited_without_a_team(
    gql: Gql, make_team: MakeTeam
) -> None:
    await make_team()

    refused = await gql(KEY_CREATE, token=OPERATOR_TOKEN)

    assert refused.codes == ["FORBIDDEN"]
    event = await AuditEvent.get(action="key.create", outcome="permission_denied")
    assert event.actor == "operator"
    assert event.team_id is None  # NULL, never the text "None"
    assert await AuditEvent.filter(team_id="None").count() == 0


async def test_a_team_s_limits_are_read_as_the_team_is(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox_id = await _mailbox(gql, team, "ops@example.com")
    sending = await make_key(
        team.token, type="SENDING", mailboxIds=[mailbox_id], permissions=["email.send"]
    )
    reader = await make_key(team.token, preset="root:readonly")

    # a credential refused team(id) is refused its limits through `viewer` too
    assert (await gql(TEAM_LIMITS, {"id": team.id}, token=sending.token)).codes == ["FORBIDDEN"]
    through_viewer = await gql(LIMITS_THROUGH_VIEWER, token=sending.token)
    assert through_viewer.codes == ["FORBIDDEN"]
    assert through_viewer.errors[0]["path"] == ["viewer", "team", "limits"]
    # a credential with `team.read` reads them either way, and the operator reads any team's
    for token in (reader.token, OPERATOR_TOKEN):
        answer = (await gql(TEAM_LIMITS, {"id": team.id}, token=token)).ok()
        assert {row["resource"] for row in answer["team"]["limits"]} >= {"CREDENTIALS"}
    assert (await gql(LIMITS_THROUGH_VIEWER, token=reader.token)).ok()["viewer"]["team"]["limits"]


async def test_a_change_audits_success_and_refusal_under_one_action_name(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    created = (await gql(WEBHOOK_CREATE, token=team.token)).ok()["webhookCreate"]
    webhook_id = created["webhook"]["id"]
    reader = await make_key(team.token, preset="root:readonly")

    assert (await gql(WEBHOOK_ROTATE, {"id": webhook_id}, token=reader.token)).codes == [
        "FORBIDDEN"
    ]
    (await gql(WEBHOOK_ROTATE, {"id": webhook_id}, token=team.token)).ok()

    events = await AuditEvent.filter(target_id=webhook_id).exclude(action="webhook.create")
    assert sorted((e.action, e.outcome) for e in events) == [
        ("webhook.secret.rotate", "permission_denied"),
        ("webhook.secret.rotate", "success"),
    ]


@pytest.mark.parametrize(
    "key_id",
    [
        "smx_root_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBCCCCCC",  # a pasted token
        "x" * 33,
        "key id",
        "../etc",
    ],
)
async def test_an_id_that_cannot_be_ours_is_not_found_and_never_recorded(
    gql: Gql, make_team: MakeTeam, key_id: str
) -> None:
    team = await make_team()

    result = await gql(REVOKE, {"id": key_id}, token=team.token)

    assert result.codes == ["NOT_FOUND"]
    event = await AuditEvent.get(action="key.revoke", outcome="not_found")
    assert event.target_id is None  # what the client pasted is not written down


async def test_another_team_s_resource_is_not_found_like_a_missing_one(
    gql: Gql, make_team: MakeTeam
) -> None:
    mine, theirs = await make_team("Mine"), await make_team("Theirs")
    their_mailbox = await _mailbox(gql, theirs, "theirs@example.com")

    other = await gql(MAILBOX, {"id": their_mailbox}, token=mine.token)
    missing = await gql(MAILBOX, {"id": "mbx_0000000000000000"}, token=mine.token)

    assert other.codes == missing.codes == ["NOT_FOUND"]
    assert other.errors[0]["message"] == missing.errors[0]["message"]


async def test_refused_attempts_are_audited_one_by_one_only_up_to_a_bound(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a credential that may not revoke keys, hammering revocations of chosen ids
    team = await make_team()
    reader = await make_key(team.token, preset="root:readonly")
    with clock.using(ManualClock(1_800_000_030.0)) as time:
        for i in range(200):
            await gql(REVOKE, {"id": f"guess{i:04d}"}, token=reader.token)

        # then at most the bound is written one by one, and the rest is counted, not lost
        refused = AuditEvent.filter(action="key.revoke", outcome="permission_denied")
        assert await refused.count() == REFUSALS_RECORDED_PER_MINUTE

        time.advance(60)  # the next minute: the count of what was left out is recorded once
        await gql(REVOKE, {"id": "guess9999"}, token=reader.token)
    [summary] = await AuditEvent.filter(action="audit.refusals_suppressed")
    assert summary.actor == f"infrastructure:{reader.id}"
    assert summary.team_id == team.id
    assert summary.details["suppressed"] == 200 - REFUSALS_RECORDED_PER_MINUTE
    assert await refused.count() == REFUSALS_RECORDED_PER_MINUTE + 1
