"""The permission vocabulary: every permission a policy may grant (docs/permissions.md).

The policy decides which roles hold which of these; it cannot invent new ones, because only
operations the service implements can check a permission.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

from mailkeys.models.people import MemberRole


class Domain(StrEnum):
    """Where a permission applies; mirrors the `dom` of the Casbin request."""

    TEAM = "team"
    MAILBOX = "mailbox"
    DELEGATE = "delegate"
    PLATFORM = "platform"
    # What only people (team members) may do: manage members, delete or hand over the team.
    PEOPLE = "people"


class CredentialKind(StrEnum):
    """What kind of principal a request is made by."""

    OPERATOR = "operator"
    GATEWAY = "gateway"
    INFRASTRUCTURE = "infrastructure"
    SENDING = "sending"
    MAILBOX = "mailbox"
    PASSWORD = "password"  # noqa: S105  # a credential kind, not a secret
    PERSON = "person"
    APP = "app"  # a connected app's access token, acting for one connection


TEAM_PERMISSIONS: tuple[str, ...] = (
    "key.read", "key.create", "key.rotate", "key.revoke",
    "team.read", "team.update",
    "mailbox.admin.read", "mailbox.admin.create", "mailbox.admin.delete", "mailbox.admin.manage",
    "provider.read", "provider.create", "provider.update", "provider.delete",
    "routing.read", "routing.create", "routing.update", "routing.delete",
    "domain.read", "domain.create", "domain.verify", "domain.delete",
    "webhook.read", "webhook.create", "webhook.update", "webhook.delete", "webhook.manage",
    "billing.read", "billing.update",
    "logs.read", "analytics.read",
)  # fmt: skip

MAILBOX_PERMISSIONS: tuple[str, ...] = (
    "email.send",
    "email.receive",
    "mailbox.read",
    "mailbox.settings.update",
)

PLATFORM_PERMISSIONS: tuple[str, ...] = (
    "platform.team.create",
    "platform.team.read",
    "platform.team.limits.update",
    "platform.team.purge",
    "platform.policy.read",
    "platform.policy.update",
    "platform.credential.check",
    # On-call operator paths of the `mailkeys keys` and `mailkeys audit` commands: read any
    # team's keys and audit trail, revoke any key. Not exposed over GraphQL.
    "platform.key.read",
    "platform.key.revoke",
    "platform.audit.read",
    # Registering a connected app (an OAuth client) for every team to connect.
    "platform.app.register",
)

PEOPLE_PERMISSIONS: tuple[str, ...] = (
    "member.read",
    "member.invite",
    "member.update",
    "member.remove",
    # Which roles one may give (invite with, change to) and take away (change from, remove).
    "member.assign.admin",
    "member.assign.developer",
    "member.assign.member",
    "team.delete",
    "team.transfer",
)

PERMISSION_DOMAIN: dict[str, Domain] = {
    **dict.fromkeys(TEAM_PERMISSIONS, Domain.TEAM),
    **dict.fromkeys(MAILBOX_PERMISSIONS, Domain.MAILBOX),
    **dict.fromkeys(PLATFORM_PERMISSIONS, Domain.PLATFORM),
    **dict.fromkeys(PEOPLE_PERMISSIONS, Domain.PEOPLE),
}

OPERATOR_ROLE = "role:operator"
GATEWAY_ROLE = "role:gateway"
KIND_ROLES: dict[CredentialKind, str] = {
    CredentialKind.SENDING: "kind:sending",
    CredentialKind.MAILBOX: "kind:mailbox",
    CredentialKind.PASSWORD: "kind:password",
    CredentialKind.APP: "kind:app",
}
PRESET_PREFIX = "root:"
# Team members' roles: `member:owner`, ... (declared with p2 lines, like presets).
MEMBER_PREFIX = "member:"
KIND_PREFIX = "kind:"
# Built-in roles (`role:operator`, `role:gateway`) and group roles that presets inherit.
ROLE_PREFIX = "role:"

# Connected apps: what a person may choose on the consent page, as roles of the policy.
# `app-group:<group>:read` and `app-group:<group>:full` are the Management permission groups
# (Customise picks single permissions among those of `:full`); `app-line:mailbox` and
# `app-line:sending` are the Mailbox and Sending product lines.
APP_GROUP_PREFIX = "app-group:"
APP_LINE_PREFIX = "app-line:"
APP_GROUPS: tuple[str, ...] = (
    "analytics", "billing", "domains", "email", "keys", "logs",
    "mailboxes", "providers", "routing", "team", "webhooks",
)  # fmt: skip
APP_GROUP_LEVELS: tuple[str, ...] = ("read", "full")
APP_LINES: tuple[str, ...] = ("mailbox", "sending")


def app_group_role(group: str, level: str) -> str:
    """The policy role of a Management permission group at a level: `app-group:keys:read`."""
    return f"{APP_GROUP_PREFIX}{group}:{level}"


def app_line_role(line: str) -> str:
    """The policy role of the Mailbox or Sending product line: `app-line:sending`."""
    return f"{APP_LINE_PREFIX}{line}"


APP_ROLES: frozenset[str] = frozenset(
    [app_group_role(group, level) for group in APP_GROUPS for level in APP_GROUP_LEVELS]
    + [app_line_role(line) for line in APP_LINES]
)

_PATTERN_RE = re.compile(r"(\*|[a-z][a-z_]*)(\.(\*|[a-z][a-z_]*))*")


def is_valid_pattern(pattern: str) -> bool:
    """A permission pattern is dotted segments, each a word or `*`."""
    return _PATTERN_RE.fullmatch(pattern) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def permission_matches(permission: str, pattern: str) -> bool:
    """True if `pattern` (`domain.*`, `*.read`, `*`, or exact) covers `permission`."""
    if "*" not in pattern:
        return permission == pattern
    return _compiled(pattern).fullmatch(permission) is not None


def expand_pattern(pattern: str, domain: Domain | None = None) -> list[str]:
    """Every vocabulary permission the pattern covers (optionally within one domain)."""
    return [
        permission
        for permission, permission_domain in PERMISSION_DOMAIN.items()
        if (domain is None or permission_domain is domain)
        and permission_matches(permission, pattern)
    ]


def member_role_name(role: MemberRole) -> str:
    """The Casbin role of a team role: `member:admin`."""
    return f"{MEMBER_PREFIX}{role.value}"
