"""Mailboxes and mailbox passwords over GraphQL, and what a suspension does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mailkeys.auth.services import Services
from mailkeys.models import ApiKey, Mailbox, MailboxPassword, Message
from tests.conftest import GATEWAY_TOKEN, OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

MAILBOX_FIELDS = "id address displayName replyTo signature status createdAt"
MAILBOX_CREATE = f"""
mutation($address: String!, $name: String) {{
  mailboxCreate(input: {{address: $address, displayName: $name}}) {{
    mailbox {{ {MAILBOX_FIELDS} }}
  }}
}}
"""
MAILBOX = f"query($id: ID!) {{ mailbox(id: $id) {{ {MAILBOX_FIELDS} }} }}"
MAILBOXES = """
query($first: Int, $after: String) {
  mailboxes(first: $first, after: $after) {
    edges { node { id address } cursor } pageInfo { hasNextPage endCursor } totalCount
  }
}
"""
MAILBOX_UPDATE = f"""
mutation($input: MailboxUpdateInput!) {{
  mailboxUpdate(input: $input) {{ mailbox {{ {MAILBOX_FIELDS} }} }}
}}
"""
MAILBOX_DELETE = "mutation($id: ID!) { mailboxDelete(input: {id: $id}) { mailbox { id } } }"
SUSPEND = "mutation($id: ID!) { mailboxSuspend(input: {id: $id}) { mailbox { id status } } }"
RESUME = "mutation($id: ID!) { mailboxResume(input: {id: $id}) { mailbox { id status } } }"
PASSWORD_CREATE = """
mutation($mailbox: ID!, $app: String!) {
  mailboxPasswordCreate(input: {mailboxId: $mailbox, appName: $app}) {
    mailboxPassword { id mailboxId appName permissions display createdBy lastUsedAt revokedAt }
    password
    connection { username imapHost imapPort smtpHost smtpPort }
  }
}
"""
PASSWORDS = """
query($mailbox: ID!) {
  mailboxPasswords(mailboxId: $mailbox) { id appName display lastUsedAt revokedAt }
}
"""
PASSWORD_REVOKE = """
mutation($id: ID!) { mailboxPasswordRevoke(input: {id: $id}) { mailboxPassword { id revokedAt } } }
"""
CHECK = """
query($address: String!, $secret: String!, $protocol: CheckProtocol!) {
  credentialCheck(address: $address, secret: $secret, protocol: $protocol) {
    allowed mailboxId permissions
  }
}
"""
SEND = """
mutation($from: String!) {
  emailSend(input: {from: $from, to: ["rcpt@example.net"], subject: "hi", text: "hello"}) {
    message { id providerId mailboxId status }
  }
}
"""
VIEWER = "{ viewer { apiKey { id } } }"
KEY = "query($id: ID!) { apiKey(id: $id) { id status } }"
KEY_MAILBOXES = "query($id: ID!) { apiKey(id: $id) { status mailboxIds } }"
LIMITS = "{ viewer { team { limits { resource used limit } } } }"
SET_LIMIT = """
mutation($team: ID!, $resource: LimitedResource!, $limit: Int!) {
  teamLimitsUpdate(input: {teamId: $team, resource: $resource, limit: $limit}) { team { id } }
}
"""
KEY_CREATE = """
mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { apiKey { id } secret } }
"""
AUDIT = "{ auditEvents(first: 100) { edges { node { action targetId outcome } } } }"
ALL_MAILBOX_PERMISSIONS = ["email.send", "email.receive", "mailbox.read", "mailbox.settings.update"]


async def create_mailbox(
    gql: Gql, token: str, address: str = "ops@example.com", name: str | None = None
) -> dict[str, Any]:
    """Create a mailbox through the API and return it."""
    result = await gql(MAILBOX_CREATE, {"address": address, "name": name}, token=token)
    mailbox: dict[str, Any] = result.ok()["mailboxCreate"]["mailbox"]
    return mailbox


async def create_password(gql: Gql, token: str, mailbox_id: str, app: str = "phone") -> Any:
    """Create a mailbox password and return the payload (metadata, password, connection)."""
    result = await gql(PASSWORD_CREATE, {"mailbox": mailbox_id, "app": app}, token=token)
    return result.ok()["mailboxPasswordCreate"]


async def check(gql: Gql, address: str, secret: str, protocol: str = "SMTP") -> Any:
    """Ask the credential check as the gateways do."""
    variables = {"address": address, "secret": secret, "protocol": protocol}
    return (await gql(CHECK, variables, token=GATEWAY_TOKEN)).ok()["credentialCheck"]


async def add_provider(gql: Gql, token: str, name: str = "ses") -> str:
    """A provider to send through."""
    result = await gql(
        "mutation($name: String!) { providerCreate(input: {name: $name}) { provider { id } } }",
        {"name": name},
        token=token,
    )
    provider_id: str = result.ok()["providerCreate"]["provider"]["id"]
    return provider_id


async def set_limit(gql: Gql, team_id: str, resource: str, limit: int) -> None:
    """Change one limit of the team as the operator."""
    variables = {"team": team_id, "resource": resource, "limit": limit}
    (await gql(SET_LIMIT, variables, token=OPERATOR_TOKEN)).ok()


# --- mailboxes -------------------------------------------------------------------------------


async def test_created_mailbox_is_readable_and_listed(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    created = await create_mailbox(gql, team.token, "Ops@Example.com", "Operations")
    read = (await gql(MAILBOX, {"id": created["id"]}, token=team.token)).ok()["mailbox"]
    listed = (await gql(MAILBOXES, token=team.token)).ok()["mailboxes"]

    assert created["address"] == "ops@example.com"
    assert created["displayName"] == "Operations"
    assert created["status"] == "ACTIVE"
    assert read == created
    assert listed["totalCount"] == 1
    assert [edge["node"]["id"] for edge in listed["edges"]] == [created["id"]]


async def test_mailboxes_page_with_cursors(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    made = [(await create_mailbox(gql, team.token, f"m{i}@example.com"))["id"] for i in range(5)]

    seen: list[str] = []
    after = None
    while True:
        page = (await gql(MAILBOXES, {"first": 2, "after": after}, token=team.token)).ok()
        connection = page["mailboxes"]
        assert connection["totalCount"] == 5
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


async def test_mailbox_address_must_be_an_address(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    result = await gql(MAILBOX_CREATE, {"address": "not an address"}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "address"


async def test_mailbox_address_is_unique(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team("A")
    other = await make_team("B")
    await create_mailbox(gql, team.token, "ops@example.com")

    again = await gql(MAILBOX_CREATE, {"address": "OPS@example.com"}, token=team.token)
    elsewhere = await gql(MAILBOX_CREATE, {"address": "ops@example.com"}, token=other.token)

    assert again.codes == ["CONFLICT"]
    assert elsewhere.codes == ["CONFLICT"]


async def test_a_team_has_at_most_50_mailboxes_by_default(gql: Gql, make_team: MakeTeam) -> None:
    # given a team with 50 mailboxes (49 stored directly: creating them one by one is moot)
    team = await make_team()
    await Mailbox.bulk_create(
        [
            Mailbox(id=f"mbx_fill{i:02d}", team_id=team.id, address=f"box{i}@example.com")
            for i in range(49)
        ]
    )
    await create_mailbox(gql, team.token, "box49@example.com")

    # when it asks for one more
    result = await gql(MAILBOX_CREATE, {"address": "box50@example.com"}, token=team.token)

    # then the limit is named, and the failed attempt stored nothing
    assert result.codes == ["LIMIT_EXCEEDED"]
    assert result.errors[0]["extensions"]["resource"] == "mailboxes"
    assert result.errors[0]["extensions"]["limit"] == 50
    assert result.errors[0]["extensions"]["retryable"] is False
    assert await Mailbox.filter(team_id=team.id).count() == 50


async def test_the_operator_changes_the_mailbox_limit(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    await set_limit(gql, team.id, "MAILBOXES", 1)
    await create_mailbox(gql, team.token, "one@example.com")

    result = await gql(MAILBOX_CREATE, {"address": "two@example.com"}, token=team.token)
    limits = (await gql(LIMITS, token=team.token)).ok()["viewer"]["team"]["limits"]

    assert result.codes == ["LIMIT_EXCEEDED"]
    assert result.errors[0]["extensions"]["limit"] == 1
    assert {"resource": "MAILBOXES", "used": 1, "limit": 1} in limits


async def test_another_teams_mailbox_is_not_found(gql: Gql, make_team: MakeTeam) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    their_mailbox = (await create_mailbox(gql, theirs.token, "theirs@example.com"))["id"]

    for query, variables in (
        (MAILBOX, {"id": their_mailbox}),
        (MAILBOX_UPDATE, {"input": {"id": their_mailbox, "displayName": "x"}}),
        (MAILBOX_DELETE, {"id": their_mailbox}),
        (SUSPEND, {"id": their_mailbox}),
        (RESUME, {"id": their_mailbox}),
        (PASSWORD_CREATE, {"mailbox": their_mailbox, "app": "x"}),
        (PASSWORDS, {"mailbox": their_mailbox}),
    ):
        result = await gql(query, variables, token=mine.token)
        assert result.codes == ["NOT_FOUND"], query
    listed = (await gql(MAILBOXES, token=mine.token)).ok()["mailboxes"]
    assert listed["totalCount"] == 0


async def test_another_teams_password_is_not_found(gql: Gql, make_team: MakeTeam) -> None:
    mine = await make_team("A")
    theirs = await make_team("B")
    their_mailbox = (await create_mailbox(gql, theirs.token, "theirs@example.com"))["id"]
    their_password = await create_password(gql, theirs.token, their_mailbox)

    result = await gql(
        PASSWORD_REVOKE, {"id": their_password["mailboxPassword"]["id"]}, token=mine.token
    )

    assert result.codes == ["NOT_FOUND"]
    assert (await check(gql, "theirs@example.com", their_password["password"]))["allowed"]


async def test_full_access_updates_identity_and_settings(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)

    changes = {
        "id": mailbox["id"],
        "displayName": "Support",
        "replyTo": "Help@Example.com",
        "signature": "-- the team",
    }
    updated = (await gql(MAILBOX_UPDATE, {"input": changes}, token=team.token)).ok()
    untouched = (await gql(MAILBOX_UPDATE, {"input": {"id": mailbox["id"]}}, token=team.token)).ok()

    node = updated["mailboxUpdate"]["mailbox"]
    assert (node["displayName"], node["replyTo"], node["signature"]) == (
        "Support",
        "help@example.com",
        "-- the team",
    )
    assert untouched["mailboxUpdate"]["mailbox"] == node


async def test_bad_reply_to_names_the_field(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)

    result = await gql(
        MAILBOX_UPDATE, {"input": {"id": mailbox["id"], "replyTo": "nope"}}, token=team.token
    )

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "replyTo"


async def test_a_mailbox_key_with_settings_update_updates_only_its_mailbox(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    own = await create_mailbox(gql, team.token, "own@example.com")
    other = await create_mailbox(gql, team.token, "other@example.com")
    key = await make_key(
        team.token,
        type="MAILBOX",
        permissions=["mailbox.settings.update"],
        mailboxId=own["id"],
    )

    allowed = await gql(
        MAILBOX_UPDATE, {"input": {"id": own["id"], "displayName": "Mine"}}, token=key.token
    )
    refused = await gql(
        MAILBOX_UPDATE, {"input": {"id": other["id"], "displayName": "Mine"}}, token=key.token
    )

    assert allowed.ok()["mailboxUpdate"]["mailbox"]["displayName"] == "Mine"
    assert refused.codes == ["FORBIDDEN"]


async def test_a_sending_key_with_settings_update_updates_its_mailboxes(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    first = await create_mailbox(gql, team.token, "first@example.com")
    second = await create_mailbox(gql, team.token, "second@example.com")
    everywhere = await make_key(
        team.token, type="SENDING", permissions=["email.send", "mailbox.settings.update"]
    )
    narrowed = await make_key(
        team.token,
        type="SENDING",
        permissions=["mailbox.settings.update"],
        mailboxIds=[first["id"]],
    )

    both = [
        await gql(
            MAILBOX_UPDATE, {"input": {"id": m["id"], "signature": "s"}}, token=everywhere.token
        )
        for m in (first, second)
    ]
    narrowed_own = await gql(
        MAILBOX_UPDATE, {"input": {"id": first["id"], "signature": "n"}}, token=narrowed.token
    )
    narrowed_other = await gql(
        MAILBOX_UPDATE, {"input": {"id": second["id"], "signature": "n"}}, token=narrowed.token
    )

    assert [result.codes for result in both] == [[], []]
    assert narrowed_own.ok()["mailboxUpdate"]["mailbox"]["signature"] == "n"
    assert narrowed_other.codes == ["FORBIDDEN"]


async def test_mailbox_update_needs_settings_update_or_the_admin_permission(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    sender_only = await make_key(
        team.token, type="MAILBOX", permissions=["email.send"], mailboxId=mailbox["id"]
    )
    readonly = await make_key(team.token, preset="root:readonly")
    provider_admin = await make_key(team.token, preset="root:provider_admin")

    variables = {"input": {"id": mailbox["id"], "displayName": "x"}}
    codes = [
        (await gql(MAILBOX_UPDATE, variables, token=key.token)).codes
        for key in (sender_only, readonly, provider_admin)
    ]

    assert codes == [["FORBIDDEN"], ["FORBIDDEN"], ["FORBIDDEN"]]
    assert (await gql(MAILBOX, {"id": mailbox["id"]}, token=team.token)).ok()["mailbox"][
        "displayName"
    ] == ""


async def test_a_mailbox_key_reads_and_lists_only_its_own_mailbox(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given two mailboxes and a key bound to the first, allowed to read it
    team = await make_team()
    own = await create_mailbox(gql, team.token, "own@example.com")
    other = await create_mailbox(gql, team.token, "other@example.com")
    key = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=own["id"]
    )

    # when it reads and lists mailboxes
    read_own = await gql(MAILBOX, {"id": own["id"]}, token=key.token)
    read_other = await gql(MAILBOX, {"id": other["id"]}, token=key.token)
    listed = await gql(MAILBOXES, token=key.token)

    # then it sees its own mailbox only ("the team's mailboxes, or the caller's own ones")
    assert read_own.ok()["mailbox"]["id"] == own["id"]
    assert read_other.codes == ["FORBIDDEN"]
    connection = listed.ok()["mailboxes"]
    assert [edge["node"]["id"] for edge in connection["edges"]] == [own["id"]]
    assert connection["totalCount"] == 1


async def test_a_narrowed_sending_key_lists_only_its_mailboxes(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    own = await create_mailbox(gql, team.token, "own@example.com")
    await create_mailbox(gql, team.token, "other@example.com")
    narrowed = await make_key(
        team.token, type="SENDING", permissions=["mailbox.read"], mailboxIds=[own["id"]]
    )
    everywhere = await make_key(team.token, type="SENDING", permissions=["mailbox.read"])

    narrowed_list = await gql(MAILBOXES, token=narrowed.token)
    everywhere_list = await gql(MAILBOXES, token=everywhere.token)

    assert [e["node"]["id"] for e in narrowed_list.ok()["mailboxes"]["edges"]] == [own["id"]]
    assert everywhere_list.ok()["mailboxes"]["totalCount"] == 2


async def test_listing_mailboxes_needs_a_read_permission(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    billing = await make_key(team.token, preset="root:billing_admin")
    sender = await make_key(
        team.token, type="MAILBOX", permissions=["email.send"], mailboxId=mailbox["id"]
    )

    assert (await gql(MAILBOXES, token=billing.token)).codes == ["FORBIDDEN"]
    assert (await gql(MAILBOXES, token=sender.token)).codes == ["FORBIDDEN"]
    assert (await gql(MAILBOX, {"id": mailbox["id"]}, token=sender.token)).codes == ["FORBIDDEN"]


async def test_mailbox_delete_revokes_its_keys_and_passwords(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a mailbox with a key, a password, and a sending key narrowed to it
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    key = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=mailbox["id"]
    )
    narrowed = await make_key(
        team.token, type="SENDING", permissions=["mailbox.read"], mailboxIds=[mailbox["id"]]
    )
    password = await create_password(gql, team.token, mailbox["id"])
    assert (await gql(VIEWER, token=key.token)).ok()
    assert (await check(gql, mailbox["address"], password["password"], "IMAP"))["allowed"]

    # when the mailbox is deleted
    deleted = await gql(MAILBOX_DELETE, {"id": mailbox["id"]}, token=team.token)

    # then its credentials stop, the key stays on record as revoked, and the slots are freed
    assert deleted.ok()["mailboxDelete"]["mailbox"]["id"] == mailbox["id"]
    assert (await gql(MAILBOX, {"id": mailbox["id"]}, token=team.token)).codes == ["NOT_FOUND"]
    refused = await gql(VIEWER, token=key.token)
    assert refused.codes == ["UNAUTHENTICATED"]
    assert refused.status == 401
    assert (await gql(KEY, {"id": key.id}, token=team.token)).ok()["apiKey"]["status"] == (
        "REVOKED"
    )
    assert not (await check(gql, mailbox["address"], password["password"], "IMAP"))["allowed"]
    assert (
        await MailboxPassword.filter(mailbox_id=mailbox["id"], revoked_at__isnull=True).count() == 0
    )
    narrowed_now = (await gql(KEY_MAILBOXES, {"id": narrowed.id}, token=team.token)).ok()
    assert narrowed_now["apiKey"] == {"status": "ACTIVE", "mailboxIds": []}  # bound to none
    limits = (await gql(LIMITS, token=team.token)).ok()["viewer"]["team"]["limits"]
    assert {"resource": "CREDENTIALS", "used": 2, "limit": 100} in limits  # first + narrowed
    assert {"resource": "MAILBOXES", "used": 0, "limit": 50} in limits


async def test_a_deleted_mailboxs_address_with_a_new_mailbox_does_not_revive_old_keys(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    key = await make_key(
        team.token, type="MAILBOX", permissions=["email.send"], mailboxId=mailbox["id"]
    )
    password = await create_password(gql, team.token, mailbox["id"])
    (await gql(MAILBOX_DELETE, {"id": mailbox["id"]}, token=team.token)).ok()

    await create_mailbox(gql, team.token, mailbox["address"])

    assert not (await check(gql, mailbox["address"], key.token))["allowed"]
    assert not (await check(gql, mailbox["address"], password["password"]))["allowed"]


async def test_mailbox_admin_operations_need_their_permissions(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    readonly = await make_key(team.token, preset="root:readonly")
    mailbox_key = await make_key(
        team.token, type="MAILBOX", permissions=ALL_MAILBOX_PERMISSIONS, mailboxId=mailbox["id"]
    )

    for token in (readonly.token, mailbox_key.token):
        for query, variables in (
            (MAILBOX_CREATE, {"address": "new@example.com"}),
            (MAILBOX_DELETE, {"id": mailbox["id"]}),
            (SUSPEND, {"id": mailbox["id"]}),
            (RESUME, {"id": mailbox["id"]}),
            (PASSWORD_CREATE, {"mailbox": mailbox["id"], "app": "x"}),
        ):
            result = await gql(query, variables, token=token)
            assert result.codes == ["FORBIDDEN"], (query, token == readonly.token)
    assert (await gql(MAILBOX, {"id": mailbox["id"]}, token=team.token)).ok()["mailbox"][
        "status"
    ] == "ACTIVE"


# --- suspension ------------------------------------------------------------------------------


async def test_suspend_and_resume_are_idempotent(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)

    suspended = [
        (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok() for _ in range(2)
    ]
    resumed = [(await gql(RESUME, {"id": mailbox["id"]}, token=team.token)).ok() for _ in range(2)]
    events = (await gql(AUDIT, token=team.token)).ok()["auditEvents"]["edges"]

    assert [s["mailboxSuspend"]["mailbox"]["status"] for s in suspended] == ["SUSPENDED"] * 2
    assert [r["mailboxResume"]["mailbox"]["status"] for r in resumed] == ["ACTIVE"] * 2
    changes = [
        e["node"]["action"]
        for e in events
        if e["node"]["action"] in ("mailbox.suspend", "mailbox.resume")
    ]
    assert changes == ["mailbox.resume", "mailbox.suspend"]  # newest first, each recorded once


async def test_suspension_stops_the_mailboxs_keys_and_passwords_until_resumed(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a mailbox with a mailbox key and a password, both working
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    other = await create_mailbox(gql, team.token, "other@example.com")
    key = await make_key(
        team.token, type="MAILBOX", permissions=ALL_MAILBOX_PERMISSIONS, mailboxId=mailbox["id"]
    )
    other_key = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=other["id"]
    )
    password = await create_password(gql, team.token, mailbox["id"])
    address = mailbox["address"]
    assert (await gql(VIEWER, token=key.token)).ok()
    assert (await check(gql, address, password["password"]))["allowed"]
    assert (await check(gql, address, key.token))["allowed"]

    # when the mailbox is suspended
    (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok()

    # then its key and password fail, other mailboxes' credentials do not
    refused = await gql(VIEWER, token=key.token)
    assert refused.status == 401
    assert refused.codes == ["UNAUTHENTICATED"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await check(gql, address, password["password"])) == {
        "allowed": False,
        "mailboxId": None,
        "permissions": [],
    }
    assert not (await check(gql, address, key.token, "IMAP"))["allowed"]
    assert (await gql(VIEWER, token=other_key.token)).ok()
    assert (await gql(KEY, {"id": key.id}, token=team.token)).ok()["apiKey"]["status"] == (
        "SUSPENDED"
    )

    # when it is resumed, everything works again
    (await gql(RESUME, {"id": mailbox["id"]}, token=team.token)).ok()

    assert (await gql(VIEWER, token=key.token)).ok()["viewer"]["apiKey"]["id"] == key.id
    assert (await check(gql, address, password["password"]))["allowed"]
    assert (await check(gql, address, key.token, "IMAP"))["allowed"]
    assert (await gql(KEY, {"id": key.id}, token=team.token)).ok()["apiKey"]["status"] == "ACTIVE"


async def test_suspension_deletes_nothing(gql: Gql, make_team: MakeTeam, make_key: MakeKey) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    key = await make_key(
        team.token, type="MAILBOX", permissions=["mailbox.read"], mailboxId=mailbox["id"]
    )
    password = await create_password(gql, team.token, mailbox["id"])

    (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok()
    during = (await gql(PASSWORDS, {"mailbox": mailbox["id"]}, token=team.token)).ok()
    listed = (await gql(MAILBOXES, token=team.token)).ok()["mailboxes"]

    assert [p["id"] for p in during["mailboxPasswords"]] == [password["mailboxPassword"]["id"]]
    assert during["mailboxPasswords"][0]["revokedAt"] is None
    assert listed["totalCount"] == 1
    assert (await ApiKey.get(id=key.id)).revoked_at is None
    assert await ApiKey.filter(team_id=team.id).count() == 2
    assert await Mailbox.filter(id=mailbox["id"], status="suspended").exists()


async def test_no_credential_sends_from_a_suspended_mailbox(
    gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    # given a sending key over all mailboxes and a key of the mailbox itself
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token, "news@example.com")
    other = await create_mailbox(gql, team.token, "other@example.com")
    await add_provider(gql, team.token)
    broad = await make_key(team.token, type="SENDING", permissions=["email.send"])
    own = await make_key(
        team.token, type="MAILBOX", permissions=["email.send"], mailboxId=mailbox["id"]
    )
    assert (await gql(SEND, {"from": mailbox["address"]}, token=broad.token)).ok()
    assert (await gql(SEND, {"from": mailbox["address"]}, token=own.token)).ok()

    # when the mailbox is suspended
    (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok()
    stored_before = await Message.filter(mailbox_id=mailbox["id"]).count()
    by_broad = await gql(SEND, {"from": mailbox["address"]}, token=broad.token)
    by_own = await gql(SEND, {"from": mailbox["address"]}, token=own.token)
    from_other = await gql(SEND, {"from": other["address"]}, token=broad.token)

    # then neither may send from its address; other mailboxes are unaffected
    assert by_broad.codes == ["CONFLICT"]
    assert by_own.codes == ["UNAUTHENTICATED"]
    assert from_other.ok()["emailSend"]["message"]["mailboxId"] == other["id"]
    assert await Message.filter(mailbox_id=mailbox["id"]).count() == stored_before

    # and after resuming both may send again
    (await gql(RESUME, {"id": mailbox["id"]}, token=team.token)).ok()
    assert (await gql(SEND, {"from": mailbox["address"]}, token=broad.token)).ok()
    assert (await gql(SEND, {"from": mailbox["address"]}, token=own.token)).ok()


async def test_no_mailbox_key_is_issued_for_a_suspended_mailbox(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok()

    result = await gql(
        KEY_CREATE,
        {"input": {"type": "MAILBOX", "permissions": ["email.send"], "mailboxId": mailbox["id"]}},
        token=team.token,
    )

    assert result.codes == ["CONFLICT"]


async def test_no_mailbox_key_is_rotated_while_its_mailbox_is_suspended(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    created = await gql(
        KEY_CREATE,
        {"input": {"type": "MAILBOX", "permissions": ["email.send"], "mailboxId": mailbox["id"]}},
        token=team.token,
    )
    key_id = created.ok()["apiKeyCreate"]["apiKey"]["id"]
    (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok()

    rotate = "mutation($id: ID!) { apiKeyRotate(input: {id: $id}) { apiKey { id } } }"
    refused = await gql(rotate, {"id": key_id}, token=team.token)
    (await gql(RESUME, {"id": mailbox["id"]}, token=team.token)).ok()
    resumed = await gql(rotate, {"id": key_id}, token=team.token)

    assert refused.codes == ["CONFLICT"]  # as issuing one is: resume it first
    assert resumed.ok()["apiKeyRotate"]["apiKey"]["id"] != key_id


# --- mailbox passwords -----------------------------------------------------------------------


async def test_password_is_shown_once_with_connection_settings(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token, "ops@example.com")

    created = await create_password(gql, team.token, mailbox["id"], "Thunderbird on laptop")
    listed = (await gql(PASSWORDS, {"mailbox": mailbox["id"]}, token=team.token)).ok()

    secret = created["password"]
    row = created["mailboxPassword"]
    assert len(secret) >= 32
    assert row["appName"] == "Thunderbird on laptop"
    assert row["mailboxId"] == mailbox["id"]
    assert row["display"].endswith(secret[-4:])
    assert row["lastUsedAt"] is None
    assert row["revokedAt"] is None
    assert sorted(row["permissions"]) == sorted(ALL_MAILBOX_PERMISSIONS)
    connection = created["connection"]
    assert connection["username"] == "ops@example.com"
    assert connection["imapPort"] == 993
    assert connection["smtpPort"] == 587
    assert connection["imapHost"]
    assert connection["smtpHost"]
    assert [p["id"] for p in listed["mailboxPasswords"]] == [row["id"]]
    assert secret not in repr(listed)
    assert secret[10:] not in repr(listed)


async def test_password_needs_an_app_name(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)

    result = await gql(PASSWORD_CREATE, {"mailbox": mailbox["id"], "app": "  "}, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "appName"


async def test_passwords_are_listed_with_their_last_use(
    gql: Gql, make_team: MakeTeam, services: Services
) -> None:
    # given two passwords, one of which is used
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    used = await create_password(gql, team.token, mailbox["id"], "phone")
    idle = await create_password(gql, team.token, mailbox["id"], "laptop")

    # when the gateway checks it and the last-use times are flushed
    assert (await check(gql, mailbox["address"], used["password"], "IMAP"))["allowed"]
    await services.checker.password_last_used.flush()
    listed = (await gql(PASSWORDS, {"mailbox": mailbox["id"]}, token=team.token)).ok()

    # then only the used one shows a last use (newest first)
    rows = {row["appName"]: row for row in listed["mailboxPasswords"]}
    assert [row["appName"] for row in listed["mailboxPasswords"]] == ["laptop", "phone"]
    assert rows["phone"]["lastUsedAt"] is not None
    assert rows["laptop"]["lastUsedAt"] is None
    assert rows["laptop"]["id"] == idle["mailboxPassword"]["id"]


async def test_passwords_are_revoked_one_by_one_and_idempotently(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    phone = await create_password(gql, team.token, mailbox["id"], "phone")
    laptop = await create_password(gql, team.token, mailbox["id"], "laptop")
    phone_id = phone["mailboxPassword"]["id"]

    first = (await gql(PASSWORD_REVOKE, {"id": phone_id}, token=team.token)).ok()
    second = (await gql(PASSWORD_REVOKE, {"id": phone_id}, token=team.token)).ok()
    listed = (await gql(PASSWORDS, {"mailbox": mailbox["id"]}, token=team.token)).ok()

    revoked_at = first["mailboxPasswordRevoke"]["mailboxPassword"]["revokedAt"]
    assert revoked_at is not None
    assert second["mailboxPasswordRevoke"]["mailboxPassword"]["revokedAt"] == revoked_at
    assert not (await check(gql, mailbox["address"], phone["password"]))["allowed"]
    assert (await check(gql, mailbox["address"], laptop["password"]))["allowed"]
    rows = {row["appName"]: row["revokedAt"] for row in listed["mailboxPasswords"]}
    assert rows == {"phone": revoked_at, "laptop": None}


async def test_passwords_count_toward_the_credential_limit(gql: Gql, make_team: MakeTeam) -> None:
    # given a team whose limit leaves room for one more credential besides its first key
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    await set_limit(gql, team.id, "CREDENTIALS", 2)
    phone = await create_password(gql, team.token, mailbox["id"], "phone")

    # when it asks for another password, or another key
    password = await gql(PASSWORD_CREATE, {"mailbox": mailbox["id"], "app": "x"}, token=team.token)
    key = await gql(
        KEY_CREATE,
        {"input": {"type": "INFRASTRUCTURE", "preset": "root:readonly"}},
        token=team.token,
    )

    # then both are refused with the limit named
    assert password.codes == ["LIMIT_EXCEEDED"]
    assert password.errors[0]["extensions"]["resource"] == "credentials"
    assert password.errors[0]["extensions"]["limit"] == 2
    assert key.codes == ["LIMIT_EXCEEDED"]
    assert await MailboxPassword.filter(mailbox_id=mailbox["id"]).count() == 1

    # and a revoked password frees its slot
    (await gql(PASSWORD_REVOKE, {"id": phone["mailboxPassword"]["id"]}, token=team.token)).ok()
    assert (
        await gql(PASSWORD_CREATE, {"mailbox": mailbox["id"], "app": "x"}, token=team.token)
    ).ok()


async def test_no_password_is_created_on_a_suspended_mailbox(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    (await gql(SUSPEND, {"id": mailbox["id"]}, token=team.token)).ok()

    refused = await gql(PASSWORD_CREATE, {"mailbox": mailbox["id"], "app": "x"}, token=team.token)
    (await gql(RESUME, {"id": mailbox["id"]}, token=team.token)).ok()
    after_resume = await gql(
        PASSWORD_CREATE, {"mailbox": mailbox["id"], "app": "x"}, token=team.token
    )

    assert refused.codes == ["CONFLICT"]
    assert after_resume.ok()
    assert await MailboxPassword.filter(mailbox_id=mailbox["id"]).count() == 1


async def test_password_changes_are_audited_without_the_password(
    gql: Gql, make_team: MakeTeam
) -> None:
    team = await make_team()
    mailbox = await create_mailbox(gql, team.token)
    created = await create_password(gql, team.token, mailbox["id"])
    password_id = created["mailboxPassword"]["id"]
    (await gql(PASSWORD_REVOKE, {"id": password_id}, token=team.token)).ok()

    events = (await gql(AUDIT, token=team.token)).ok()["auditEvents"]["edges"]

    actions = [(e["node"]["action"], e["node"]["targetId"]) for e in events]
    assert ("mailbox_password.create", password_id) in actions
    assert ("mailbox_password.revoke", password_id) in actions
    assert created["password"] not in repr(events)
    assert created["password"][10:] not in repr(events)
