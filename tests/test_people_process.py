"""People on several workers: a membership change holds on the next request on another one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.oidc import MakeOidc
from tests.served import serve

pytestmark = pytest.mark.process

KEYS = "{ apiKeys { totalCount } }"


def ask(base_url: str, token: str, query: str, team: str | None = None, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if team is not None:
        headers["X-Team-Id"] = team
    response = httpx.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=10,
    )
    return response.json()


def test_a_removed_member_is_refused_by_the_other_worker_on_the_next_request(
    make_oidc: MakeOidc, tmp_path: Path
) -> None:
    provider = make_oidc()
    alice, bob = provider.login("alice@example.com"), provider.login("bob@example.com")

    with (
        serve(tmp_path, MAILKEYS_OIDC_ISSUER=provider.issuer) as first,
        serve(tmp_path, MAILKEYS_OIDC_ISSUER=provider.issuer) as second,
    ):
        # given bob, a member of alice's team, working through the second server
        team = ask(first.url, alice, 'mutation { teamCreate(input: {name: "A"}) { team { id } } }')
        team_id = team["data"]["teamCreate"]["team"]["id"]
        ask(
            first.url,
            alice,
            "mutation { invitationCreate(input: {email: "
            '"bob@example.com", role: MEMBER}) { invitation { id } } }',
            team_id,
        )
        invitation = ask(second.url, bob, "{ viewer { invitations { id } } }")
        invitation_id = invitation["data"]["viewer"]["invitations"][0]["id"]
        joined = ask(
            second.url,
            bob,
            "mutation($id: ID!) { invitationAccept(input: {id: $id}) { membership { id } } }",
            id=invitation_id,
        )
        membership = joined["data"]["invitationAccept"]["membership"]["id"]
        assert ask(second.url, bob, KEYS, team_id)["data"]["apiKeys"]["totalCount"] == 0

        # when alice removes him through the first server
        removed = ask(
            first.url,
            alice,
            "mutation($id: ID!) { memberRemove(input: {id: $id}) { membership { id } } }",
            team_id,
            id=membership,
        )
        assert "errors" not in removed, removed

        # then his very next request on the second server is refused
        refused = ask(second.url, bob, KEYS, team_id)
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
