"""What authentication needs to know about a key, read in one statement (the hot path).

Building Tortoise model instances costs more than the query itself (about 0.6 ms a row with
a join, against 0.13 ms for the statement), and every authenticated request pays it. So the
hot path reads the key, its mailbox's status and its team's name with one hand-written
primary-key SELECT into a small frozen record; everything else uses the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from mailkeys.models.hot_reads import first_row, stored_json, stored_time
from mailkeys.models.keys import KeyStatus, KeyType, SendScopeMode, derive_status
from mailkeys.models.mailboxes import MailboxStatus

_SQL = (
    "SELECT k.id, k.team_id, k.type, k.preset, k.permissions, k.mailbox_id, k.mailbox_ids,"
    " k.secret_hash, k.secret_tag, k.allowed_ips, k.last_used_at, k.expires_at, k.revoked_at,"
    " k.send_scope_mode, k.send_scope_ids,"
    " m.status AS mailbox_status, t.name AS team_name, t.created_at AS team_created_at,"
    " t.deletion_requested_at AS team_deletion_requested_at"
    " FROM api_key k JOIN team t ON t.id = k.team_id"
    " LEFT JOIN mailbox m ON m.id = k.mailbox_id"
    " WHERE k.id = {param}"
)


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """A key as authentication sees it: state, grants, bindings, and its team's name."""

    id: str
    team_id: str
    team_name: str
    team_created_at: datetime
    # The team waits for its purge: the key authenticates but may do nothing.
    team_paused: bool
    type: KeyType
    preset: str | None
    permissions: list[str]
    mailbox_id: str | None
    mailbox_status: MailboxStatus | None
    mailbox_ids: list[str] | None
    secret_hash: str
    secret_tag: str | None
    # Where the key may be used from (null: anywhere); checked by authentication.
    allowed_ips: list[str] | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    # Where a sending key may route (null: not set, so every active provider).
    send_scope_mode: SendScopeMode | None
    send_scope_ids: list[str]

    def status_at(self, now: datetime) -> KeyStatus:
        """The key's status at `now`, the same rule as `ApiKey.status_at`."""
        return derive_status(now, self.revoked_at, self.expires_at, self.mailbox_status)

    def __repr__(self) -> str:  # the hash is no secret, but it has no place in logs either
        return f"KeyFacts(id={self.id!r}, team_id={self.team_id!r}, type={self.type.value!r})"


# Rows already turned into facts, by their every column: a row that changed in any column
# (revoked, expired, its mailbox suspended, its team paused) is a different key here, so what
# is remembered is only the parsing of timestamps and JSON, never a decision.
_FACTS_OF_ROWS: LRUCache[tuple[Any, ...], KeyFacts] = LRUCache(maxsize=4096)


async def fetch_key_facts(key_id: str) -> KeyFacts | None:
    """The key with this public id, or None."""
    row = await first_row(_SQL, [key_id])
    if row is None:
        return None
    columns = tuple(row.values())
    try:
        facts = _FACTS_OF_ROWS.get(columns)
    except TypeError:  # a driver that hands JSON columns over decoded: nothing to remember
        return _key_facts(row)
    if facts is None:
        facts = _FACTS_OF_ROWS[columns] = _key_facts(row)
    return facts


def _key_facts(row: dict[str, Any]) -> KeyFacts:
    team_created_at = stored_time(row["team_created_at"])
    if team_created_at is None:
        raise ValueError("team without a creation time")
    return KeyFacts(
        id=row["id"],
        team_id=row["team_id"],
        team_name=row["team_name"],
        team_created_at=team_created_at,
        team_paused=row["team_deletion_requested_at"] is not None,
        type=KeyType(row["type"]),
        preset=row["preset"],
        permissions=list(stored_json(row["permissions"]) or []),
        mailbox_id=row["mailbox_id"],
        mailbox_status=MailboxStatus(row["mailbox_status"]) if row["mailbox_status"] else None,
        mailbox_ids=stored_json(row["mailbox_ids"]),
        secret_hash=row["secret_hash"],
        secret_tag=row["secret_tag"],
        allowed_ips=stored_json(row["allowed_ips"]),
        last_used_at=stored_time(row["last_used_at"]),
        expires_at=stored_time(row["expires_at"]),
        revoked_at=stored_time(row["revoked_at"]),
        send_scope_mode=SendScopeMode(row["send_scope_mode"]) if row["send_scope_mode"] else None,
        send_scope_ids=list(stored_json(row["send_scope_ids"]) or []),
    )


@dataclass(frozen=True, slots=True)
class MailboxFacts:
    """A mailbox as the gateways' check sees it."""

    id: str
    team_id: str
    status: MailboxStatus
    # The mailbox's team waits for its purge: none of its credentials passes the check.
    team_paused: bool


@dataclass(frozen=True, slots=True)
class PasswordFacts:
    """A mailbox password as the gateways' check sees it (never the password itself)."""

    id: str
    mailbox_id: str
    secret_hash: str
    secret_tag: str | None
    allowed_ips: list[str] | None
    permissions: list[str]
    last_used_at: datetime | None
    revoked_at: datetime | None

    def __repr__(self) -> str:
        return f"PasswordFacts(id={self.id!r}, mailbox_id={self.mailbox_id!r})"


_MAILBOX_AND_KEY_SQL = (
    "SELECT m.id AS m_id, m.team_id AS m_team_id, m.status AS m_status,"
    " k.id, k.team_id, k.type, k.preset, k.permissions, k.mailbox_id, k.mailbox_ids,"
    " k.secret_hash, k.secret_tag, k.allowed_ips, k.last_used_at, k.expires_at, k.revoked_at,"
    " k.send_scope_mode, k.send_scope_ids,"
    " km.status AS mailbox_status, t.name AS team_name, t.created_at AS team_created_at,"
    " t.deletion_requested_at AS team_deletion_requested_at,"
    " mt.deletion_requested_at AS m_team_deletion_requested_at"
    " FROM mailbox m JOIN team mt ON mt.id = m.team_id LEFT JOIN api_key k ON k.id = {first}"
    " LEFT JOIN team t ON t.id = k.team_id LEFT JOIN mailbox km ON km.id = k.mailbox_id"
    " WHERE m.address = {second}"
)


async def fetch_mailbox_and_key(
    address: str, key_id: str
) -> tuple[MailboxFacts | None, KeyFacts | None]:
    """The mailbox with this address and the key with this id, in one statement.

    The gateways' check reads a key this way, so that a key-shaped secret costs the same
    one statement as a password-shaped one, known or not.
    """
    row = await first_row(_MAILBOX_AND_KEY_SQL, [key_id, address])
    if row is None:
        return None, None
    mailbox = _mailbox_facts(row)
    return mailbox, (None if row["id"] is None else _key_facts(row))


def _mailbox_facts(row: dict[str, Any]) -> MailboxFacts:
    return MailboxFacts(
        id=row["m_id"],
        team_id=row["m_team_id"],
        status=MailboxStatus(row["m_status"]),
        team_paused=row["m_team_deletion_requested_at"] is not None,
    )


_MAILBOX_AND_CREDENTIAL_SQL = (
    "SELECT m.id AS m_id, m.team_id AS m_team_id, m.status AS m_status, p.id, p.mailbox_id,"
    " p.secret_hash, p.secret_tag, p.allowed_ips, p.permissions, p.last_used_at, p.revoked_at,"
    " mt.deletion_requested_at AS m_team_deletion_requested_at"
    " FROM mailbox m JOIN team mt ON mt.id = m.team_id"
    " LEFT JOIN mailbox_password p ON p.mailbox_id = m.id AND p.id = {first}"
    " WHERE m.address = {second}"
)


async def fetch_mailbox_and_password(
    address: str, password_id: str
) -> tuple[MailboxFacts | None, PasswordFacts | None]:
    """The mailbox with this address and its password with this id, in one statement."""
    row = await first_row(_MAILBOX_AND_CREDENTIAL_SQL, [password_id, address])
    if row is None:
        return None, None
    mailbox = _mailbox_facts(row)
    if row["id"] is None:
        return mailbox, None
    return mailbox, PasswordFacts(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        secret_hash=row["secret_hash"],
        secret_tag=row["secret_tag"],
        allowed_ips=stored_json(row["allowed_ips"]),
        permissions=list(stored_json(row["permissions"]) or []),
        last_used_at=stored_time(row["last_used_at"]),
        revoked_at=stored_time(row["revoked_at"]),
    )
