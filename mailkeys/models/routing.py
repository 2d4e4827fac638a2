"""Providers (sending accounts) and delivery groups: enough to validate send scopes."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from mailkeys.models.teams import Team


class Provider(Model):
    """A sending account of the team. only active ones take part in sending."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="providers", on_delete=fields.CASCADE
    )
    team_id: str
    name = fields.CharField(max_length=200)
    active = fields.BooleanField(default=True)
    # Sends rotate through the eligible pool: the least recently selected provider goes next.
    last_selected_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "provider"


class DeliveryGroup(Model):
    """A named set of the team's providers that a sending key may be routed through."""

    id = fields.CharField(primary_key=True, max_length=32)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="delivery_groups", on_delete=fields.CASCADE
    )
    team_id: str
    name = fields.CharField(max_length=200)
    providers: fields.ManyToManyRelation[Provider] = fields.ManyToManyField(
        "models.Provider", related_name="delivery_groups", through="delivery_group_provider"
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "delivery_group"
