"""What the OAuth endpoints read and write: apps, codes and tokens, and the hot-path read.

The endpoints load everything a request needs first (`fetch_*`), decide in memory, then
apply what they decided (`apply_token_writes`) in one transaction. The writes that settle a
race are conditional: a code is marked used, or a refresh token rotated, only if it was not
already, so of two concurrent uses exactly one wins and the other is treated as a reuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from mailkeys.models.apps import AppConnection, AppToken, AppTokenKind, AuthorizationCode, OAuthApp
from mailkeys.models.hot_reads import first_row, stored_json, stored_time


class LostRaceError(Exception):
    """Raised inside `apply_token_writes` when a code or refresh token was used meanwhile."""


async def fetch_app(client_id: str) -> OAuthApp | None:
    """The app with this client id, or None (an over-long id is no app of ours)."""
    if not client_id or len(client_id) > 64:
        return None
    return await OAuthApp.filter(id=client_id).first()


async def fetch_code(tag: str) -> AuthorizationCode | None:
    """The authorization code with this tag, with its connection and app."""
    return await AuthorizationCode.filter(tag=tag).select_related("connection", "app").first()


async def fetch_token(token_id: str) -> AppToken | None:
    """The access or refresh token with this public id, with its connection and app."""
    return (
        await AppToken.filter(id=token_id).select_related("connection", "connection__app").first()
    )


@dataclass(frozen=True)
class NewToken:
    """A token to store: its public id, kind, tag and expiry (never the token itself)."""

    id: str
    kind: AppTokenKind
    secret_tag: str
    expires_at: datetime | None


@dataclass
class TokenWrites:
    """What one token-endpoint request decided to write, applied together."""

    connection_id: str | None = None
    family: str | None = None
    # A code to mark used, and a refresh token to mark rotated: only if still unused.
    use_code: str | None = None
    rotate_refresh: str | None = None
    issue: list[NewToken] = field(default_factory=list)
    # Families to revoke (a code or refresh token presented again) and single tokens (RFC 7009).
    revoke_families: list[str] = field(default_factory=list)
    revoke_tokens: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True if nothing is to be written."""
        return not (
            self.use_code
            or self.rotate_refresh
            or self.issue
            or self.revoke_families
            or self.revoke_tokens
        )


async def apply_token_writes(writes: TokenWrites, now: datetime) -> None:
    """Write what a request decided, in the current transaction (the caller opens one).

    Raises:
        LostRaceError: the code or refresh token was used by a concurrent request first.
    """
    if writes.use_code is not None:
        used = await AuthorizationCode.filter(tag=writes.use_code, used_at__isnull=True).update(
            used_at=now, family=writes.family
        )
        if not used:
            raise LostRaceError()
    if writes.rotate_refresh is not None:
        rotated = await AppToken.filter(
            id=writes.rotate_refresh, rotated_at__isnull=True, revoked_at__isnull=True
        ).update(rotated_at=now)
        if not rotated:
            raise LostRaceError()
    if writes.issue:
        if writes.connection_id is None or writes.family is None:
            raise ValueError("tokens are issued for a connection and a family")
        await AppToken.bulk_create(
            [
                AppToken(
                    id=token.id,
                    kind=token.kind,
                    connection_id=writes.connection_id,
                    family=writes.family,
                    secret_tag=token.secret_tag,
                    created_at=now,
                    expires_at=token.expires_at,
                )
                for token in writes.issue
            ]
        )
    if writes.revoke_families:
        await AppToken.filter(family__in=writes.revoke_families, revoked_at__isnull=True).update(
            revoked_at=now
        )
    if writes.revoke_tokens:
        await AppToken.filter(id__in=writes.revoke_tokens, revoked_at__isnull=True).update(
            revoked_at=now
        )


async def revoke_family(family: str, now: datetime) -> None:
    """Revoke every token of a family in a transaction of its own (after a lost race)."""
    async with in_transaction():
        await AppToken.filter(family=family, revoked_at__isnull=True).update(revoked_at=now)


async def revoke_connection_tokens(connection_id: str, now: datetime) -> int:
    """Revoke every token of a connection (call inside the disconnecting transaction)."""
    return await AppToken.filter(connection_id=connection_id, revoked_at__isnull=True).update(
        revoked_at=now
    )


# --------------------------------------------------------------------------------------------
# The hot path: an access token, its connection and its team in one primary-key read
# --------------------------------------------------------------------------------------------

_SQL = (
    "SELECT o.id, o.kind, o.secret_tag, o.expires_at, o.revoked_at, o.rotated_at,"
    " c.id AS connection_id, c.team_id, c.app_id, c.permissions, c.mailbox_ids,"
    " c.last_used_at, c.revoked_at AS connection_revoked_at,"
    " t.name AS team_name, t.created_at AS team_created_at,"
    " t.deletion_requested_at AS team_deletion_requested_at"
    " FROM oauth_token o JOIN app_connection c ON c.id = o.connection_id"
    " JOIN team t ON t.id = c.team_id"
    " WHERE o.id = {param}"
)


@dataclass(frozen=True, slots=True)
class AppTokenFacts:
    """An app's token as authentication sees it, with its connection and team."""

    id: str
    kind: AppTokenKind
    secret_tag: str
    expires_at: datetime | None
    revoked: bool
    connection_id: str
    team_id: str
    team_name: str
    team_created_at: datetime
    team_paused: bool
    app_id: str
    permissions: list[str]
    mailbox_ids: list[str] | None
    last_used_at: datetime | None
    connection_revoked: bool

    def usable_at(self, now: datetime) -> bool:
        """An unrevoked access token of a live connection, not expired at `now`."""
        return (
            self.kind is AppTokenKind.ACCESS
            and not self.revoked
            and not self.connection_revoked
            and (self.expires_at is None or self.expires_at > now)
        )

    def __repr__(self) -> str:
        return f"AppTokenFacts(id={self.id!r}, connection_id={self.connection_id!r})"


async def fetch_app_token_facts(token_id: str) -> AppTokenFacts | None:
    """The token with this public id, its connection and team; None if there is none."""
    row = await first_row(_SQL, [token_id])
    return None if row is None else _facts(row)


def _facts(row: dict[str, Any]) -> AppTokenFacts:
    team_created_at = stored_time(row["team_created_at"])
    if team_created_at is None:
        raise ValueError("team without a creation time")
    return AppTokenFacts(
        id=row["id"],
        kind=AppTokenKind(row["kind"]),
        secret_tag=row["secret_tag"],
        expires_at=stored_time(row["expires_at"]),
        revoked=row["revoked_at"] is not None or row["rotated_at"] is not None,
        connection_id=row["connection_id"],
        team_id=row["team_id"],
        team_name=row["team_name"],
        team_created_at=team_created_at,
        team_paused=row["team_deletion_requested_at"] is not None,
        app_id=row["app_id"],
        permissions=list(stored_json(row["permissions"]) or []),
        mailbox_ids=stored_json(row["mailbox_ids"]),
        last_used_at=stored_time(row["last_used_at"]),
        connection_revoked=row["connection_revoked_at"] is not None,
    )


async def record_connection_use(counts: dict[str, int], now: datetime) -> None:
    """Add each connection's requests since the last flush, and its last use."""
    for connection_id, count in counts.items():
        await AppConnection.filter(id=connection_id).update(
            request_count=F("request_count") + count, last_used_at=now
        )
