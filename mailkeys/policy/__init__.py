"""The one door to authorization: load-and-authorize, decisions, the installed policy.

Resolvers call `load_for` (a row, loaded and allowed) or `authorize` (an operation without a
row); nothing else in the service decides access or talks to Casbin.
"""

from mailkeys.policy.actor import GATEWAY, OPERATOR, Actor, Resource
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.decide import (
    Evaluation,
    Outcome,
    authorize,
    authorize_any,
    can_issue,
    effective_permissions,
    evaluate,
    is_allowed,
    preset_permissions,
    role_of,
)
from mailkeys.policy.door import depends_on_row, load_for, resource_of, team_for
from mailkeys.policy.installed import current, install, install_newer
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
    "authorize_any",
    "build_snapshot",
    "can_issue",
    "current",
    "depends_on_row",
    "effective_permissions",
    "evaluate",
    "install",
    "install_newer",
    "is_allowed",
    "load_for",
    "preset_permissions",
    "resource_of",
    "role_of",
    "team_for",
]
