"""GraphQL for policy authors: the live policy and its stored versions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.policy.rules import rules_of
from mailkeys.resolvers import policy_versions, records
from mailkeys.resolvers.records import PolicyChangeSource
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info
from mailkeys.schema.enums import describe_enum

describe_enum(
    PolicyChangeSource,
    "How a policy version came to be.",
    {
        "SEED": "Stored from the shipped policy file on first start.",
        "APPLY": "Applied by a policy author (policyApply).",
        "IMPORT": "Imported from a file (`mailkeys policy import`).",
        "ROLLBACK": "A copy of an older version (policyRollback).",
    },
)


@strawberry.type(description="One numbered version of the policy rules.")
class PolicyVersion:
    version: int = strawberry.field(description="The version number; the highest is live.")
    rules: list[str] = strawberry.field(
        description="The rules as Casbin CSV lines, e.g. `p, root:readonly, *.read, team`."
    )
    text: str = strawberry.field(description="The rules file as stored, with its comments.")
    author: str = strawberry.field(description="Who made the change.")
    created_at: datetime = strawberry.field(description="When it was made.")
    message: str = strawberry.field(description="Why it was made.")
    source: PolicyChangeSource = strawberry.field(description="Seed, apply, import or rollback.")
    base_version: int | None = strawberry.field(description="The version it replaced.")
    forced: bool = strawberry.field(description="True if it broke the shipped decision table.")
    added: list[str] = strawberry.field(description="Rules added to the base version.")
    removed: list[str] = strawberry.field(description="Rules removed from the base version.")

    @classmethod
    def from_model(cls, row: records.PolicyVersion) -> PolicyVersion:
        """Convert a stored version."""
        return cls(
            version=row.version,
            rules=rules_of(row.rules),
            text=row.rules,
            author=row.author,
            created_at=row.created_at,
            message=row.message,
            source=PolicyChangeSource(row.source),
            base_version=row.base_version,
            forced=row.forced,
            added=list(row.added),
            removed=list(row.removed),
        )


@strawberry.type(description="The live policy.")
class Policy:
    version: int = strawberry.field(description="The live version number.")
    loaded_version: int = strawberry.field(
        description="The version this worker decided with when it answered (it follows the "
        "live version within a second)."
    )
    rules: list[str] = strawberry.field(description="The rules as Casbin CSV lines.")
    text: str = strawberry.field(description="The rules file, with its comments.")
    author: str = strawberry.field(description="Who made the live version.")
    created_at: datetime = strawberry.field(description="When.")
    message: str = strawberry.field(description="Why.")


@strawberry.type
class PolicyVersionQueries:
    @strawberry.field(description="The live policy. Operator (`platform.policy.read`).")
    async def policy(self, info: Info) -> Policy:
        live = await policy_versions.read_policy(info.context.actor)
        row = live.version
        return Policy(
            version=row.version,
            loaded_version=live.loaded_version,
            rules=rules_of(row.rules),
            text=row.rules,
            author=row.author,
            created_at=row.created_at,
            message=row.message,
        )

    @strawberry.field(description="Every policy version, newest first. Operator.")
    async def policy_versions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[PolicyVersion]:
        page = await policy_versions.list_versions(info.context.actor, first, after)
        return connection_of(page, PolicyVersion.from_model)

    @strawberry.field(description="One policy version. Operator.")
    async def policy_version(
        self,
        info: Info,
        version: Annotated[int, strawberry.argument(description="The version number.")],
    ) -> PolicyVersion:
        row = await policy_versions.get_version(info.context.actor, version)
        return PolicyVersion.from_model(row)
