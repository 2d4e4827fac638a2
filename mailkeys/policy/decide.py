"""Decisions: may this actor exercise this permission on this resource, under the policy?

`authorize` decides, observes and raises; `evaluate` and `is_allowed` decide quietly (for
probes, tables and explanations). Rows are loaded and authorized together by `door.py`.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mailkeys.errors import NotFoundError, PermissionDeniedError, TeamPausedError
from mailkeys.policy.actor import Actor, Resource
from mailkeys.policy.installed import current
from mailkeys.policy.snapshot import Decision, PolicySnapshot
from mailkeys.policy.vocabulary import (
    GATEWAY_ROLE,
    KIND_ROLES,
    MEMBER_PREFIX,
    OPERATOR_ROLE,
    PERMISSION_DOMAIN,
    PRESET_PREFIX,
    CredentialKind,
    Domain,
)
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import request_id_var

decision_log = logging.getLogger("mailkeys.decisions")
_NO_DECISION = Decision(allowed=False, matched_rule=None)


_FIXED_ROLES: dict[CredentialKind, str] = {
    CredentialKind.OPERATOR: OPERATOR_ROLE,
    CredentialKind.GATEWAY: GATEWAY_ROLE,
    **KIND_ROLES,
}


def role_of(actor: Actor) -> str | None:
    """The Casbin subject for a principal: its preset, its kind, or the operator role."""
    fixed = _FIXED_ROLES.get(actor.kind)
    if fixed is not None:
        return fixed
    if actor.kind is CredentialKind.PERSON:
        role = actor.team_role
        return role if role is not None and role.startswith(MEMBER_PREFIX) else None
    # An infrastructure key: only a preset, never the operator's role or a credential kind.
    preset = actor.preset
    return preset if preset is not None and preset.startswith(PRESET_PREFIX) else None


class Outcome(StrEnum):
    """How a decision ended; everything but ALLOWED is a refusal."""

    ALLOWED = "allowed"
    NOT_FOUND = "not_found"  # the resource belongs to another team (or none)
    NO_ROLE = "no_role"  # an infrastructure key without a usable preset
    POLICY_DENIES = "policy_denies"  # no rule of the policy matched
    NOT_LISTED = "not_listed"  # a mailbox-class credential does not list the permission
    NOT_BOUND = "not_bound"  # the mailbox is outside the credential's binding
    PAUSED = "paused"  # a member of a team waiting for its deletion


_ALLOWED, _NOT_FOUND, _NO_ROLE = Outcome.ALLOWED, Outcome.NOT_FOUND, Outcome.NO_ROLE
_POLICY_DENIES, _NOT_LISTED, _NOT_BOUND = (
    Outcome.POLICY_DENIES,
    Outcome.NOT_LISTED,
    Outcome.NOT_BOUND,
)
_MAILBOX = Domain.MAILBOX
_ALLOWED_DECISIONS = itertools.count()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One decision with the facts that made it: the role asked, Casbin's answer, the outcome."""

    outcome: Outcome
    permission: str
    domain: Domain
    role: str | None
    decision: Decision
    policy_version: int

    @property
    def allowed(self) -> bool:
        """True if the operation may proceed."""
        return self.outcome is Outcome.ALLOWED


def _holds(actor: Actor, permission: str, domain: Domain, snapshot: PolicySnapshot) -> bool:
    role = role_of(actor)
    if role is None or not snapshot.decide(role, permission, domain).allowed:
        return False
    # a credential that lists its permissions uses only those
    return not actor.lists_permissions or permission in actor.permissions


def _judge(
    actor: Actor, permission: str, resource: Resource, snapshot: PolicySnapshot
) -> tuple[Outcome, Domain, str | None, Decision]:
    # The decision itself, kept free of allocations: authorize() runs it on every operation.
    domain = PERMISSION_DOMAIN[permission]
    role = role_of(actor)
    decision = (
        snapshot.table.get((role, permission, domain), _NO_DECISION) if role else _NO_DECISION
    )
    if actor.outsider or (not actor.is_operator and resource.team_id != actor.team_id):
        return _NOT_FOUND, domain, role, decision
    if actor.paused:
        return Outcome.PAUSED, domain, role, decision
    if role is None:
        return _NO_ROLE, domain, role, decision
    if not decision.allowed:
        return _POLICY_DENIES, domain, role, decision
    if actor.lists_permissions and permission not in actor.permissions:
        return _NOT_LISTED, domain, role, decision
    if (
        domain is _MAILBOX
        and actor.mailbox_ids is not None
        and resource.mailbox_id not in actor.mailbox_ids
    ):
        return _NOT_BOUND, domain, role, decision
    return _ALLOWED, domain, role, decision


def evaluate(
    actor: Actor,
    permission: str,
    resource: Resource | None = None,
    snapshot: PolicySnapshot | None = None,
) -> Evaluation:
    """The decision `authorize` makes, without raising or logging (tables and explanations).

    Args:
        actor: the authenticated principal, with its facts from storage.
        permission: a permission of the vocabulary; anything else is a programming error.
        resource: the target; its team must be the actor's (operators excepted).
        snapshot: the policy to decide with; the installed one by default.
    """
    snapshot = snapshot or current()
    resource = resource or Resource(team_id=actor.team_id)
    outcome, domain, role, decision = _judge(actor, permission, resource, snapshot)
    return Evaluation(outcome, permission, domain, role, decision, snapshot.version)


def is_allowed(actor: Actor, permission: str, resource: Resource | None = None) -> bool:
    """The decision `authorize` makes, as a yes/no probe: nothing is logged or counted."""
    snapshot = current()
    outcome, _, _, _ = _judge(actor, permission, resource or Resource(actor.team_id), snapshot)
    return outcome is _ALLOWED


def authorize_any(
    actor: Actor, permissions: Sequence[str], resource: Resource | None = None
) -> str:
    """Allow if any of `permissions` is allowed (returns it); else refuse as `authorize` does
    for the last one, the narrowest: `("mailbox.admin.read", "mailbox.read")`.
    """
    *broader, last = permissions
    for permission in broader:
        if is_allowed(actor, permission, resource):
            return permission
    authorize(actor, last, resource)
    return last


def authorize(actor: Actor, permission: str, resource: Resource | None = None) -> None:
    """Allow, or raise PermissionDeniedError (or NotFoundError for another team's resource).

    Args:
        actor: the authenticated principal, with its facts from storage.
        permission: a permission of the vocabulary; anything else is a programming error.
        resource: the target; its team must be the actor's (operators excepted).
    """
    started = time.perf_counter()
    snapshot = current()
    if resource is None:
        resource = Resource(team_id=actor.team_id)
    outcome, _, _, _ = _judge(actor, permission, resource, snapshot)
    # Every denial is observed, but only one allowed decision in 16: observing costs more
    # than deciding (about 2.5 us against 2), and a sample describes the latency as well.
    if outcome is not _ALLOWED:
        metrics.DECISION_DENIED.observe(time.perf_counter() - started)
    elif next(_ALLOWED_DECISIONS) % 16 == 0:
        metrics.DECISION_ALLOWED.observe(time.perf_counter() - started)
    if outcome is _ALLOWED:
        return
    if outcome is _NOT_FOUND:
        raise NotFoundError("Resource")
    if outcome is Outcome.PAUSED:
        raise TeamPausedError()
    # The structured log (mailkeys.telemetry.logs) renders the fields; the message stays one word.
    decision_log.info(
        "denied",
        extra={
            "request_id": request_id_var.get(),
            "credential_id": actor.credential_id,
            "credential_kind": actor.kind.value,
            "permission": permission,
            "outcome": outcome.value,
            "policy_version": snapshot.version,
        },
    )
    raise PermissionDeniedError(permission)


def can_issue(
    actor: Actor, permissions: Iterable[str], snapshot: PolicySnapshot | None = None
) -> bool:
    """True if `actor` may put every one of `permissions` into a credential it issues.

    A principal may issue what it holds itself, and what the policy lets its role delegate
    (the `delegate` domain); nothing else, so key creation cannot escalate privileges.
    """
    snapshot = snapshot or current()
    role = role_of(actor)
    for permission in permissions:
        domain = PERMISSION_DOMAIN[permission]
        # Delegation covers mailbox permissions only; platform and team ones must be held.
        delegable = (
            role is not None
            and domain is Domain.MAILBOX
            and snapshot.decide(role, permission, Domain.DELEGATE).allowed
        )
        if not delegable and not _holds(actor, permission, domain, snapshot):
            return False
    return True


def effective_permissions(actor: Actor, snapshot: PolicySnapshot | None = None) -> list[str]:
    """Every permission the principal may exercise now, sorted."""
    snapshot = snapshot or current()
    return sorted(
        permission
        for permission, domain in PERMISSION_DOMAIN.items()
        if _holds(actor, permission, domain, snapshot)
    )


def preset_permissions(preset: str) -> list[str]:
    """The team permissions an infrastructure key with `preset` holds."""
    return current().grants(preset, Domain.TEAM)
