"""GraphQL for policy authors: plans (proposed rules checked) and their impact."""

from __future__ import annotations

from typing import Annotated

import strawberry

from mailkeys.policy.impact import AffectedCredential, AffectedTeam, Impact
from mailkeys.policy.rules import rules_of
from mailkeys.policy.tables import CaseResult, TableRun
from mailkeys.resolvers import policy_plans
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info


@strawberry.type(description="A line of proposed rules that does not fit, and why.")
class PolicyRuleProblem:
    line: int = strawberry.field(description="The line number in the proposed rules text.")
    reason: str = strawberry.field(description="What is wrong with it.")
    text: str = strawberry.field(description="The line itself.")


@strawberry.type(description="A case of a decision table that the policy decides otherwise.")
class DecisionMismatch:
    line: int = strawberry.field(description="The case's line in its table.")
    case: str = strawberry.field(description="Who asks what, e.g. `sending [...]: email.send`.")
    expected: str = strawberry.field(description="allow or deny.")
    actual: str = strawberry.field(description="allow or deny.")
    outcome: str = strawberry.field(description="Why: allowed, policy_denies, not_bound, ...")
    matched_rule: str | None = strawberry.field(description="The policy rule that matched.")
    description: str = strawberry.field(description="All of it on one readable line.")

    @classmethod
    def of(cls, result: CaseResult) -> DecisionMismatch:
        """Convert a failed case."""
        return cls(
            line=result.case.line_number,
            case=result.case.describe(),
            expected="allow" if result.case.expect_allowed else "deny",
            actual="allow" if result.allowed else "deny",
            outcome=result.outcome,
            matched_rule=result.matched_rule,
            description=result.describe(),
        )


@strawberry.type(description="A decision table run against one policy.")
class DecisionTableResult:
    name: str = strawberry.field(description="The table.")
    policy_version: int = strawberry.field(description="The version it ran against.")
    total: int = strawberry.field(description="How many cases.")
    passed: int = strawberry.field(description="How many the policy decides as expected.")
    failed: int = strawberry.field(description="How many it does not.")
    mismatches: list[DecisionMismatch] = strawberry.field(description="The failed cases.")

    @classmethod
    def of(cls, run: TableRun) -> DecisionTableResult:
        """Convert a table run."""
        return cls(
            name=run.name,
            policy_version=run.policy_version,
            total=len(run.results),
            passed=run.passed,
            failed=len(run.mismatches),
            mismatches=[DecisionMismatch.of(result) for result in run.mismatches],
        )


@strawberry.type(description="How many credentials gain or lose one capability.")
class PolicyPermissionChange:
    permission: str = strawberry.field(
        description="A permission, or `issue:<permission>` for what keys may delegate."
    )
    gained_by: int = strawberry.field(description="Credentials that gain it.")
    lost_by: int = strawberry.field(description="Credentials that lose it.")


@strawberry.type(description="Credentials of one configuration whose capabilities change.")
class PolicyImpactGroup:
    credential_type: str = strawberry.field(
        description="infrastructure, sending, mailbox or password."
    )
    preset: str | None = strawberry.field(description="The preset (infrastructure keys).")
    permissions: list[str] = strawberry.field(description="The listed mailbox permissions.")
    credentials: int = strawberry.field(description="How many live credentials.")
    teams: int = strawberry.field(description="In how many teams.")
    gained: list[str] = strawberry.field(description="What they gain.")
    lost: list[str] = strawberry.field(description="What they lose.")


@strawberry.type(description="One credential that gains or loses capabilities.")
class PolicyAffectedCredential:
    id: strawberry.ID = strawberry.field(description="The key or mailbox password id.")
    team_id: strawberry.ID = strawberry.field(description="Its team.")
    credential_type: str = strawberry.field(description="Its type.")
    preset: str | None = strawberry.field(description="Its preset.")
    permissions: list[str] = strawberry.field(description="Its listed permissions.")
    mailbox_id: strawberry.ID | None = strawberry.field(description="Its mailbox, if bound to one.")
    gained: list[str] = strawberry.field(description="What it gains.")
    lost: list[str] = strawberry.field(description="What it loses.")

    @classmethod
    def of(cls, item: AffectedCredential) -> PolicyAffectedCredential:
        """Convert an affected credential."""
        return cls(
            id=strawberry.ID(item.id),
            team_id=strawberry.ID(item.team_id),
            credential_type=item.configuration.credential_type,
            preset=item.configuration.preset,
            permissions=list(item.configuration.permissions),
            mailbox_id=strawberry.ID(item.mailbox_id) if item.mailbox_id else None,
            gained=list(item.gained),
            lost=list(item.lost),
        )


@strawberry.type(description="A team with credentials that gain or lose capabilities.")
class PolicyAffectedTeam:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    credentials: int = strawberry.field(description="How many of its credentials.")

    @classmethod
    def of(cls, item: AffectedTeam) -> PolicyAffectedTeam:
        """Convert an affected team."""
        return cls(team_id=strawberry.ID(item.team_id), credentials=item.credentials)


@strawberry.type(description="What a policy change does to the credentials stored now.")
class PolicyImpact:
    credentials_considered: int = strawberry.field(description="Live credentials examined.")
    credentials_affected: int = strawberry.field(description="Those that gain or lose.")
    teams_affected: int = strawberry.field(description="Teams with such credentials.")
    permissions: list[PolicyPermissionChange] = strawberry.field(
        description="Per capability, how many credentials gain or lose it."
    )
    groups: list[PolicyImpactGroup] = strawberry.field(
        description="Affected credentials by configuration, largest first."
    )
    impact: strawberry.Private[Impact]

    @strawberry.field(description="The affected credentials, by id.")
    async def credentials(
        self, first: First = None, after: After = None
    ) -> Connection[PolicyAffectedCredential]:
        page = await policy_plans.affected_credentials(self.impact, first, after)
        return connection_of(page, PolicyAffectedCredential.of)

    @strawberry.field(description="The affected teams, by id, with their affected credentials.")
    async def teams(
        self, first: First = None, after: After = None
    ) -> Connection[PolicyAffectedTeam]:
        page = await policy_plans.affected_teams(self.impact, first, after)
        return connection_of(page, PolicyAffectedTeam.of)

    @classmethod
    def of(cls, impact: Impact) -> PolicyImpact:
        """Convert an impact summary."""
        return cls(
            credentials_considered=impact.credentials_considered,
            credentials_affected=impact.credentials_affected,
            teams_affected=impact.teams_affected,
            permissions=[
                PolicyPermissionChange(
                    permission=change.permission,
                    gained_by=change.gained_by,
                    lost_by=change.lost_by,
                )
                for change in impact.permissions
            ],
            groups=[
                PolicyImpactGroup(
                    credential_type=group.configuration.credential_type,
                    preset=group.configuration.preset,
                    permissions=list(group.configuration.permissions),
                    credentials=group.credentials,
                    teams=group.teams,
                    gained=list(group.gained),
                    lost=list(group.lost),
                )
                for group in impact.groups
            ],
            impact=impact,
        )


@strawberry.type(description="A checked proposal. Apply it with `policyApply(input: {planId})`.")
class PolicyPlan:
    id: strawberry.ID | None = strawberry.field(
        description="Set when the rules are valid; the plan is then kept for a week."
    )
    base_version: int = strawberry.field(description="The version the proposal changes.")
    valid: bool = strawberry.field(description="True if every line fits.")
    problems: list[PolicyRuleProblem] = strawberry.field(description="Every line that does not.")
    rules: list[str] = strawberry.field(description="The proposed rules as Casbin CSV lines.")
    added: list[str] = strawberry.field(description="Rules added to the base version.")
    removed: list[str] = strawberry.field(description="Rules removed from it.")
    tables: list[DecisionTableResult] = strawberry.field(
        description="The shipped decision table (and yours, if given) against the proposal."
    )
    breaks_shipped_table: bool = strawberry.field(
        description="True if applying needs `force: true`."
    )
    impact: PolicyImpact | None = strawberry.field(
        description="Which stored credentials gain or lose what (valid proposals only)."
    )

    @classmethod
    def of(cls, plan: policy_plans.Plan) -> PolicyPlan:
        """Convert a plan."""
        return cls(
            id=strawberry.ID(plan.id) if plan.id else None,
            base_version=plan.base_version,
            valid=plan.valid,
            problems=[
                PolicyRuleProblem(line=p.line, reason=p.reason, text=p.text) for p in plan.problems
            ],
            rules=rules_of(plan.rules_text),
            added=plan.added,
            removed=plan.removed,
            tables=[DecisionTableResult.of(run) for run in plan.tables],
            breaks_shipped_table=plan.breaks_guard_table,
            impact=PolicyImpact.of(plan.impact) if plan.impact else None,
        )


@strawberry.input(description="Rules to add to and remove from the base version.")
class PolicyRuleChangesInput:
    add: list[str] = strawberry.field(default_factory=list, description="Casbin CSV lines.")
    remove: list[str] = strawberry.field(default_factory=list, description="Casbin CSV lines.")


@strawberry.input(description="A proposal: whole rules, or changes to a base version.")
class PolicyPlanInput:
    rules: str | None = strawberry.field(default=None, description="The whole rules file.")
    changes: PolicyRuleChangesInput | None = strawberry.field(
        default=None, description="Or: changes to the base version."
    )
    base_version: int | None = strawberry.field(
        default=None, description="The version to change (absent: the live one)."
    )
    decision_table: str | None = strawberry.field(
        default=None, description="Your own decision table (CSV) to run as well."
    )


@strawberry.type
class PolicyPlanQueries:
    @strawberry.field(
        description="A stored plan, its tables and impact computed again now. Operator."
    )
    async def policy_plan_by_id(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A plan's id.")],
    ) -> PolicyPlan:
        plan = await policy_plans.get_plan(
            info.context.actor, info.context.services.settings, str(id)
        )
        return PolicyPlan.of(plan)


@strawberry.type
class PolicyPlanMutations:
    @strawberry.mutation(
        description="Check a proposal: problems by line, decision tables, impact. Changes "
        "nothing live. Operator (`platform.policy.read`)."
    )
    async def policy_plan(
        self,
        info: Info,
        input: Annotated[
            PolicyPlanInput, strawberry.argument(description="The proposed rules or changes.")
        ],
    ) -> PolicyPlan:
        changes = None
        if input.changes is not None:
            changes = policy_plans.RuleChanges(
                add=list(input.changes.add), remove=list(input.changes.remove)
            )
        plan = await policy_plans.plan_policy(
            info.context.actor,
            info.context.services.settings,
            rules=input.rules,
            changes=changes,
            base_version=input.base_version,
            decision_table=input.decision_table,
        )
        return PolicyPlan.of(plan)
