"""Who gains or loses what when the policy changes: computed per configuration, not per key.

What a credential may do depends only on its type and its preset or listed permissions
(the rules name roles, never keys). So live credentials are grouped by (type, preset,
permissions) with SQL GROUP BY, each group is decided once under each policy, and only the
groups whose capabilities change are affected. Counts come from the same queries; the
affected credentials and teams are paged from the database by id, never loaded at once.

A capability is a permission the credential may exercise, or `issue:<permission>` for a
mailbox permission its role may put into credentials it creates without holding it.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from mailkeys.errors import InvalidInputError
from mailkeys.models import ApiKey, KeyType, MailboxPassword
from mailkeys.models.keys import live_key_filter
from mailkeys.policy.actor import Actor
from mailkeys.policy.decide import can_issue, effective_permissions
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import MAILBOX_PERMISSIONS, CredentialKind

PASSWORD_TYPE = "password"  # noqa: S105  # a credential type, not a secret
_KINDS = {
    KeyType.INFRASTRUCTURE.value: CredentialKind.INFRASTRUCTURE,
    KeyType.SENDING.value: CredentialKind.SENDING,
    KeyType.MAILBOX.value: CredentialKind.MAILBOX,
    PASSWORD_TYPE: CredentialKind.PASSWORD,
}
ISSUE_PREFIX = "issue:"


@dataclass(frozen=True)
class Configuration:
    """What decides a credential's capabilities: its type and preset or listed permissions."""

    credential_type: str
    preset: str | None
    permissions: tuple[str, ...]

    def capabilities(self, snapshot: PolicySnapshot) -> frozenset[str]:
        """What a credential of this configuration may do under `snapshot`."""
        actor = Actor(
            kind=_KINDS[self.credential_type],
            preset=self.preset,
            permissions=frozenset(self.permissions),
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

    def change_of(self, configuration: Configuration) -> AffectedGroup | None:
        """The group of `configuration`, if it is affected."""
        for group in self.groups:
            if group.configuration == configuration:
                return group
        return None


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
class ImpactPage:
    """A page of affected credentials or teams and the cursor of each."""

    items: list[Any]
    cursors: list[str]
    has_next_page: bool
    total_count: int


def _live_keys(now: datetime) -> QuerySet[ApiKey]:
    return ApiKey.filter(live_key_filter(now))


def _live_passwords() -> QuerySet[MailboxPassword]:
    return MailboxPassword.filter(revoked_at__isnull=True)


def _key_configuration(row: dict[str, Any]) -> Configuration:
    type_ = KeyType(row["type"]).value
    if type_ == KeyType.INFRASTRUCTURE.value:
        return Configuration(type_, row["preset"], ())
    return Configuration(type_, None, tuple(row["permissions"] or ()))


async def _grouped(query: QuerySet[Any], *columns: str) -> list[dict[str, Any]]:
    return await (
        query.annotate(count=Count("id"), teams=Count("team_id", distinct=True))
        .group_by(*columns)
        .values(*columns, "count", "teams")
    )


async def _configurations(now: datetime) -> list[tuple[Configuration, int, int]]:
    """(configuration, live credentials, distinct teams), by SQL GROUP BY.

    Infrastructure keys are grouped by preset, sending and mailbox keys by type and listed
    permissions, passwords by listed permissions; each configuration is exactly one group.
    """
    infrastructure = _live_keys(now).filter(type=KeyType.INFRASTRUCTURE)
    mailbox_class = _live_keys(now).exclude(type=KeyType.INFRASTRUCTURE)
    found: list[tuple[Configuration, int, int]] = []
    for row in await _grouped(infrastructure, "preset"):
        configuration = Configuration(KeyType.INFRASTRUCTURE.value, row["preset"], ())
        found.append((configuration, row["count"], row["teams"]))
    for row in await _grouped(mailbox_class, "type", "permissions"):
        configuration = _key_configuration({**row, "preset": None})
        found.append((configuration, row["count"], row["teams"]))
    for row in await _grouped(_live_passwords(), "permissions"):
        configuration = Configuration(PASSWORD_TYPE, None, tuple(row["permissions"] or ()))
        found.append((configuration, row["count"], row["teams"]))
    return found


def _key_filter(groups: tuple[AffectedGroup, ...]) -> Q | None:
    conditions = []
    for group in groups:
        configuration = group.configuration
        if configuration.credential_type == PASSWORD_TYPE:
            continue
        if configuration.credential_type == KeyType.INFRASTRUCTURE.value:
            if configuration.preset is None:
                conditions.append(Q(type=KeyType.INFRASTRUCTURE, preset__isnull=True))
            else:
                conditions.append(Q(type=KeyType.INFRASTRUCTURE, preset=configuration.preset))
        else:
            conditions.append(
                Q(type=configuration.credential_type, permissions=list(configuration.permissions))
            )
    return Q(*conditions, join_type=Q.OR) if conditions else None


def _password_filter(groups: tuple[AffectedGroup, ...]) -> Q | None:
    conditions = [
        Q(permissions=list(group.configuration.permissions))
        for group in groups
        if group.configuration.credential_type == PASSWORD_TYPE
    ]
    return Q(*conditions, join_type=Q.OR) if conditions else None


async def compute_impact(before: PolicySnapshot, after: PolicySnapshot, now: datetime) -> Impact:
    """The credentials stored now that would gain or lose capabilities from `before` to `after`.

    Cost: three GROUP BY queries, and DISTINCT scans of team ids when something changes;
    Python work is per configuration, not per credential.
    """
    groups: list[AffectedGroup] = []
    considered = 0
    for configuration, count, teams in await _configurations(now):
        considered += count
        old, new = configuration.capabilities(before), configuration.capabilities(after)
        if old != new:
            groups.append(
                AffectedGroup(
                    configuration, count, teams, tuple(sorted(new - old)), tuple(sorted(old - new))
                )
            )
    groups.sort(key=lambda g: (-g.credentials, g.configuration.credential_type))
    affected = tuple(groups)
    gained: dict[str, int] = defaultdict(int)
    lost: dict[str, int] = defaultdict(int)
    for group in affected:
        for permission in group.gained:
            gained[permission] += group.credentials
        for permission in group.lost:
            lost[permission] += group.credentials
    team_ids: set[str] = set()
    key_filter, password_filter = _key_filter(affected), _password_filter(affected)
    if key_filter is not None:
        rows = await _live_keys(now).filter(key_filter).distinct().values("team_id")
        team_ids.update(row["team_id"] for row in rows)
    if password_filter is not None:
        rows = await _live_passwords().filter(password_filter).distinct().values("team_id")
        team_ids.update(row["team_id"] for row in rows)
    return Impact(
        before_version=before.version,
        after_version=after.version,
        computed_at=now,
        credentials_considered=considered,
        groups=affected,
        credentials_affected=sum(group.credentials for group in affected),
        teams_affected=len(team_ids),
        permissions=tuple(
            PermissionChange(permission, gained.get(permission, 0), lost.get(permission, 0))
            for permission in sorted(set(gained) | set(lost))
        ),
    )


def _encode(source: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{source}:{value}".encode()).decode()


def _decode(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        source, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (ValueError, binascii.Error) as exc:
        raise InvalidInputError("after", "Invalid cursor.") from exc
    if source not in ("k", "p", "t") or not value:
        raise InvalidInputError("after", "Invalid cursor.")
    return source, value


def _credential(
    impact: Impact, row: dict[str, Any], configuration: Configuration
) -> AffectedCredential:
    group = impact.change_of(configuration)
    return AffectedCredential(
        id=row["id"],
        team_id=row["team_id"],
        configuration=configuration,
        mailbox_id=row.get("mailbox_id"),
        gained=group.gained if group else (),
        lost=group.lost if group else (),
    )


async def affected_credentials(impact: Impact, size: int, after: str | None) -> ImpactPage:
    """A page of affected credentials: keys by id, then mailbox passwords by id."""
    position = _decode(after)
    key_filter, password_filter = _key_filter(impact.groups), _password_filter(impact.groups)
    items: list[AffectedCredential] = []
    cursors: list[str] = []
    fields = ("id", "team_id", "type", "preset", "permissions", "mailbox_id")
    if key_filter is not None and (position is None or position[0] == "k"):
        query = _live_keys(impact.computed_at).filter(key_filter)
        if position is not None:
            query = query.filter(id__gt=position[1])
        for row in await query.order_by("id").limit(size + 1).values(*fields):
            items.append(_credential(impact, row, _key_configuration(row)))
            cursors.append(_encode("k", row["id"]))
    if password_filter is not None and len(items) <= size:
        passwords = _live_passwords().filter(password_filter)
        if position is not None and position[0] == "p":
            passwords = passwords.filter(id__gt=position[1])
        limit = size + 1 - len(items)
        for row in (
            await passwords.order_by("id")
            .limit(limit)
            .values("id", "team_id", "permissions", "mailbox_id")
        ):
            configuration = Configuration(PASSWORD_TYPE, None, tuple(row["permissions"] or ()))
            items.append(_credential(impact, row, configuration))
            cursors.append(_encode("p", row["id"]))
    return ImpactPage(
        items=items[:size],
        cursors=cursors[:size],
        has_next_page=len(items) > size,
        total_count=impact.credentials_affected,
    )


async def affected_teams(impact: Impact, size: int, after: str | None) -> ImpactPage:
    """A page of affected teams by id, with how many of their credentials are affected."""
    position = _decode(after)
    after_team = position[1] if position is not None and position[0] == "t" else None
    counts: dict[str, int] = defaultdict(int)
    sources: list[QuerySet[Any]] = []
    key_filter, password_filter = _key_filter(impact.groups), _password_filter(impact.groups)
    if key_filter is not None:
        sources.append(_live_keys(impact.computed_at).filter(key_filter))
    if password_filter is not None:
        sources.append(_live_passwords().filter(password_filter))
    for query in sources:
        if after_team is not None:
            query = query.filter(team_id__gt=after_team)
        rows = (
            await query.annotate(count=Count("id"))
            .group_by("team_id")
            .order_by("team_id")
            .limit(size + 1)
            .values("team_id", "count")
        )
        for row in rows:
            counts[row["team_id"]] += row["count"]
    # The first `size` teams of the union are among the first size + 1 of each source.
    ordered = sorted(counts)
    page = ordered[:size]
    return ImpactPage(
        items=[AffectedTeam(team_id, counts[team_id]) for team_id in page],
        cursors=[_encode("t", team_id) for team_id in page],
        has_next_page=len(ordered) > size,
        total_count=impact.teams_affected,
    )
