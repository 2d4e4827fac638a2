"""The queries behind a policy change's impact: live credentials grouped by configuration.

What a credential may do depends only on its type and its preset or listed permissions (the
rules name roles, never keys). So live credentials are grouped by (type, preset,
permissions) with SQL GROUP BY; the policy decides each group once (`mailkeys.policy.impact`),
and the affected credentials and teams are paged from the database by id, never loaded at
once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from mailkeys.models.keys import ApiKey, KeyType, live_key_filter
from mailkeys.models.mailboxes import MailboxPassword
from mailkeys.pages import Page, decode_cursor, encode_cursor

PASSWORD_TYPE = "password"  # noqa: S105  # a credential type, not a secret


@dataclass(frozen=True)
class Configuration:
    """What decides a credential's capabilities: its type and preset or listed permissions."""

    credential_type: str
    preset: str | None
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class ConfigurationCount:
    """How many live credentials share one configuration, and in how many teams."""

    configuration: Configuration
    credentials: int
    teams: int


@dataclass(frozen=True)
class CredentialRow:
    """One live credential of an affected configuration."""

    id: str
    team_id: str
    configuration: Configuration
    mailbox_id: str | None


def _live_keys(now: datetime) -> QuerySet[ApiKey]:
    return ApiKey.filter(live_key_filter(now))


def _live_passwords() -> QuerySet[MailboxPassword]:
    return MailboxPassword.filter(revoked_at__isnull=True)


def _key_configuration(row: dict[str, Any]) -> Configuration:
    type_ = KeyType(row["type"]).value
    if type_ == KeyType.INFRASTRUCTURE.value:
        return Configuration(type_, row["preset"], ())
    return Configuration(type_, None, tuple(row["permissions"] or ()))


def _password_configuration(row: dict[str, Any]) -> Configuration:
    return Configuration(PASSWORD_TYPE, None, tuple(row["permissions"] or ()))


async def _grouped(query: QuerySet[Any], *columns: str) -> list[dict[str, Any]]:
    return await (
        query.annotate(count=Count("id"), teams=Count("team_id", distinct=True))
        .group_by(*columns)
        .values(*columns, "count", "teams")
    )


async def live_configurations(now: datetime) -> list[ConfigurationCount]:
    """Every configuration of live credentials, with counts, by SQL GROUP BY.

    Infrastructure keys are grouped by preset, sending and mailbox keys by type and listed
    permissions, passwords by listed permissions; each configuration is exactly one group.
    """
    infrastructure = _live_keys(now).filter(type=KeyType.INFRASTRUCTURE)
    mailbox_class = _live_keys(now).exclude(type=KeyType.INFRASTRUCTURE)
    found = [
        ConfigurationCount(
            Configuration(KeyType.INFRASTRUCTURE.value, row["preset"], ()),
            row["count"],
            row["teams"],
        )
        for row in await _grouped(infrastructure, "preset")
    ]
    for row in await _grouped(mailbox_class, "type", "permissions"):
        configuration = _key_configuration({**row, "preset": None})
        found.append(ConfigurationCount(configuration, row["count"], row["teams"]))
    for row in await _grouped(_live_passwords(), "permissions"):
        found.append(ConfigurationCount(_password_configuration(row), row["count"], row["teams"]))
    return found


def _key_filter(configurations: Iterable[Configuration]) -> Q | None:
    conditions = []
    for configuration in configurations:
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


def _password_filter(configurations: Iterable[Configuration]) -> Q | None:
    conditions = [
        Q(permissions=list(configuration.permissions))
        for configuration in configurations
        if configuration.credential_type == PASSWORD_TYPE
    ]
    return Q(*conditions, join_type=Q.OR) if conditions else None


def _sources(configurations: list[Configuration], now: datetime) -> list[QuerySet[Any]]:
    sources: list[QuerySet[Any]] = []
    key_filter, password_filter = _key_filter(configurations), _password_filter(configurations)
    if key_filter is not None:
        sources.append(_live_keys(now).filter(key_filter))
    if password_filter is not None:
        sources.append(_live_passwords().filter(password_filter))
    return sources


async def count_teams(configurations: list[Configuration], now: datetime) -> int:
    """How many teams hold a live credential of one of `configurations` (DISTINCT scans)."""
    team_ids: set[str] = set()
    for query in _sources(configurations, now):
        rows = await query.distinct().values("team_id")
        team_ids.update(row["team_id"] for row in rows)
    return len(team_ids)


async def credential_page(
    configurations: list[Configuration], now: datetime, size: int, after: str | None, total: int
) -> Page[CredentialRow]:
    """Live credentials of `configurations`: keys by id, then mailbox passwords by id.

    `total` is how many there are in all (the impact counted them by group).
    """
    position = decode_cursor(after, ("k", "p"), 1) if after is not None else None
    key_filter, password_filter = _key_filter(configurations), _password_filter(configurations)
    items: list[CredentialRow] = []
    cursors: list[str] = []
    if key_filter is not None and (position is None or position[0] == "k"):
        query = _live_keys(now).filter(key_filter)
        if position is not None:
            query = query.filter(id__gt=str(position[1][0]))
        key_fields = ("id", "team_id", "type", "preset", "permissions", "mailbox_id")
        for row in await query.order_by("id").limit(size + 1).values(*key_fields):
            items.append(
                CredentialRow(row["id"], row["team_id"], _key_configuration(row), row["mailbox_id"])
            )
            cursors.append(encode_cursor("k", row["id"]))
    if password_filter is not None and len(items) <= size:
        passwords = _live_passwords().filter(password_filter)
        if position is not None and position[0] == "p":
            passwords = passwords.filter(id__gt=str(position[1][0]))
        password_fields = ("id", "team_id", "permissions", "mailbox_id")
        limit = size + 1 - len(items)
        for row in await passwords.order_by("id").limit(limit).values(*password_fields):
            configuration = _password_configuration(row)
            items.append(CredentialRow(row["id"], row["team_id"], configuration, row["mailbox_id"]))
            cursors.append(encode_cursor("p", row["id"]))
    return Page(items[:size], cursors[:size], len(items) > size, total)


async def team_page(
    configurations: list[Configuration], now: datetime, size: int, after: str | None, total: int
) -> Page[tuple[str, int]]:
    """Teams with live credentials of `configurations`, by id, with how many each holds."""
    after_team = str(decode_cursor(after, ("t",), 1)[1][0]) if after is not None else None
    counts: dict[str, int] = defaultdict(int)
    for query in _sources(configurations, now):
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
    return Page(
        [(team_id, counts[team_id]) for team_id in page],
        [encode_cursor("t", team_id) for team_id in page],
        len(ordered) > size,
        total,
    )
