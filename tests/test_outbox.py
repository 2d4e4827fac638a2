"""The send outbox: concurrent sends committed together, each answered with its own outcome."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from tortoise.exceptions import IntegrityError

from mailkeys.errors import NoProviderAvailableError
from mailkeys.models import Message
from mailkeys.models.outbox import Outbox, Outgoing, Queued
from tests.conftest import Gql, KeyHandle, TeamHandle
from tests.test_routing_and_send import (
    SEND,
    add_mailbox,
    add_provider,
    deactivate,
    email,
    sending_key,
)

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]


async def test_concurrent_sends_are_each_committed_and_rotate_evenly(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given two providers and a sending key
    team = await make_team()
    await add_mailbox(gql, team.token)
    first = await add_provider(gql, team.token, "first")
    second = await add_provider(gql, team.token, "second")
    key = await sending_key(make_key, team)

    # when thirty sends arrive at once (they share commits)
    results = await asyncio.gather(*(gql(SEND, email(), token=key.token) for _ in range(30)))

    # then each is answered with its own committed message, and the providers take turns
    messages = [result.ok()["emailSend"]["message"] for result in results]
    ids = {message["id"] for message in messages}
    assert len(ids) == 30
    assert await Message.filter(id__in=list(ids)).count() == 30
    assert Counter(message["providerId"] for message in messages) == {first: 15, second: 15}


def _outgoing(team: TeamHandle, mailbox_id: str, eligible: tuple[str, ...]) -> Outgoing:
    return Outgoing(
        team_id=team.id,
        mailbox_id=mailbox_id,
        credential="test",
        sender="news@example.com",
        recipients=["someone@example.org"],
        subject="Hello",
        text="Hi",
        html="",
        eligible=eligible,
    )


async def test_a_message_the_database_refuses_fails_alone(gql: Gql, make_team: MakeTeam) -> None:
    # given a group of three where the middle one names a mailbox that is gone
    team = await make_team()
    mailbox_id = await add_mailbox(gql, team.token)
    provider = await add_provider(gql, team.token)
    outbox = Outbox()
    good = _outgoing(team, mailbox_id, (provider,))
    orphan = _outgoing(team, "mbx_doesnotexist0000", (provider,))

    # when they are put together
    answers = await asyncio.gather(
        outbox.put(good), outbox.put(orphan), outbox.put(good), return_exceptions=True
    )

    # then only the orphan fails, and the other two are committed
    assert isinstance(answers[1], IntegrityError)
    committed = [answer for answer in answers if isinstance(answer, Queued)]
    assert len(committed) == 2
    assert await Message.filter(id__in=[q.id for q in committed]).count() == 2
    assert await Message.filter(mailbox_id=mailbox_id).count() == 2


async def test_a_message_whose_providers_stopped_is_refused_alone(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox_id = await add_mailbox(gql, team.token)
    live = await add_provider(gql, team.token, "live")
    stopped = await add_provider(gql, team.token, "stopped")
    await deactivate(gql, team.token, stopped)
    outbox = Outbox()

    answers = await asyncio.gather(
        outbox.put(_outgoing(team, mailbox_id, (stopped,))),
        outbox.put(_outgoing(team, mailbox_id, (live, stopped))),
        return_exceptions=True,
    )

    assert isinstance(answers[0], NoProviderAvailableError)
    assert isinstance(answers[1], Queued)
    assert answers[1].provider_id == live
    assert await Message.filter(mailbox_id=mailbox_id).count() == 1


async def test_a_sender_that_leaves_does_not_take_the_others_down(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox_id = await add_mailbox(gql, team.token)
    provider = await add_provider(gql, team.token)
    outbox = Outbox()
    message = _outgoing(team, mailbox_id, (provider,))

    leaving = asyncio.ensure_future(outbox.put(message))
    staying = asyncio.ensure_future(outbox.put(message))
    await asyncio.sleep(0)  # both are waiting for the commit
    leaving.cancel()

    queued = await staying
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await Message.filter(id=queued.id).exists()
    # the message of the sender that left was accepted all the same: it stays queued
    assert await Message.filter(mailbox_id=mailbox_id).count() == 2
