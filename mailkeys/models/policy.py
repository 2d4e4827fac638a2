"""The live Casbin rules in the database: each change a numbered version, and pending plans.

Every change is a new numbered row of `policy_version`; the highest number is live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.models import Model

from mailkeys.errors import (
    InvalidInputError,
    PolicyConfigurationError,
    PolicyVersionConflictError,
)
from mailkeys.pages import Page, decode_cursor, encode_cursor, page_size


class PolicyChangeSource(StrEnum):
    """How a policy version came to be."""

    SEED = "seed"
    APPLY = "apply"
    IMPORT = "import"
    ROLLBACK = "rollback"


class PolicyVersion(Model):
    """One numbered version of the policy rules, with its author, time, message and diff.

    The highest number is the live policy. Numbers are the primary key, so two changes made
    against the same version cannot both be stored.
    """

    version = fields.IntField(primary_key=True, generated=False)
    rules = fields.TextField()
    created_at = fields.DatetimeField()
    author = fields.CharField(max_length=64)
    message = fields.CharField(max_length=500, default="")
    source = fields.CharEnumField(PolicyChangeSource, max_length=16)
    base_version = fields.IntField(null=True)
    forced = fields.BooleanField(default=False)
    added: list[str] = fields.JSONField(default=list)
    removed: list[str] = fields.JSONField(default=list)
    # Casbin's answers for these rules, computed once by the worker that stored them and
    # reused by workers whose model and vocabulary have the same fingerprint.
    decisions: list[list[Any]] | None = fields.JSONField(null=True)
    decisions_fingerprint = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "policy_version"


class PolicyPlan(Model):
    """Proposed rules that passed validation, kept so that any worker can apply them."""

    id = fields.CharField(primary_key=True, max_length=32)
    base_version = fields.IntField()
    rules = fields.TextField()
    created_at = fields.DatetimeField(db_index=True)
    author = fields.CharField(max_length=64)
    decisions: list[list[Any]] | None = fields.JSONField(null=True)
    decisions_fingerprint = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "policy_plan"


async def live_version() -> int | None:
    """The live version number: the largest primary key, one index lookup."""
    row = await PolicyVersion.all().order_by("-version").only("version").first()
    return row.version if row is not None else None


async def get_version(version: int) -> PolicyVersion | None:
    """One stored version."""
    return await PolicyVersion.filter(version=version).first()


async def live_row() -> PolicyVersion:
    """The live version's row; its absence is a configuration fault (seed first)."""
    row = await PolicyVersion.all().order_by("-version").first()
    if row is None:
        raise PolicyConfigurationError("no policy version is stored yet")
    return row


async def store_first_version(**fields: Any) -> bool:
    """Store version 1 unless a version exists; True if this call stored it.

    Safe when several workers start at once: version numbers are the primary key, so all but
    one insert fail, and those workers simply load what the winner stored.
    """
    if await PolicyVersion.exists():
        return False
    try:
        await PolicyVersion.create(version=1, **fields)
    except (IntegrityError, OperationalError):
        if await PolicyVersion.filter(version=1).exists():
            return False  # another worker seeded first
        raise
    return True


async def store_next_version(expected_version: int, **fields: Any) -> PolicyVersion:
    """Store version `expected_version + 1`; call inside a transaction in `version_conflicts`.

    Raises:
        PolicyVersionConflictError: the live version is not `expected_version`.
    """
    live = await live_version()
    if live != expected_version:
        raise PolicyVersionConflictError(expected_version, live)
    return await PolicyVersion.create(
        version=expected_version + 1, base_version=expected_version, **fields
    )


@asynccontextmanager
async def version_conflicts(expected_version: int) -> AsyncIterator[None]:
    """Turn a lost race for the next version number into PolicyVersionConflictError.

    PostgreSQL reports the loser as a duplicate key; SQLite may refuse its write with
    "database is locked" when another process committed meanwhile.
    """
    try:
        yield
    except IntegrityError as exc:
        raise PolicyVersionConflictError(expected_version, await live_version()) from exc
    except OperationalError as exc:
        live = await live_version()
        if live != expected_version:
            raise PolicyVersionConflictError(expected_version, live) from exc
        raise


async def version_page(first: int | None, after: str | None) -> Page[PolicyVersion]:
    """Every stored version, newest first."""
    size = page_size(first)
    query = PolicyVersion.all()
    total = await query.count()
    if after is not None:
        _, (before,) = decode_cursor(after, ("version",), 1)
        if not isinstance(before, int):
            raise InvalidInputError("after", "Invalid cursor.")
        query = query.filter(version__lt=before)
    rows = await query.order_by("-version").limit(size + 1)
    page = rows[:size]
    cursors = [encode_cursor("version", row.version) for row in page]
    return Page(items=page, cursors=cursors, has_next_page=len(rows) > size, total_count=total)


async def get_plan(plan_id: str) -> PolicyPlan | None:
    """A stored plan."""
    return await PolicyPlan.filter(id=plan_id).first()


async def store_plan(expired_before: datetime, **fields: Any) -> PolicyPlan:
    """Keep a valid plan, and forget plans made before `expired_before`."""
    await PolicyPlan.filter(created_at__lt=expired_before).delete()
    return await PolicyPlan.create(**fields)
