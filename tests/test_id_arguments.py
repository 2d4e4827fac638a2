"""Every id the API takes (arguments, ids inside inputs, lists of ids, cursors) is checked for
length and alphabet before any query: an id that cannot be ours is NOT_FOUND (or, for a cursor
or a list that names nothing of ours, BAD_USER_INPUT), never an internal error, and the value
never reaches a query or the log."""

from __future__ import annotations

import logging
from typing import Any

import graphql
import pytest

from tests.conftest import OPERATOR_TOKEN, Gql
from tests.fuzzing import SCHEMA
from tests.world import World, build_world

BAD = "$BAD"  # where the malformed id goes
PASTED = "smx_root_rdsBkEcX2MOAxVL9_IyPPtnLaNtyvlutsiNcNFNpIYmIRYTKI4L12GQ"
MALFORMED_IDS = {
    "33 characters": "k" * 33,
    "a pasted token": PASTED,
    "a space": "mbx_abc def",
    "not ASCII": "mbx_абв",
    "a quote": "mbx_'; --",
}
OPERATOR = "operator"
TEAM = "team"
# Asked with the team's Full Access key, which people's operations refuse (FORBIDDEN).
PEOPLE_ONLY = "people-only"

PLAN = "{changes: {add: []}}"
# (label, who asks, document, variables): `$BAD` in the variables is the malformed id.
ID_ARGUMENTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("team(id)", OPERATOR, "query($v: ID!) { team(id: $v) { id } }", {"v": BAD}),
    ("apiKey(id)", TEAM, "query($v: ID!) { apiKey(id: $v) { id } }", {"v": BAD}),
    ("mailbox(id)", TEAM, "query($v: ID!) { mailbox(id: $v) { id } }", {"v": BAD}),
    ("mailboxPasswords(mailboxId)", TEAM,
     "query($v: ID!) { mailboxPasswords(mailboxId: $v) { id } }", {"v": BAD}),
    ("provider(id)", TEAM, "query($v: ID!) { provider(id: $v) { id } }", {"v": BAD}),
    ("deliveryGroup(id)", TEAM, "query($v: ID!) { deliveryGroup(id: $v) { id } }", {"v": BAD}),
    ("dependents(id)", TEAM, "query($v: ID!) { dependents(id: $v) { id } }", {"v": BAD}),
    ("policyPlanById(id)", OPERATOR, "query($v: ID!) { policyPlanById(id: $v) { id } }",
     {"v": BAD}),
    ("explainAccess.credentialId", TEAM,
     "query($v: ExplainAccessInput!) { explainAccess(input: $v) { allowed } }",
     {"v": {"credentialId": BAD, "permission": "key.read"}}),
    ("explainAccess.resourceId", TEAM,
     "query($v: ExplainAccessInput!) { explainAccess(input: $v) { allowed } }",
     {"v": {"credentialId": "$KEY", "permission": "mailbox.read", "resourceId": BAD}}),
    ("whoCan.teamId", TEAM,
     "query($v: WhoCanInput!) { whoCan(input: $v) { policyVersion } }",
     {"v": {"teamId": BAD, "permission": "key.read"}}),
    ("whoCan.resourceId", TEAM,
     "query($v: WhoCanInput!) { whoCan(input: $v) { policyVersion } }",
     {"v": {"teamId": "$TEAM", "permission": "mailbox.read", "resourceId": BAD}}),
    ("apiKeyCreate.mailboxId", TEAM,
     "mutation($v: ApiKeyCreateInput!) { apiKeyCreate(input: $v) { secret } }",
     {"v": {"type": "MAILBOX", "permissions": ["email.send"], "mailboxId": BAD}}),
    ("apiKeyCreate.mailboxIds", TEAM,
     "mutation($v: ApiKeyCreateInput!) { apiKeyCreate(input: $v) { secret } }",
     {"v": {"type": "SENDING", "permissions": ["email.send"], "mailboxIds": [BAD]}}),
    ("apiKeyCreate.sendScope.providerIds", TEAM,
     "mutation($v: ApiKeyCreateInput!) { apiKeyCreate(input: $v) { secret } }",
     {"v": {"type": "SENDING", "permissions": ["email.send"],
            "sendScope": {"mode": "PROVIDERS", "providerIds": [BAD]}}}),
    ("apiKeyCreate.sendScope.deliveryGroupIds", TEAM,
     "mutation($v: ApiKeyCreateInput!) { apiKeyCreate(input: $v) { secret } }",
     {"v": {"type": "SENDING", "permissions": ["email.send"],
            "sendScope": {"mode": "DELIVERY_GROUPS", "deliveryGroupIds": [BAD]}}}),
    ("apiKeyRevoke.id", TEAM,
     "mutation($v: ApiKeyRevokeInput!) { apiKeyRevoke(input: $v) { apiKey { id } } }",
     {"v": {"id": BAD}}),
    ("apiKeyRotate.id", TEAM,
     "mutation($v: ApiKeyRotateInput!) { apiKeyRotate(input: $v) { secret } }",
     {"v": {"id": BAD}}),
    ("teamLimitsUpdate.teamId", OPERATOR,
     "mutation($v: TeamLimitsUpdateInput!) { teamLimitsUpdate(input: $v) { __typename } }",
     {"v": {"teamId": BAD, "resource": "MAILBOXES", "limit": 5}}),
    *(
        (f"{name}.id", TEAM,
         f"mutation($v: MailboxIdInput!) {{ {name}(input: $v) {{ mailbox {{ id }} }} }}",
         {"v": {"id": BAD}})
        for name in ("mailboxDelete", "mailboxSuspend", "mailboxResume")
    ),
    ("mailboxUpdate.id", TEAM,
     "mutation($v: MailboxUpdateInput!) { mailboxUpdate(input: $v) { mailbox { id } } }",
     {"v": {"id": BAD, "displayName": "News"}}),
    ("mailboxPasswordCreate.mailboxId", TEAM,
     "mutation($v: MailboxPasswordCreateInput!) { mailboxPasswordCreate(input: $v) "
     "{ password } }", {"v": {"mailboxId": BAD, "appName": "Mail"}}),
    ("mailboxPasswordRevoke.id", TEAM,
     "mutation($v: MailboxPasswordRevokeInput!) { mailboxPasswordRevoke(input: $v) "
     "{ __typename } }", {"v": {"id": BAD}}),
    ("providerUpdate.id", TEAM,
     "mutation($v: ProviderUpdateInput!) { providerUpdate(input: $v) { provider { id } } }",
     {"v": {"id": BAD, "name": "ses"}}),
    *(
        (f"{name}.id", TEAM,
         f"mutation($v: ProviderIdInput!) {{ {name}(input: $v) {{ provider {{ id }} }} }}",
         {"v": {"id": BAD}})
        for name in ("providerActivate", "providerDeactivate")
    ),
    ("providerDelete.id", TEAM,
     "mutation($v: ProviderDeleteInput!) { providerDelete(input: $v) { provider { id } } }",
     {"v": {"id": BAD}}),
    ("deliveryGroupCreate.providerIds", TEAM,
     "mutation($v: DeliveryGroupCreateInput!) { deliveryGroupCreate(input: $v) "
     "{ deliveryGroup { id } } }", {"v": {"name": "eu", "providerIds": [BAD]}}),
    ("deliveryGroupUpdate.id", TEAM,
     "mutation($v: DeliveryGroupUpdateInput!) { deliveryGroupUpdate(input: $v) "
     "{ deliveryGroup { id } } }", {"v": {"id": BAD, "name": "eu"}}),
    ("deliveryGroupUpdate.providerIds", TEAM,
     "mutation($v: DeliveryGroupUpdateInput!) { deliveryGroupUpdate(input: $v) "
     "{ deliveryGroup { id } } }", {"v": {"id": "$GROUP", "providerIds": [BAD]}}),
    ("deliveryGroupDelete.id", TEAM,
     "mutation($v: DeliveryGroupDeleteInput!) { deliveryGroupDelete(input: $v) "
     "{ deliveryGroup { id } } }", {"v": {"id": BAD}}),
    ("emailSend.deliveryGroupHint", "sending",
     "mutation($v: EmailSendInput!) { emailSend(input: $v) { message { id } } }",
     {"v": {"from": "news@acme.example", "to": ["a@b.example"], "subject": "Hi", "text": "Hi",
            "deliveryGroupHint": [BAD]}}),
    *(
        (f"{name}.id", TEAM,
         f"mutation($v: DomainIdInput!) {{ {name}(input: $v) {{ domain {{ id }} }} }}",
         {"v": {"id": BAD}})
        for name in ("domainVerify", "domainDelete")
    ),
    ("webhookUpdate.id", TEAM,
     "mutation($v: WebhookUpdateInput!) { webhookUpdate(input: $v) { webhook { id } } }",
     {"v": {"id": BAD, "active": False}}),
    *(
        (f"{name}.id", TEAM,
         f"mutation($v: WebhookIdInput!) {{ {name}(input: $v) {{ webhook {{ id }} }} }}",
         {"v": {"id": BAD}})
        for name in ("webhookSecretRotate", "webhookDelete")
    ),
    ("policyApply.planId", OPERATOR,
     "mutation($v: PolicyApplyInput!) { policyApply(input: $v) { __typename } }",
     {"v": {"message": "m", "planId": BAD}}),
    *(
        (f"{name}(after)", TEAM, f"query($v: String) {{ {name}(after: $v) {{ totalCount }} }}",
         {"v": BAD})
        for name in (
            "apiKeys", "mailboxes", "providers", "deliveryGroups", "domains", "webhooks",
            "auditEvents", "appConnections",
        )
    ),
    ("policyVersions(after)", OPERATOR,
     "query($v: String) { policyVersions(after: $v) { totalCount } }", {"v": BAD}),
    ("whoCan(after)", TEAM,
     "query($v: String, $t: ID!) { whoCan(input: {teamId: $t, permission: \"key.read\"}, "
     "after: $v) { credentials { totalCount } } }", {"v": BAD, "t": "$TEAM"}),
    ("appConnectionDisconnect.id", TEAM,
     "mutation($v: AppConnectionIdInput!) { appConnectionDisconnect(input: $v) "
     "{ __typename } }", {"v": {"id": BAD}}),
    ("apiKeyAllowedIpsUpdate.id", TEAM,
     "mutation($v: ApiKeyAllowedIpsUpdateInput!) { apiKeyAllowedIpsUpdate(input: $v) "
     "{ __typename } }", {"v": {"id": BAD, "allowedIps": ["10.0.0.0/8"]}}),
    ("mailboxPasswordAllowedIpsUpdate.id", TEAM,
     "mutation($v: MailboxPasswordAllowedIpsUpdateInput!) { "
     "mailboxPasswordAllowedIpsUpdate(input: $v) { __typename } }",
     {"v": {"id": BAD, "allowedIps": ["10.0.0.0/8"]}}),
    # People's operations: a key is refused them before the id is even looked at.
    *(
        (f"{name}.id", PEOPLE_ONLY,
         f"mutation($v: {input_type}!) {{ {name}(input: $v) {{ __typename }} }}", {"v": value})
        for name, input_type, value in (
            ("invitationAccept", "InvitationIdInput", {"id": BAD}),
            ("invitationRevoke", "InvitationIdInput", {"id": BAD}),
            ("memberRoleUpdate", "MemberRoleUpdateInput", {"id": BAD, "role": "MEMBER"}),
            ("memberRemove", "MembershipIdInput", {"id": BAD}),
            ("teamOwnershipTransfer", "MembershipIdInput", {"id": BAD}),
        )
    ),
    *(
        (f"{name}(after)", PEOPLE_ONLY,
         f"query($v: String) {{ {name}(after: $v) {{ totalCount }} }}", {"v": BAD})
        for name in ("teamMembers", "invitations")
    ),
    *(
        (f"PolicyImpact.{name}(after)", OPERATOR,
         f"query($v: String) {{ policyPlan(input: {PLAN}) {{ impact {{ {name}(after: $v) "
         "{ totalCount } } } }", {"v": BAD})
        for name in ("credentials", "teams")
    ),
]  # fmt: skip


def _filled(value: Any, bad: str, world: World) -> Any:
    known = {BAD: bad, "$KEY": world.spare_key_id, "$TEAM": world.team_id,
             "$GROUP": world.group_id}  # fmt: skip
    if isinstance(value, dict):
        return {k: _filled(v, bad, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, bad, world) for v in value]
    return known.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("who", "query", "variables"),
    [case[1:] for case in ID_ARGUMENTS],
    ids=[case[0] for case in ID_ARGUMENTS],
)
async def test_ids_that_cannot_be_ours_are_refused_before_any_query(
    gql: Gql, caplog: pytest.LogCaptureFixture, who: str, query: str, variables: dict[str, Any]
) -> None:
    world = await build_world(gql)
    tokens = {OPERATOR: OPERATOR_TOKEN, TEAM: world.full_access_token}
    token = tokens.get(who, world.full_access_token if who == PEOPLE_ONLY else world.sending_token)
    refusals = {"FORBIDDEN"} if who == PEOPLE_ONLY else {"NOT_FOUND", "BAD_USER_INPUT"}
    caplog.set_level(logging.DEBUG)  # the ORM logs every query's parameters at DEBUG

    for name, bad in MALFORMED_IDS.items():
        result = await gql(query, _filled(variables, bad, world), token=token)

        assert result.codes, (name, result.body)
        assert set(result.codes) <= refusals, (name, result.body)
        assert bad not in caplog.text, name


def _mentions(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_mentions(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, key) for v in value)
    return False


def test_every_id_argument_of_the_schema_is_in_the_table() -> None:
    """An id or cursor added to the schema must join the table above."""
    missing: list[str] = []
    for type_name, type_ in SCHEMA.type_map.items():
        if type_name.startswith("__"):
            continue
        if isinstance(type_, graphql.GraphQLObjectType):
            for field_name, field in type_.fields.items():
                for arg_name, arg in field.args.items():
                    is_id = graphql.get_named_type(arg.type) is graphql.GraphQLID
                    if (is_id or arg_name == "after") and not any(
                        f"{field_name}(" in case[2] and f"{arg_name}: $v" in case[2]
                        for case in ID_ARGUMENTS
                    ):
                        missing.append(f"{type_name}.{field_name}({arg_name})")
        elif isinstance(type_, graphql.GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                if graphql.get_named_type(input_field.type) is graphql.GraphQLID and not any(
                    (type_name in case[2] or type_name == "SendScopeInput")
                    and _mentions(case[3], field_name)
                    for case in ID_ARGUMENTS
                ):
                    missing.append(f"{type_name}.{field_name}")
    assert not missing
