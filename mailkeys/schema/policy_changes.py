"""GraphQL for policy authors: applying a plan (or rules) and rolling back."""

from __future__ import annotations

from typing import Annotated

import strawberry

from mailkeys.resolvers import policy_changes
from mailkeys.schema.context import Info
from mailkeys.schema.policy_plans import DecisionTableResult
from mailkeys.schema.policy_versions import PolicyVersion


@strawberry.input(description="Make a plan, or rules, the live policy.")
class PolicyApplyInput:
    message: str = strawberry.field(description="Why: kept with the version and in the audit.")
    plan_id: strawberry.ID | None = strawberry.field(default=None, description="A plan's id.")
    rules: str | None = strawberry.field(default=None, description="Or: the whole rules file.")
    expected_version: int | None = strawberry.field(
        default=None,
        description="The live version you changed (required with rules; a plan knows its own). "
        "If the live version moved, the change is refused with CONFLICT.",
    )
    force: bool = strawberry.field(
        default=False, description="Apply even if the shipped decision table breaks."
    )


@strawberry.type(description="The new live version.")
class PolicyApplyPayload:
    version: PolicyVersion = strawberry.field(description="The new version.")
    shipped_table: DecisionTableResult = strawberry.field(
        description="The shipped decision table against it (mismatches only when forced)."
    )


@strawberry.input(description="Make an old version's rules live again, as a new version.")
class PolicyRollbackInput:
    version: int = strawberry.field(description="The version to go back to.")
    expected_version: int | None = strawberry.field(
        default=None, description="The live version you expect (CONFLICT if it moved)."
    )
    message: str | None = strawberry.field(default=None, description="Why.")
    force: bool = strawberry.field(
        default=False, description="Roll back even if the shipped decision table breaks."
    )


@strawberry.type(description="The new live version, equal in rules to the old one.")
class PolicyRollbackPayload:
    version: PolicyVersion = strawberry.field(description="The new version.")
    shipped_table: DecisionTableResult = strawberry.field(
        description="The shipped decision table against it (mismatches only when forced)."
    )


@strawberry.type
class PolicyChangeMutations:
    @strawberry.mutation(
        description="Make a plan or rules the live policy; every worker uses it within a "
        "second. Operator (`platform.policy.update`)."
    )
    async def policy_apply(
        self,
        info: Info,
        input: Annotated[PolicyApplyInput, strawberry.argument(description="What to apply.")],
    ) -> PolicyApplyPayload:
        applied = await policy_changes.apply_policy(
            info.context.actor,
            info.context.services.settings,
            message=input.message,
            plan_id=str(input.plan_id) if input.plan_id is not None else None,
            rules=input.rules,
            expected_version=input.expected_version,
            force=input.force,
        )
        return PolicyApplyPayload(
            version=PolicyVersion.from_model(applied.version),
            shipped_table=DecisionTableResult.of(applied.guard_run),
        )

    @strawberry.mutation(
        description="Store a new version equal to an old one. Operator (`platform.policy.update`)."
    )
    async def policy_rollback(
        self,
        info: Info,
        input: Annotated[
            PolicyRollbackInput, strawberry.argument(description="The version to restore.")
        ],
    ) -> PolicyRollbackPayload:
        applied = await policy_changes.rollback_policy(
            info.context.actor,
            info.context.services.settings,
            version=input.version,
            expected_version=input.expected_version,
            message=input.message,
            force=input.force,
        )
        return PolicyRollbackPayload(
            version=PolicyVersion.from_model(applied.version),
            shipped_table=DecisionTableResult.of(applied.guard_run),
        )
