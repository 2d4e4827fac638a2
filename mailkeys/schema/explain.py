"""GraphQL for explaining access: `explainAccess` and `whoCan`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from mailkeys.policy.explain import PolicyExplanation
from mailkeys.resolvers import explain as explain_resolvers
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info


def _id(value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(value)


@strawberry.type(description="A check outside the policy that a request must also pass.")
class AccessGate:
    name: str = strawberry.field(
        description="revoked, expired, mailbox_suspended, mailbox_binding, "
        "sender_mailbox_suspended or send_scope."
    )
    passed: bool = strawberry.field(description="True if the request passes it.")
    detail: str = strawberry.field(description="The fact it was decided on.")


@strawberry.type(description="Why a credential may, or may not, exercise a permission.")
class AccessExplanation:
    allowed: bool = strawberry.field(description="The policy allows and every gate passes.")
    credential_id: strawberry.ID = strawberry.field(description="The credential asked about.")
    credential_type: str = strawberry.field(
        description="infrastructure, sending, mailbox or password."
    )
    team_id: strawberry.ID = strawberry.field(description="The credential's team.")
    permission: str = strawberry.field(description="The permission asked about.")
    domain: str = strawberry.field(description="Its domain: team, mailbox or platform.")
    resource_team_id: strawberry.ID | None = strawberry.field(description="The target team.")
    resource_mailbox_id: strawberry.ID | None = strawberry.field(
        description="The target mailbox, if any."
    )
    policy_allowed: bool = strawberry.field(description="The policy's part of the decision.")
    outcome: str = strawberry.field(
        description="allowed, not_found, no_role, policy_denies, not_listed or not_bound."
    )
    role: str | None = strawberry.field(description="The Casbin subject asked: preset or kind.")
    role_chain: list[str] = strawberry.field(
        description="How the role reaches the rule's subject through g lines."
    )
    matched_rule: str | None = strawberry.field(
        description="The rule that matched, as its policy line; null if none did."
    )
    policy_version: int = strawberry.field(description="The policy version that decided.")
    reason: str = strawberry.field(description="The decision in one sentence.")
    gates: list[AccessGate] = strawberry.field(description="Every non-policy check made.")

    @classmethod
    def of(cls, answer: explain_resolvers.AccessExplanation) -> AccessExplanation:
        """Convert an explanation."""
        explanation = answer.policy
        failed = [gate for gate in answer.gates if not gate.passed]
        reason = explanation.summary
        if failed:
            reason += "; but " + "; ".join(f"{g.name}: {g.detail}" for g in failed)
        return cls(
            allowed=answer.allowed,
            credential_id=strawberry.ID(answer.credential.id),
            credential_type=answer.credential.credential_type,
            team_id=strawberry.ID(answer.credential.team_id),
            permission=answer.permission,
            domain=explanation.domain.value,
            resource_team_id=_id(answer.resource.team_id),
            resource_mailbox_id=_id(answer.resource.mailbox_id),
            policy_allowed=explanation.allowed,
            outcome=explanation.outcome.value,
            role=explanation.role,
            role_chain=list(explanation.role_chain),
            matched_rule=explanation.matched_rule,
            policy_version=explanation.policy_version,
            reason=reason,
            gates=[AccessGate(name=g.name, passed=g.passed, detail=g.detail) for g in answer.gates],
        )


@strawberry.input(description="Which credential, permission and resource to explain.")
class ExplainAccessInput:
    credential_id: strawberry.ID = strawberry.field(description="A key or mailbox password id.")
    permission: str = strawberry.field(description="A permission, e.g. `email.send`.")
    resource_id: strawberry.ID | None = strawberry.field(
        default=None, description="A mailbox or team id (absent: the credential's team)."
    )


@strawberry.type(description="A credential that would be allowed.")
class AllowedCredential:
    id: strawberry.ID = strawberry.field(description="The key or mailbox password id.")
    credential_type: str = strawberry.field(description="Its type.")
    name: str = strawberry.field(description="Its name (a password's app name).")
    display: str = strawberry.field(description="Its display form, never the secret.")
    preset: str | None = strawberry.field(description="Its preset (infrastructure keys).")
    permissions: list[str] = strawberry.field(description="Its listed mailbox permissions.")
    mailbox_id: strawberry.ID | None = strawberry.field(description="Its mailbox, if bound.")
    role: str | None = strawberry.field(description="The Casbin subject asked.")
    matched_rule: str | None = strawberry.field(description="The rule that allows it.")

    @classmethod
    def of(
        cls, allowed: tuple[explain_resolvers.Credential, PolicyExplanation]
    ) -> AllowedCredential:
        """Convert a credential the policy allows, with the explanation."""
        credential, explanation = allowed
        return cls(
            id=strawberry.ID(credential.id),
            credential_type=credential.credential_type,
            name=credential.name,
            display=credential.display,
            preset=credential.preset,
            permissions=credential.permissions,
            mailbox_id=_id(credential.mailbox.id if credential.mailbox else None),
            role=explanation.role,
            matched_rule=explanation.matched_rule,
        )


@strawberry.input(description="Which permission on which resource of a team.")
class WhoCanInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    permission: str = strawberry.field(description="A permission, e.g. `key.revoke`.")
    resource_id: strawberry.ID | None = strawberry.field(
        default=None, description="One of its mailboxes (absent: the team itself)."
    )


@strawberry.type(description="The credentials of a team that would be allowed.")
class WhoCan:
    policy_version: int = strawberry.field(description="The policy version that decided.")
    credentials: Connection[AllowedCredential] = strawberry.field(
        description="Live keys and mailbox passwords passing the policy and every gate, by id."
    )


@strawberry.type
class ExplainQueries:
    @strawberry.field(
        description="Why a credential may or may not do something: the decision, the matched "
        "rule, the role chain, the policy version and every other check. Team admins "
        "(`key.read`) in their team; the operator anywhere."
    )
    async def explain_access(
        self,
        info: Info,
        input: Annotated[
            ExplainAccessInput, strawberry.argument(description="Which credential, for what.")
        ],
    ) -> AccessExplanation:
        answer = await explain_resolvers.explain_access(
            info.context.actor,
            str(input.credential_id),
            input.permission,
            None if input.resource_id is None else str(input.resource_id),
        )
        return AccessExplanation.of(answer)

    @strawberry.field(
        description="Which of a team's credentials would be allowed a permission on a "
        "resource. Team admins (`key.read`) in their team; the operator anywhere."
    )
    async def who_can(
        self,
        info: Info,
        input: Annotated[WhoCanInput, strawberry.argument(description="Which permission, where.")],
        first: First = None,
        after: After = None,
    ) -> WhoCan:
        answer = await explain_resolvers.who_can(
            info.context.actor,
            str(input.team_id),
            input.permission,
            None if input.resource_id is None else str(input.resource_id),
            first,
            after,
        )
        return WhoCan(
            policy_version=answer.policy_version,
            credentials=connection_of(answer.page, AllowedCredential.of),
        )
