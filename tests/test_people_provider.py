"""The identity provider as a dependency: down, back, rotating its keys, and keys-only mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.clock import ManualClock
from mailkeys.http.app import create_app
from tests.conftest import OPERATOR_TOKEN, test_settings
from tests.oidc import OidcProvider

VIEWER = "{ viewer { kind person { email } } }"
TEAM_CREATE = 'mutation { teamCreate(input: {name: "Keys"}) { secret } }'


def _key_fetches() -> float:
    return sum(
        REGISTRY.get_sample_value("mailkeys_oidc_key_fetches_total", {"outcome": outcome}) or 0.0
        for outcome in ("ok", "failed")
    )


async def _viewer(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
async def served(oidc_private: OidcProvider, db: None) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, trusting the test's own provider (which the test may stop or rotate)."""
    app: Starlette = create_app(test_settings(oidc_issuer=oidc_private.issuer))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test") as c:
        yield c
    services: Services = app.state.services
    await services.close()


async def test_people_answer_unavailable_while_the_provider_is_down_and_keys_keep_working(
    served: httpx.AsyncClient, oidc_private: OidcProvider
) -> None:
    with clock.using(ManualClock(clock.time())) as time:
        token = oidc_private.sign(oidc_private.claims_for("alice@example.com", now=time.time()))
        created = await served.post(
            "/graphql",
            json={"query": TEAM_CREATE},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        key = created.json()["data"]["teamCreate"]["secret"]

        # given a provider that is down before mailkeys ever fetched its keys
        oidc_private.stop()
        down = await _viewer(served, token)
        with_key = await _viewer(served, key)

        # then people are told to retry, and keys are unaffected
        assert down.status_code == 503
        error = down.json()["errors"][0]["extensions"]
        assert (error["code"], error["retryable"]) == ("UNAVAILABLE", True)
        assert with_key.status_code == 200

        # when it is back, after the refetch floor, the same token works
        oidc_private.start()
        time.advance(6)
        back = await _viewer(served, token)
    assert back.status_code == 200
    assert back.json()["data"]["viewer"]["person"]["email"] == "alice@example.com"


async def test_a_key_rotation_at_the_provider_is_picked_up_without_a_restart(
    served: httpx.AsyncClient, oidc_private: OidcProvider
) -> None:
    with clock.using(ManualClock(clock.time())) as time:
        before = oidc_private.login("alice@example.com")
        assert (await _viewer(served, before)).status_code == 200  # the key set is cached

        oidc_private.rotate_keys()
        time.advance(6)  # past the floor between two fetches of the keys
        after = oidc_private.login("bob@example.com")
        answer = await _viewer(served, after)

    assert answer.status_code == 200
    assert answer.json()["data"]["viewer"]["person"]["email"] == "bob@example.com"


async def test_unknown_kids_do_not_make_mailkeys_hammer_the_provider(
    served: httpx.AsyncClient, oidc_private: OidcProvider
) -> None:
    with clock.using(ManualClock(clock.time())) as time:
        good = oidc_private.sign(oidc_private.claims_for("alice@example.com", now=time.time()))
        assert (await _viewer(served, good)).status_code == 200
        fetched = _key_fetches()

        for _ in range(50):
            forged = oidc_private.bad_token("unknown_kid", now=time.time())
            assert (await _viewer(served, forged)).status_code == 401

        # at most one more fetch of the key set within the floor, whatever the flood
        assert _key_fetches() - fetched <= 1


async def test_without_an_issuer_a_jwt_is_just_an_unknown_credential(
    client: httpx.AsyncClient, db: None, oidc: OidcProvider
) -> None:
    answer = await _viewer(client, oidc.login("alice@example.com"))

    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
