"""The live Casbin rules in the database: each change a numbered version, and pending plans."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


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
