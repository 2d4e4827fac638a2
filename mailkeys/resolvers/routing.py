"""Providers (sending accounts) and delivery groups, and the keys that depend on them."""

from __future__ import annotations

from typing import TypeVar

from mailkeys.errors import DependentsConflictError, InvalidInputError
from mailkeys.models import ApiKey, DeliveryGroup, LimitedResource, Provider
from mailkeys.models.pagination import keyset_page
from mailkeys.models.routing import dependent_keys
from mailkeys.pages import Page
from mailkeys.policy import Actor, load_for, team_for
from mailkeys.resolvers.changes import Action, change
from mailkeys.tokens import new_id
from mailkeys.validation import clean_name, unique_ids

RoutedT = TypeVar("RoutedT", Provider, DeliveryGroup)
PROVIDER_CREATE = Action("provider.create", "provider.create", "provider")
PROVIDER_UPDATE = Action("provider.update", "provider.update", "provider")
PROVIDER_DELETE = Action("provider.delete", "provider.delete", "provider")
GROUP_CREATE = Action("routing.create", "routing.create", "delivery_group")
GROUP_UPDATE = Action("routing.update", "routing.update", "delivery_group")
GROUP_DELETE = Action("routing.delete", "routing.delete", "delivery_group")


async def list_dependents(actor: Actor, scope_id: str) -> list[ApiKey]:
    """The keys that would be affected by deleting a provider or delivery group."""
    row: Provider | DeliveryGroup
    if scope_id.startswith("prv_"):
        row = await load_for(actor, "provider.read", Provider, scope_id)
    else:
        row = await load_for(actor, "routing.read", DeliveryGroup, scope_id)
    return await dependent_keys(row.team_id, scope_id)


async def _drop_from_scopes(keys: list[ApiKey], scope_id: str) -> None:
    """Keys naming `scope_id` forget it; a group loses a deleted member by itself."""
    for key in keys:
        if scope_id in key.send_scope_ids:
            key.send_scope_ids = [i for i in key.send_scope_ids if i != scope_id]
            await key.save(update_fields=["send_scope_ids"])


async def create_provider(actor: Actor, name: str) -> Provider:
    """Add a sending account (limit: providers)."""
    async with change(actor, PROVIDER_CREATE) as attempt:
        name = clean_name("name", name, required=True)
        async with attempt.limited(LimitedResource.PROVIDERS):
            provider = await Provider.create(id=new_id("prv"), team_id=attempt.team, name=name)
            await attempt.succeeded(provider.id)
    return provider


async def update_provider(
    actor: Actor, provider_id: str, name: str | None = None, active: bool | None = None
) -> Provider:
    """Rename, activate or deactivate a provider; inactive ones take no mail."""
    async with change(actor, PROVIDER_UPDATE, provider_id) as attempt, attempt.transaction():
        provider = await attempt.load(Provider, provider_id)
        if name is not None:
            provider.name = clean_name("name", name, required=True)
        if active is not None:
            provider.active = active
        await provider.save(update_fields=["name", "active"])
        await attempt.succeeded(provider.id, {"name": provider.name, "active": provider.active})
    return provider


async def _delete_routed(
    actor: Actor, action: Action, model: type[RoutedT], row_id: str, confirm: bool
) -> RoutedT:
    """Delete a provider or group; keys routing through it need `confirm` and lose it."""
    async with change(actor, action, row_id) as attempt, attempt.transaction():
        row = await attempt.load(model, row_id)
        dependents = await dependent_keys(row.team_id, row_id)
        if dependents and not confirm:
            raise DependentsConflictError([key.id for key in dependents])
        await _drop_from_scopes(dependents, row_id)
        await row.delete()
        await attempt.succeeded(row_id, {"dependent_keys": [key.id for key in dependents]})
    return row


async def delete_provider(actor: Actor, provider_id: str, confirm: bool) -> Provider:
    """Delete a provider; keys routing through it need `confirm` (they lose it from scope)."""
    return await _delete_routed(actor, PROVIDER_DELETE, Provider, provider_id, confirm)


async def list_providers(actor: Actor, first: int | None, after: str | None) -> Page[Provider]:
    """The team's providers, newest first."""
    team_id = team_for(actor, "provider.read")
    return await keyset_page(Provider.filter(team_id=team_id), first, after)


async def get_provider(actor: Actor, provider_id: str) -> Provider:
    """One provider of the team."""
    return await load_for(actor, "provider.read", Provider, provider_id)


async def _team_providers(team_id: str, provider_ids: list[str] | None) -> list[Provider]:
    ids = unique_ids("providerIds", provider_ids) or []
    providers = await Provider.filter(id__in=ids, team_id=team_id)
    if len(providers) != len(ids):
        raise InvalidInputError("providerIds", "Unknown id in providerIds.")
    return providers


async def create_group(actor: Actor, name: str, provider_ids: list[str] | None) -> DeliveryGroup:
    """Create a delivery group of the team's providers."""
    async with change(actor, GROUP_CREATE) as attempt:
        name = clean_name("name", name, required=True)
        providers = await _team_providers(attempt.team, provider_ids)
        async with attempt.transaction():
            group = await DeliveryGroup.create(id=new_id("dg"), team_id=attempt.team, name=name)
            await group.providers.add(*providers)
            await attempt.succeeded(group.id)
    return group


async def update_group(
    actor: Actor, group_id: str, name: str | None, provider_ids: list[str] | None
) -> DeliveryGroup:
    """Rename a group or replace its members (None leaves them as they are)."""
    async with change(actor, GROUP_UPDATE, group_id) as attempt:
        group = await attempt.load(DeliveryGroup, group_id)
        providers = None
        if provider_ids is not None:
            providers = await _team_providers(group.team_id, provider_ids)
        async with attempt.transaction():
            if name is not None:
                group.name = clean_name("name", name, required=True)
                await group.save(update_fields=["name"])
            if providers is not None:
                await group.providers.clear()
                await group.providers.add(*providers)
            await attempt.succeeded(group.id)
    return group


async def delete_group(actor: Actor, group_id: str, confirm: bool) -> DeliveryGroup:
    """Delete a group; keys routing through it need `confirm` (they lose it from scope)."""
    return await _delete_routed(actor, GROUP_DELETE, DeliveryGroup, group_id, confirm)


async def list_groups(actor: Actor, first: int | None, after: str | None) -> Page[DeliveryGroup]:
    """The team's delivery groups, newest first."""
    team_id = team_for(actor, "routing.read")
    return await keyset_page(DeliveryGroup.filter(team_id=team_id), first, after)


async def get_group(actor: Actor, group_id: str) -> DeliveryGroup:
    """One delivery group of the team."""
    return await load_for(actor, "routing.read", DeliveryGroup, group_id)


async def group_provider_ids(group: DeliveryGroup) -> list[str]:
    """The ids of a group's member providers."""
    return [str(pid) for pid in await group.providers.all().values_list("id", flat=True)]
