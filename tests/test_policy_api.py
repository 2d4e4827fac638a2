"""GraphQL for policy authors: read, plan, apply, roll back; every error code they can meet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mailkeys import policy
from mailkeys.models import AuditEvent
from mailkeys.models import policy as stored
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.resolvers.policy_versions import seed_policy
from tests.conftest import OPERATOR_TOKEN, Gql, KeyHandle, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
MakeKey = Callable[..., Awaitable[KeyHandle]]

SHIPPED = shipped_policy_text()
READONLY_CREATES = "p, root:readonly, key.create, team"
KEY_ADMIN = ["p2, root:key_admin, Key Admin", "p, root:key_admin, key.*, team"]

POLICY = "{ policy { version loadedVersion rules text author message } }"
PLAN = """
mutation($input: PolicyPlanInput!) {
  policyPlan(input: $input) {
    id baseVersion valid breaksShippedTable rules added removed
    problems { line reason text }
    tables { name total passed failed mismatches { line case expected actual description } }
    impact {
      credentialsConsidered credentialsAffected teamsAffected
      permissions { permission gainedBy lostBy }
      groups { credentialType preset permissions credentials teams gained lost }
      credentials(first: 10) { totalCount edges { node { id teamId gained lost } } }
      teams(first: 10) { totalCount edges { node { teamId credentials } } }
    }
  }
}
"""
APPLY = """
mutation($input: PolicyApplyInput!) {
  policyApply(input: $input) {
    version { version author message source baseVersion forced added removed rules }
    shippedTable { total failed }
  }
}
"""
ROLLBACK = """
mutation($input: PolicyRollbackInput!) {
  policyRollback(input: $input) {
    version { version source baseVersion forced added removed text }
    shippedTable { failed }
  }
}
"""
VERSIONS = """
query($first: Int, $after: String) {
  policyVersions(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { version source } }
  }
}
"""
KEY_CREATE = """
mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) { apiKey { id } } }
"""


@pytest.fixture
async def seeded(db: None) -> None:
    """The database holds the shipped policy as version 1, as after a first start."""
    await seed_policy(shipped_model_text(), SHIPPED)


async def plan(gql: Gql, **plan_input: Any) -> dict[str, Any]:
    result = await gql(PLAN, {"input": plan_input}, token=OPERATOR_TOKEN)
    return dict(result.ok()["policyPlan"])


async def apply(gql: Gql, **apply_input: Any) -> Any:
    apply_input.setdefault("message", "test change")
    return await gql(APPLY, {"input": apply_input}, token=OPERATOR_TOKEN)


def shipped_line_count() -> int:
    return len(SHIPPED.rstrip("\n").splitlines())


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


async def test_operator_reads_the_live_policy(seeded: None, gql: Gql) -> None:
    live = (await gql(POLICY, token=OPERATOR_TOKEN)).ok()["policy"]

    assert live["version"] == 1
    assert live["loadedVersion"] == 1
    assert "p, root:readonly, *.read, team" in live["rules"]
    assert live["text"] == SHIPPED
    assert live["author"] == "seed"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (POLICY, {}),
        (VERSIONS, {}),
        ("{ policyVersion(version: 1) { version } }", {}),
        ('{ policyPlanById(id: "plan_x") { id } }', {}),
        (PLAN, {"input": {"changes": {"add": [READONLY_CREATES]}}}),
        (APPLY, {"input": {"rules": SHIPPED, "expectedVersion": 1, "message": "m"}}),
        (ROLLBACK, {"input": {"version": 1}}),
    ],
    ids=["policy", "versions", "version", "plan-by-id", "plan", "apply", "rollback"],
)
async def test_team_credentials_are_forbidden_policy_operations(
    seeded: None, gql: Gql, make_team: MakeTeam, document: str, variables: dict[str, Any]
) -> None:
    team = await make_team()

    refused = await gql(document, variables, token=team.token)
    anonymous = await gql(document, variables)

    assert refused.codes == ["FORBIDDEN"]
    assert anonymous.codes == ["UNAUTHENTICATED"]


async def test_unknown_version_is_not_found(seeded: None, gql: Gql) -> None:
    result = await gql("{ policyVersion(version: 99) { version } }", token=OPERATOR_TOKEN)

    assert result.codes == ["NOT_FOUND"]


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


async def test_plan_shows_table_results_and_impact(
    seeded: None, gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    reader = await make_key(team.token, preset="root:readonly")
    await make_key(team.token, preset="root:billing_admin")

    planned = await plan(gql, changes={"add": [READONLY_CREATES]})

    assert planned["valid"] is True
    assert planned["id"].startswith("plan_")
    assert planned["baseVersion"] == 1
    assert planned["added"] == [READONLY_CREATES]
    assert planned["removed"] == []
    assert READONLY_CREATES in planned["rules"]
    [shipped] = planned["tables"]
    assert shipped["name"] == "policy_tests/shipped.csv"
    assert shipped["failed"] == 2
    assert "expected deny, got allow" in shipped["mismatches"][0]["description"]
    assert planned["breaksShippedTable"] is True
    impact = planned["impact"]
    assert impact["credentialsConsidered"] == 3  # the team's first key, and the two made here
    assert (impact["credentialsAffected"], impact["teamsAffected"]) == (1, 1)
    assert impact["permissions"] == [{"permission": "key.create", "gainedBy": 1, "lostBy": 0}]
    [group] = impact["groups"]
    assert (group["credentialType"], group["preset"], group["gained"]) == (
        "infrastructure",
        "root:readonly",
        ["key.create"],
    )
    [edge] = impact["credentials"]["edges"]
    assert edge["node"] == {
        "id": reader.id,
        "teamId": team.id,
        "gained": ["key.create"],
        "lost": [],
    }
    assert impact["teams"]["edges"] == [{"node": {"teamId": team.id, "credentials": 1}}]


async def test_plan_of_bad_rules_lists_every_problem_by_line(seeded: None, gql: Gql) -> None:
    bad = SHIPPED + "p, root:readonly, key.destroy, team\np, root:ghost, key.read, team\n"

    planned = await plan(gql, rules=bad)

    assert planned["valid"] is False
    assert planned["id"] is None
    assert planned["impact"] is None
    assert [(p["line"], p["text"]) for p in planned["problems"]] == [
        (shipped_line_count() + 1, "p, root:readonly, key.destroy, team"),
        (shipped_line_count() + 2, "p, root:ghost, key.read, team"),
    ]
    assert "unknown preset" in planned["problems"][1]["reason"]


async def test_plan_runs_the_authors_own_table_too(seeded: None, gql: Gql) -> None:
    table = (
        "credential,preset,permissions,mailboxes,operation,resource,expect\n"
        "infrastructure,root:key_admin,,,key.rotate,team,allow\n"
        "infrastructure,root:key_admin,,,team.read,team,allow\n"
    )

    planned = await plan(gql, changes={"add": KEY_ADMIN}, decisionTable=table)

    shipped, mine = planned["tables"]
    assert shipped["failed"] == 0
    assert planned["breaksShippedTable"] is False
    assert (mine["name"], mine["total"], mine["failed"]) == ("decisionTable", 2, 1)
    assert mine["mismatches"][0]["line"] == 3


async def test_unreadable_decision_table_is_bad_input(seeded: None, gql: Gql) -> None:
    result = await gql(
        PLAN,
        {"input": {"changes": {"add": KEY_ADMIN}, "decisionTable": "not,a,header\n"}},
        token=OPERATOR_TOKEN,
    )

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "decisionTable"
    assert result.errors[0]["extensions"]["line"] == 1


async def test_removing_a_rule_that_is_not_there_is_bad_input(seeded: None, gql: Gql) -> None:
    result = await gql(
        PLAN,
        {"input": {"changes": {"remove": ["p, root:readonly, key.create, team"]}}},
        token=OPERATOR_TOKEN,
    )

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == "changes.remove[0]"


async def test_plan_needs_rules_or_changes(seeded: None, gql: Gql) -> None:
    neither = await gql(PLAN, {"input": {}}, token=OPERATOR_TOKEN)
    both = await gql(
        PLAN, {"input": {"rules": SHIPPED, "changes": {"add": []}}}, token=OPERATOR_TOKEN
    )

    assert neither.codes == both.codes == ["BAD_USER_INPUT"]


async def test_a_stored_plan_can_be_read_again(seeded: None, gql: Gql) -> None:
    planned = await plan(gql, changes={"add": [READONLY_CREATES]})

    again = await gql(
        "query($id: ID!) { policyPlanById(id: $id) { id baseVersion added breaksShippedTable "
        "impact { credentialsConsidered } } }",
        {"id": planned["id"]},
        token=OPERATOR_TOKEN,
    )

    assert again.ok()["policyPlanById"] == {
        "id": planned["id"],
        "baseVersion": 1,
        "added": [READONLY_CREATES],
        "breaksShippedTable": True,
        "impact": {"credentialsConsidered": 0},
    }


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------


async def test_a_change_breaking_the_shipped_table_needs_force(
    seeded: None, gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    reader = await make_key(team.token, preset="root:readonly")
    planned = await plan(gql, changes={"add": [READONLY_CREATES]})
    assert (await gql(KEY_CREATE, token=reader.token)).codes == ["FORBIDDEN"]

    unforced = await apply(gql, planId=planned["id"])

    assert unforced.codes == ["CONFLICT"]
    extensions = unforced.errors[0]["extensions"]
    assert extensions["reason"] == "DECISION_TABLE_BROKEN"
    assert extensions["mismatchCount"] == 2
    assert policy.current().version == 1

    forced = (await apply(gql, planId=planned["id"], force=True)).ok()["policyApply"]

    assert forced["version"]["version"] == 2
    assert forced["version"]["forced"] is True
    assert forced["version"]["added"] == [READONLY_CREATES]
    assert forced["version"]["source"] == "APPLY"
    assert forced["shippedTable"]["failed"] == 2
    # this worker decides with the new version as soon as the mutation returned
    assert policy.current().version == 2
    assert (await gql(KEY_CREATE, token=reader.token)).codes == []


async def test_a_change_keeping_the_shipped_table_applies_without_force(
    seeded: None, gql: Gql
) -> None:
    applied = await apply(gql, rules=SHIPPED + "\n".join(KEY_ADMIN) + "\n", expectedVersion=1)

    version = applied.ok()["policyApply"]["version"]
    assert (version["version"], version["forced"], version["added"]) == (2, False, KEY_ADMIN)
    assert version["author"] == "operator"
    presets = (await gql("{ presets { id permissions } }", token=OPERATOR_TOKEN)).ok()
    assert {
        "id": "root:key_admin",
        "permissions": sorted(["key.read", "key.create", "key.rotate", "key.revoke"]),
    } in presets["presets"]


async def test_bad_rules_are_refused_naming_the_line(seeded: None, gql: Gql) -> None:
    bad = SHIPPED + "p, root:readonly, key.destroy, team\n"

    refused = await apply(gql, rules=bad, expectedVersion=1)

    assert refused.codes == ["BAD_USER_INPUT"]
    error = refused.errors[0]
    line = shipped_line_count() + 1
    assert error["extensions"]["field"] == "rules"
    assert error["extensions"]["line"] == line
    assert error["message"].startswith(f"line {line}: ")
    assert "key.destroy" in error["message"]
    assert error["extensions"]["problems"][0]["line"] == line
    assert await stored.live_version() == 1  # nothing half-applied


async def test_apply_refuses_when_the_live_version_moved(seeded: None, gql: Gql) -> None:
    stale_plan = await plan(gql, changes={"add": KEY_ADMIN})
    (await apply(gql, rules=SHIPPED + READONLY_CREATES + "\n", expectedVersion=1, force=True)).ok()

    by_rules = await apply(gql, rules=SHIPPED, expectedVersion=1)
    by_plan = await apply(gql, planId=stale_plan["id"])

    for refused in (by_rules, by_plan):
        assert refused.codes == ["CONFLICT"]
        assert refused.errors[0]["extensions"]["reason"] == "POLICY_VERSION_MOVED"
        assert refused.errors[0]["extensions"]["liveVersion"] == 2
    assert await stored.live_version() == 2


@pytest.mark.parametrize(
    ("apply_input", "field"),
    [
        ({"rules": SHIPPED, "expectedVersion": 1, "message": "  "}, "message"),
        ({"rules": SHIPPED}, "expectedVersion"),
        ({"expectedVersion": 1}, "planId"),
        ({"rules": SHIPPED, "planId": "plan_x", "expectedVersion": 1}, "planId"),
    ],
    ids=["empty-message", "no-expected-version", "nothing", "both"],
)
async def test_apply_input_is_checked(
    seeded: None, gql: Gql, apply_input: dict[str, Any], field: str
) -> None:
    refused = await apply(gql, **apply_input)

    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == field


async def test_unknown_plan_is_not_found(seeded: None, gql: Gql) -> None:
    assert (await apply(gql, planId="plan_nope")).codes == ["NOT_FOUND"]


# ---------------------------------------------------------------------------------------------
# Rolling back, versions, audit
# ---------------------------------------------------------------------------------------------


async def test_rollback_stores_a_new_version_equal_to_an_old_one(
    seeded: None, gql: Gql, make_team: MakeTeam, make_key: MakeKey
) -> None:
    team = await make_team()
    reader = await make_key(team.token, preset="root:readonly")
    (await apply(gql, rules=SHIPPED + READONLY_CREATES + "\n", expectedVersion=1, force=True)).ok()

    rolled = await gql(ROLLBACK, {"input": {"version": 1}}, token=OPERATOR_TOKEN)

    version = rolled.ok()["policyRollback"]["version"]
    assert (version["version"], version["source"], version["baseVersion"]) == (3, "ROLLBACK", 2)
    assert version["removed"] == [READONLY_CREATES]
    assert version["text"] == SHIPPED
    assert (await gql(KEY_CREATE, token=reader.token)).codes == ["FORBIDDEN"]


async def test_rollback_to_an_unknown_version_or_a_moved_one(seeded: None, gql: Gql) -> None:
    missing = await gql(ROLLBACK, {"input": {"version": 7}}, token=OPERATOR_TOKEN)
    moved = await gql(
        ROLLBACK, {"input": {"version": 1, "expectedVersion": 5}}, token=OPERATOR_TOKEN
    )

    assert missing.codes == ["NOT_FOUND"]
    assert moved.codes == ["CONFLICT"]


async def test_versions_are_a_connection_newest_first(seeded: None, gql: Gql) -> None:
    (await apply(gql, rules=SHIPPED + "\n".join(KEY_ADMIN) + "\n", expectedVersion=1)).ok()
    (await gql(ROLLBACK, {"input": {"version": 1}}, token=OPERATOR_TOKEN)).ok()

    first = (await gql(VERSIONS, {"first": 2}, token=OPERATOR_TOKEN)).ok()["policyVersions"]
    rest = (
        await gql(
            VERSIONS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=OPERATOR_TOKEN
        )
    ).ok()["policyVersions"]

    assert first["totalCount"] == 3
    assert [e["node"] for e in first["edges"]] == [
        {"version": 3, "source": "ROLLBACK"},
        {"version": 2, "source": "APPLY"},
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"] for e in rest["edges"]] == [{"version": 1, "source": "SEED"}]
    assert rest["pageInfo"]["hasNextPage"] is False
    bad = await gql(VERSIONS, {"after": "bm9wZQ=="}, token=OPERATOR_TOKEN)
    assert bad.codes == ["BAD_USER_INPUT"]


async def test_policy_changes_and_refusals_are_audited(seeded: None, gql: Gql) -> None:
    (await apply(gql, rules=SHIPPED + "\n".join(KEY_ADMIN) + "\n", expectedVersion=1)).ok()
    await apply(gql, rules=SHIPPED, expectedVersion=1)  # refused: the version moved
    (await gql(ROLLBACK, {"input": {"version": 1, "message": "undo"}}, token=OPERATOR_TOKEN)).ok()

    events = await AuditEvent.filter(target_type="policy").order_by("created_at")

    assert [(e.action, e.outcome, e.target_id) for e in events] == [
        ("policy.apply", "success", "2"),
        ("policy.apply", "policy_version_conflict", None),
        ("policy.rollback", "success", "3"),
    ]
    assert all(e.team_id is None and e.actor == "operator" for e in events)
    assert events[0].details["added"] == KEY_ADMIN
    assert events[0].details["message"] == "test change"
    assert events[2].details["rolled_back_to"] == 1
    assert events[2].details["message"] == "undo"
