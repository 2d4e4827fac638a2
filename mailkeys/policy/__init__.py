"""The only door to Casbin: decisions, the permission vocabulary, policy loading."""

from mailkeys.policy.actor import GATEWAY, OPERATOR, Actor, Resource
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.decide import (
    Evaluation,
    Outcome,
    authorize,
    can_issue,
    current,
    effective_permissions,
    evaluate,
    install,
    install_newer,
    is_allowed,
    preset_permissions,
    role_of,
)
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import CredentialKind, Domain

__all__ = [
    "GATEWAY",
    "OPERATOR",
    "Actor",
    "CredentialKind",
    "Domain",
    "Evaluation",
    "Outcome",
    "PolicySnapshot",
    "Resource",
    "authorize",
    "build_snapshot",
    "can_issue",
    "current",
    "effective_permissions",
    "evaluate",
    "install",
    "install_newer",
    "is_allowed",
    "preset_permissions",
    "role_of",
]
