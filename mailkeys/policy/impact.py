"""Who gains or loses what when the policy changes: decided per configuration, not per key.

The live credentials come grouped by configuration (type, preset or listed permissions;
`mailkeys.models.impact`); each group is decided once under each policy, and only the groups
whose capabilities change are affected. A capability is a permission the credential may
exercise, or `issue:<permission>` for a mailbox permission its role may put into credentials
it creates without holding it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from mailkeys.models.impact import PASSWORD_TYPE, Configuration, ConfigurationCount, CredentialRow
from mailkeys.models.keys import KeyType
from mailkeys.policy.actor import Actor
from mailkeys.policy.decide import can_issue, effective_permissions
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import MAILBOX_PERMISSIONS, CredentialKind

_KINDS = {
    KeyType.INFRASTRUCTURE.value: CredentialKind.INFRASTRUCTURE,
    KeyType.SENDING.value: CredentialKind.SENDING,
    KeyType.MAILBOX.value: CredentialKind.MAILBOX,
    PASSWORD_TYPE: CredentialKind.PASSWORD,
}
ISSUE_PREFIX = "issue:"


def capabilities(configuration: Configuration, snapshot: PolicySnapshot) -> frozenset[str]:
    """What a credential of this configuration may do under `snapshot`."""
    actor = Actor(
        kind=_KINDS[configuration.credential_type],
        preset=configuration.preset,
        permissions=frozenset(configuration.permissions),
    )
    held = set(effective_permissions(actor, snapshot))
    issuable = {
        f"{ISSUE_PREFIX}{permission}"
        for permission in MAILBOX_PERMISSIONS
        if permission not in held and can_issue(actor, [permission], snapshot)
    }
    return frozenset(held | issuable)


@dataclass(frozen=True)
class AffectedGroup:
    """Live credentials of one configuration whose capabilities change."""

    configuration: Configuration
    credentials: int
    teams: int
    gained: tuple[str, ...]
    lost: tuple[str, ...]


@dataclass(frozen=True)
class PermissionChange:
    """How many live credentials gain or lose one capability."""

    permission: str
    gained_by: int
    lost_by: int


@dataclass(frozen=True)
class AffectedCredential:
    """One credential that gains or loses capabilities."""

    id: str
    team_id: str
    configuration: Configuration
    mailbox_id: str | None
    gained: tuple[str, ...]
    lost: tuple[str, ...]


@dataclass(frozen=True)
class AffectedTeam:
    """One team and how many of its credentials are affected."""

    team_id: str
    credentials: int


@dataclass(frozen=True)
class Impact:
    """The effect of replacing one policy by another on the credentials stored now."""

    before_version: int
    after_version: int
    computed_at: datetime
    credentials_considered: int
    groups: tuple[AffectedGroup, ...]
    credentials_affected: int
    teams_affected: int
    permissions: tuple[PermissionChange, ...]

    @property
    def configurations(self) -> list[Configuration]:
        """The affected configurations."""
        return [group.configuration for group in self.groups]

    def change_of(self, configuration: Configuration) -> AffectedGroup | None:
        """The group of `configuration`, if it is affected."""
        for group in self.groups:
            if group.configuration == configuration:
                return group
        return None

    def with_teams(self, teams_affected: int) -> Impact:
        """The same impact, with the number of affected teams counted."""
        return replace(self, teams_affected=teams_affected)

    def credential(self, row: CredentialRow) -> AffectedCredential:
        """A live credential of an affected configuration, with what it gains and loses."""
        group = self.change_of(row.configuration)
        return AffectedCredential(
            id=row.id,
            team_id=row.team_id,
            configuration=row.configuration,
            mailbox_id=row.mailbox_id,
            gained=group.gained if group else (),
            lost=group.lost if group else (),
        )


def compute_impact(
    before: PolicySnapshot,
    after: PolicySnapshot,
    configurations: Iterable[ConfigurationCount],
    now: datetime,
) -> Impact:
    """Which configurations gain or lose capabilities from `before` to `after`.

    Python work is per configuration, not per credential; the number of affected teams is
    left at 0 for the caller to count (`Impact.with_teams`).
    """
    groups: list[AffectedGroup] = []
    considered = 0
    for counted in configurations:
        considered += counted.credentials
        old = capabilities(counted.configuration, before)
        new = capabilities(counted.configuration, after)
        if old != new:
            groups.append(
                AffectedGroup(
                    counted.configuration,
                    counted.credentials,
                    counted.teams,
                    tuple(sorted(new - old)),
                    tuple(sorted(old - new)),
                )
            )
    groups.sort(key=lambda g: (-g.credentials, g.configuration.credential_type))
    gained: dict[str, int] = defaultdict(int)
    lost: dict[str, int] = defaultdict(int)
    for group in groups:
        for permission in group.gained:
            gained[permission] += group.credentials
        for permission in group.lost:
            lost[permission] += group.credentials
    return Impact(
        before_version=before.version,
        after_version=after.version,
        computed_at=now,
        credentials_considered=considered,
        groups=tuple(groups),
        credentials_affected=sum(group.credentials for group in groups),
        teams_affected=0,
        permissions=tuple(
            PermissionChange(permission, gained.get(permission, 0), lost.get(permission, 0))
            for permission in sorted(set(gained) | set(lost))
        ),
    )
