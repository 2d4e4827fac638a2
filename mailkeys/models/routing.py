"""Providers (sending accounts) and delivery groups, and the keys that route through them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from mailkeys import clock
from mailkeys.models.keys import ApiKey, KeyType, SendScopeMode, live_key_filter
from mailkeys.models.teams import Team

_SCOPE_OF_PREFIX = {"prv": SendScopeMode.PROVIDERS, "dg": SendScopeMode.DELIVERY_GROUPS}


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


async def dependent_keys(team_id: str, scope_id: str) -> list[ApiKey]:
    """Live sending keys of the team that route through `scope_id`, newest first.

    For a provider that includes keys scoped to a delivery group it belongs to: deleting it
    shrinks their pool too.
    """
    mode = _SCOPE_OF_PREFIX.get(scope_id.split("_", 1)[0])
    if mode is None:
        return []
    names = {scope_id}
    if mode is SendScopeMode.PROVIDERS:
        groups = await DeliveryGroup.filter(team_id=team_id, providers__id=scope_id).values_list(
            "id", flat=True
        )
        names |= {str(group) for group in groups}
    keys = await ApiKey.filter(
        live_key_filter(clock.now()),
        team_id=team_id,
        type=KeyType.SENDING,
        send_scope_mode__in=[SendScopeMode.PROVIDERS, SendScopeMode.DELIVERY_GROUPS],
    ).order_by("-created_at")
    # A key's scope holds at most 100 ids and a team at most a few hundred keys: filter here
    # rather than rely on JSON operators that differ between SQLite and PostgreSQL.
    return [key for key in keys if names & set(key.send_scope_ids)]
