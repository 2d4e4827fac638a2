"""Providers (sending accounts) and delivery groups, and the keys that depend on them."""

from __future__ import annotations

from typing import TypeVar

from tortoise.transactions import in_transaction

from mailkeys import clock
from mailkeys.errors import DependentsConflictError, InvalidInputError
from mailkeys.models import ApiKey, DeliveryGroup, KeyType, LimitedResource, Provider, SendScopeMode
from mailkeys.models.keys import live_key_filter
from mailkeys.models.pagination import Page, keyset_page
from mailkeys.policy import Actor, authorize
from mailkeys.resolvers.audit import audited, record_event
from mailkeys.resolvers.common import limited_creation, team_row
from mailkeys.tokens import new_id
from mailkeys.validation import clean_name, unique_ids

RoutedT = TypeVar("RoutedT", Provider, DeliveryGroup)
_SCOPE_OF_PREFIX = {"prv": SendScopeMode.PROVIDERS, "dg": SendScopeMode.DELIVERY_GROUPS}


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


async def list_dependents(actor: Actor, scope_id: str) -> list[ApiKey]:
    """The keys that would be affected by deleting a provider or delivery group."""
    if scope_id.startswith("prv_"):
        authorize(actor, "provider.read")
        await team_row(Provider, actor, scope_id, "Provider")
    else:
        authorize(actor, "routing.read")
        await team_row(DeliveryGroup, actor, scope_id, "DeliveryGroup")
    return await dependent_keys(str(actor.team_id), scope_id)


async def _drop_from_scopes(keys: list[ApiKey], scope_id: str) -> None:
    """Keys naming `scope_id` forget it; a group loses a deleted member by itself."""
    for key in keys:
        if scope_id in key.send_scope_ids:
            key.send_scope_ids = [i for i in key.send_scope_ids if i != scope_id]
            await key.save(update_fields=["send_scope_ids"])


async def create_provider(actor: Actor, name: str) -> Provider:
    """Add a sending account (limit: providers)."""
    team_id = str(actor.team_id)
    async with audited(actor, "provider.create", "provider", None, team_id):
        authorize(actor, "provider.create")
        name = clean_name("name", name, required=True)
        async with limited_creation(team_id, LimitedResource.PROVIDERS):
            provider = await Provider.create(id=new_id("prv"), team_id=team_id, name=name)
            await record_event(actor, "provider.create", "provider", provider.id, team_id)
    return provider


async def update_provider(
    actor: Actor, provider_id: str, name: str | None = None, active: bool | None = None
) -> Provider:
    """Rename, activate or deactivate a provider; inactive ones take no mail."""
    team_id = str(actor.team_id)
    async with audited(actor, "provider.update", "provider", provider_id, team_id):
        authorize(actor, "provider.update")
        async with in_transaction():
            provider = await team_row(Provider, actor, provider_id, "Provider")
            if name is not None:
                provider.name = clean_name("name", name, required=True)
            if active is not None:
                provider.active = active
            await provider.save(update_fields=["name", "active"])
            await record_event(
                actor, "provider.update", "provider", provider.id, team_id,
                details={"name": provider.name, "active": provider.active},
            )  # fmt: skip
    return provider


async def _delete_routed(
    actor: Actor, model: type[RoutedT], row_id: str, permission: str, target: str, confirm: bool
) -> RoutedT:
    """Delete a provider or group; keys routing through it need `confirm` and lose it."""
    team_id = str(actor.team_id)
    async with audited(actor, permission, target, row_id, team_id):
        authorize(actor, permission)
        async with in_transaction():
            row = await team_row(model, actor, row_id, model.__name__)
            dependents = await dependent_keys(team_id, row_id)
            if dependents and not confirm:
                raise DependentsConflictError([key.id for key in dependents])
            await _drop_from_scopes(dependents, row_id)
            await row.delete()
            await record_event(
                actor, permission, target, row_id, team_id,
                details={"dependent_keys": [key.id for key in dependents]},
            )  # fmt: skip
    return row


async def delete_provider(actor: Actor, provider_id: str, confirm: bool) -> Provider:
    """Delete a provider; keys routing through it need `confirm` (they lose it from scope)."""
    return await _delete_routed(
        actor, Provider, provider_id, "provider.delete", "provider", confirm
    )


async def list_providers(actor: Actor, first: int | None, after: str | None) -> Page[Provider]:
    """The team's providers, newest first."""
    authorize(actor, "provider.read")
    return await keyset_page(Provider.filter(team_id=actor.team_id), first, after)


async def get_provider(actor: Actor, provider_id: str) -> Provider:
    """One provider of the team."""
    authorize(actor, "provider.read")
    return await team_row(Provider, actor, provider_id, "Provider")


async def _team_providers(team_id: str, provider_ids: list[str] | None) -> list[Provider]:
    ids = unique_ids("providerIds", provider_ids) or []
    providers = await Provider.filter(id__in=ids, team_id=team_id)
    if len(providers) != len(ids):
        raise InvalidInputError("providerIds", "Unknown id in providerIds.")
    return providers


async def create_group(actor: Actor, name: str, provider_ids: list[str] | None) -> DeliveryGroup:
    """Create a delivery group of the team's providers."""
    team_id = str(actor.team_id)
    async with audited(actor, "routing.create", "delivery_group", None, team_id):
        authorize(actor, "routing.create")
        name = clean_name("name", name, required=True)
        providers = await _team_providers(team_id, provider_ids)
        async with in_transaction():
            group = await DeliveryGroup.create(id=new_id("dg"), team_id=team_id, name=name)
            await group.providers.add(*providers)
            await record_event(actor, "routing.create", "delivery_group", group.id, team_id)
    return group


async def update_group(
    actor: Actor, group_id: str, name: str | None, provider_ids: list[str] | None
) -> DeliveryGroup:
    """Rename a group or replace its members (None leaves them as they are)."""
    team_id = str(actor.team_id)
    async with audited(actor, "routing.update", "delivery_group", group_id, team_id):
        authorize(actor, "routing.update")
        group = await team_row(DeliveryGroup, actor, group_id, "DeliveryGroup")
        providers = None if provider_ids is None else await _team_providers(team_id, provider_ids)
        async with in_transaction():
            if name is not None:
                group.name = clean_name("name", name, required=True)
                await group.save(update_fields=["name"])
            if providers is not None:
                await group.providers.clear()
                await group.providers.add(*providers)
            await record_event(actor, "routing.update", "delivery_group", group.id, team_id)
    return group


async def delete_group(actor: Actor, group_id: str, confirm: bool) -> DeliveryGroup:
    """Delete a group; keys routing through it need `confirm` (they lose it from scope)."""
    return await _delete_routed(
        actor, DeliveryGroup, group_id, "routing.delete", "delivery_group", confirm
    )


async def list_groups(actor: Actor, first: int | None, after: str | None) -> Page[DeliveryGroup]:
    """The team's delivery groups, newest first."""
    authorize(actor, "routing.read")
    return await keyset_page(DeliveryGroup.filter(team_id=actor.team_id), first, after)


async def get_group(actor: Actor, group_id: str) -> DeliveryGroup:
    """One delivery group of the team."""
    authorize(actor, "routing.read")
    return await team_row(DeliveryGroup, actor, group_id, "DeliveryGroup")


async def group_provider_ids(group: DeliveryGroup) -> list[str]:
    """The ids of a group's member providers."""
    return [str(pid) for pid in await group.providers.all().values_list("id", flat=True)]
