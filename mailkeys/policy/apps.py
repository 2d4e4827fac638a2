"""What a connected app may do: the consent page's choices, read through the policy.

The choices are roles of the policy (`app-group:keys:read`, `app-line:sending`, see
vocabulary.py), so a policy author changes what a group means in `casbin_policy.csv` and tests
it with decision tables, like the presets. A connection stores the permissions its choices
came to when the person consented, which must all be within that person's role: a change
of the policy later never widens an existing connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mailkeys.errors import InvalidInputError, PermissionDeniedError, RoleRuleError
from mailkeys.policy.actor import Actor
from mailkeys.policy.decide import effective_permissions
from mailkeys.policy.installed import current
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import (
    APP_GROUPS,
    PERMISSION_DOMAIN,
    CredentialKind,
    Domain,
    app_group_role,
    app_line_role,
)

ABOVE_ROLE = "ABOVE_ROLE"
MANAGEMENT = "management"
LINES: tuple[str, ...] = (MANAGEMENT, "mailbox", "sending")
LEVELS: tuple[str, ...] = ("none", "read", "full", "custom")
_APP_DOMAINS = (Domain.TEAM, Domain.MAILBOX)


def role_grants(roles: Iterable[str], snapshot: PolicySnapshot | None = None) -> frozenset[str]:
    """Every team and mailbox permission the policy gives any of `roles`."""
    snapshot = snapshot or current()
    return frozenset(
        permission
        for role in roles
        for domain in _APP_DOMAINS
        for permission in snapshot.grants(role, domain)
    )


def group_permissions(group: str, level: str, snapshot: PolicySnapshot | None = None) -> list[str]:
    """The permissions of one Management group at `read` or `full`, sorted."""
    return sorted(role_grants([app_group_role(group, level)], snapshot))


@dataclass(frozen=True)
class AppChoice:
    """What a person picked on the consent page (validated by `permissions_of`)."""

    lines: frozenset[str]
    # Management groups: group -> none, read, full or custom.
    groups: Mapping[str, str] = field(default_factory=dict)
    # For `custom` groups, the single permissions picked.
    custom: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Mailboxes the Mailbox and Sending lines reach; None: every mailbox of the team.
    mailbox_ids: frozenset[str] | None = None

    def chosen_groups(self) -> dict[str, str]:
        """The groups given something (none dropped), as stored on the connection."""
        if MANAGEMENT not in self.lines:
            return {}
        return {group: level for group, level in sorted(self.groups.items()) if level != "none"}


def permissions_of(choice: AppChoice, snapshot: PolicySnapshot | None = None) -> frozenset[str]:
    """The permissions `choice` asks for, under the policy.

    Raises:
        InvalidInputError: an unknown line, group or level, or a customised permission
            outside its group.
    """
    snapshot = snapshot or current()
    unknown_lines = choice.lines - set(LINES)
    if unknown_lines or not choice.lines:
        raise InvalidInputError("lines", "Choose one or more of Management, Mailbox, Sending.")
    roles = [app_line_role(line) for line in sorted(choice.lines - {MANAGEMENT})]
    wanted: set[str] = set()
    for group, level in choice.chosen_groups().items():
        if group not in APP_GROUPS or level not in LEVELS:
            raise InvalidInputError("groups", "Unknown permission group or level.")
        if level == "custom":
            picked = choice.custom.get(group, frozenset())
            if not picked <= set(group_permissions(group, "full", snapshot)):
                raise InvalidInputError("groups", "A customised permission is outside its group.")
            wanted |= picked
        else:
            roles.append(app_group_role(group, level))
    return frozenset(wanted | role_grants(roles, snapshot))


def check_within_role(
    person: Actor, permissions: Iterable[str], snapshot: PolicySnapshot | None = None
) -> None:
    """Refuse a choice holding any permission beyond the person's own role in the team.

    Raises:
        RoleRuleError: ABOVE_ROLE, naming the first permission the person does not hold.
    """
    if person.kind is not CredentialKind.PERSON:
        raise PermissionDeniedError("app.connect")
    held = set(effective_permissions(person, snapshot))
    for permission in sorted(permissions):
        if permission not in held:
            raise RoleRuleError(ABOVE_ROLE, f"Your role does not hold '{permission}'.")


def binds_mailboxes(permissions: Iterable[str]) -> bool:
    """True if some permission is decided per mailbox (the mailbox set applies to it)."""
    return any(PERMISSION_DOMAIN[permission] is Domain.MAILBOX for permission in permissions)
