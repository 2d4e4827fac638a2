"""The authentication hot path: argon2 rarely, the key's state read on every request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.auth.verifier import SecretVerifier
from mailkeys.clock import ManualClock
from mailkeys.models import ApiKey, Mailbox, MailboxStatus
from mailkeys.tokens import checksum
from tests.conftest import Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]
VIEWER = "{ viewer { apiKey { id status } } }"


async def test_argon2_is_paid_once_per_key_within_the_window(
    gql: Gql, make_team: MakeTeam, services: Services
) -> None:
    team = await make_team()
    before = services.hasher.verifications

    for _ in range(5):
        (await gql(VIEWER, token=team.token)).ok()

    assert services.hasher.verifications - before == 1


async def test_a_wrong_secret_for_a_real_key_id_is_refused(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    (await gql(VIEWER, token=team.token)).ok()  # the right token is now cached
    # a well-formed token with the right key id and checksum, and a wrong secret
    body = team.token[: -6 - 32] + "A" * 32
    forged = body + checksum(body)

    result = await gql(VIEWER, token=forged)

    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer smx_root_short",
        "Bearer smx_root_0000000000000000_00000000000000000000000000000000000000",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "smx_root_no_scheme",
    ],
)
async def test_malformed_credentials_are_refused_without_a_database_query(
    gql: Gql, client: Any, monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    def no_query(*args: object, **kwargs: object) -> None:
        raise AssertionError("a malformed token reached the database")

    monkeypatch.setattr(ApiKey, "filter", no_query)

    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": header}
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_no_credential_is_unauthenticated_but_public_fields_answer(gql: Gql) -> None:
    anonymous = await gql(VIEWER)
    typename = await gql("{ __typename }")

    assert anonymous.status == 401
    assert anonymous.codes == ["UNAUTHENTICATED"]
    assert typename.ok() == {"__typename": "Query"}


async def test_suspended_mailbox_stops_its_keys_until_resumed(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox = await Mailbox.create(id="mbx_ops", team_id=team.id, address="ops@example.com")
    key = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=mailbox.id
    )
    assert (await gql(VIEWER, token=key.token)).ok()

    await Mailbox.filter(id=mailbox.id).update(status=MailboxStatus.SUSPENDED)
    suspended = await gql(VIEWER, token=key.token)
    listed = (
        await gql("{ apiKeys(status: SUSPENDED) { edges { node { id } } } }", token=team.token)
    ).ok()
    await Mailbox.filter(id=mailbox.id).update(status=MailboxStatus.ACTIVE)
    resumed = await gql(VIEWER, token=key.token)

    assert suspended.codes == ["UNAUTHENTICATED"]
    assert [edge["node"]["id"] for edge in listed["apiKeys"]["edges"]] == [key.id]
    assert resumed.ok()["viewer"]["apiKey"]["status"] == "ACTIVE"


async def test_last_used_is_written_in_batches_about_once_a_minute(
    gql: Gql, make_team: MakeTeam, services: Services, manual_clock: ManualClock
) -> None:
    team = await make_team()
    recorder = services.authenticator.last_used

    for _ in range(3):
        (await gql(VIEWER, token=team.token)).ok()
    assert await ApiKey.get(id=team.key_id).values_list("last_used_at", flat=True) is None
    written = await recorder.flush()
    first_written = await ApiKey.get(id=team.key_id).values_list("last_used_at", flat=True)
    manual_clock.advance(59)
    for _ in range(3):
        (await gql(VIEWER, token=team.token)).ok()  # within the minute: nothing queued
    written_again = await recorder.flush()
    manual_clock.advance(1)
    (await gql(VIEWER, token=team.token)).ok()  # a minute on: queued again
    written_a_minute_on = await recorder.flush()

    assert written == 1
    assert first_written == clock.ago(60)
    assert written_again == 0
    assert written_a_minute_on == 1
    assert await ApiKey.get(id=team.key_id).values_list("last_used_at", flat=True) == clock.now()


@pytest.mark.usefixtures("manual_clock")  # the forgeries fall into one minute
async def test_forged_tokens_for_a_key_stored_before_tags_cost_at_most_its_budget(
    gql: Gql, make_team: MakeTeam, services: Services
) -> None:
    # given a key whose id is public (display forms show it), whose token is in use, and
    # whose row has no tag (stored before tags existed): argon2 must judge every guess
    team = await make_team()
    (await gql(VIEWER, token=team.token)).ok()
    await ApiKey.filter(id=team.key_id).update(secret_tag=None)
    body = team.token[: -6 - 32] + "B" * 32
    forged = body + checksum(body)
    before = services.hasher.verifications

    # when far more forgeries arrive than the minute's failure budget (20)
    results = [await gql(VIEWER, token=forged) for _ in range(30)]

    # then only the budget was paid in argon2, and the real token still works (cached)
    assert {tuple(result.codes) for result in results} == {("UNAUTHENTICATED",)}
    assert services.hasher.verifications - before == 20
    assert (await gql(VIEWER, token=team.token)).ok()


async def test_a_burst_of_one_new_token_pays_argon2_once(
    client: Any, make_team: MakeTeam, services: Services
) -> None:
    # given a token this process has not verified yet
    team = await make_team()
    services.authenticator.verifier = SecretVerifier(services.hasher, 100, 300)
    before = services.hasher.verifications

    # when 30 requests with it arrive at once (more than the failure budget of 20)
    responses = await asyncio.gather(
        *(
            client.post(
                "/graphql",
                json={"query": VIEWER},
                headers={"Authorization": f"Bearer {team.token}"},
            )
            for _ in range(30)
        )
    )

    # then all succeed, and argon2 ran once
    assert [r.status_code for r in responses] == [200] * 30
    assert services.hasher.verifications - before == 1
