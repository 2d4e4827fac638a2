"""Why the policy allows or denies a request: the role asked, the rule that matched, the chain.

The explanation is `evaluate`'s decision (the one `authorize` makes) with its reasons spelled
out for people; facts outside the policy (revocation, expiry, suspension, send scope) are
the resolvers' to add.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.policy.actor import Actor, Resource
from mailkeys.policy.decide import Outcome, evaluate
from mailkeys.policy.installed import current
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import Domain


@dataclass(frozen=True)
class PolicyExplanation:
    """The policy's part of a decision, readable."""

    permission: str
    domain: Domain
    role: str | None
    role_chain: tuple[str, ...]
    matched_rule: str | None
    outcome: Outcome
    policy_version: int
    summary: str

    @property
    def allowed(self) -> bool:
        """True if the policy (with the credential's own permission list and binding) allows."""
        return self.outcome is Outcome.ALLOWED


def format_rule(rule: tuple[str, ...]) -> str:
    """A matched grant as its policy line: `p, root:readonly, *.read, team`."""
    return ", ".join(("p", *rule))


def _summary(
    outcome: Outcome, permission: str, domain: Domain, role: str | None, rule: str | None
) -> str:
    if outcome is Outcome.ALLOWED:
        return f"{role} holds {permission} by the rule '{rule}'"
    if outcome is Outcome.NOT_FOUND:
        return "the resource belongs to another team"
    if outcome is Outcome.NO_ROLE:
        return "the key holds no preset of the policy"
    if outcome is Outcome.POLICY_DENIES:
        return f"no rule grants {permission} to {role} in the {domain.value} domain"
    if outcome is Outcome.NOT_LISTED:
        return f"the policy lets {role} hold {permission}, but this credential does not list it"
    if outcome is Outcome.PAUSED:
        return "the team is being deleted: only its owner may act in it"
    return "the mailbox is not one this credential is bound to"


def explain_decision(
    actor: Actor,
    permission: str,
    resource: Resource | None = None,
    snapshot: PolicySnapshot | None = None,
) -> PolicyExplanation:
    """Explain the decision `authorize(actor, permission, resource)` makes with `snapshot`."""
    snapshot = snapshot or current()
    evaluation = evaluate(actor, permission, resource, snapshot)
    rule = evaluation.decision.matched_rule
    role = evaluation.role
    if rule and role and evaluation.decision.allowed:
        chain = tuple(snapshot.role_chain(role, rule[0])) or (role,)
        matched = format_rule(rule)
    else:
        chain = (role,) if role else ()
        matched = None
    return PolicyExplanation(
        permission=permission,
        domain=evaluation.domain,
        role=role,
        role_chain=chain,
        matched_rule=matched,
        outcome=evaluation.outcome,
        policy_version=evaluation.policy_version,
        summary=_summary(evaluation.outcome, permission, evaluation.domain, role, matched),
    )
