"""GraphQL for providers, delivery groups and the keys depending on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from mailkeys.resolvers import records
from mailkeys.resolvers import routing as routing_resolvers
from mailkeys.schema.connections import After, Connection, First, connection_of
from mailkeys.schema.context import Info


@strawberry.type(description="A sending account of the team.")
class Provider:
    id: strawberry.ID = strawberry.field(description="The provider id.")
    name: str = strawberry.field(description="Its name.")
    active: bool = strawberry.field(description="Only active providers take mail.")
    created_at: datetime = strawberry.field(description="When it was added.")

    @classmethod
    def from_model(cls, provider: records.Provider) -> Provider:
        """Convert a stored provider."""
        return cls(
            id=strawberry.ID(provider.id),
            name=provider.name,
            active=provider.active,
            created_at=provider.created_at,
        )


@strawberry.type(description="A named set of providers that sending keys may route through.")
class DeliveryGroup:
    id: strawberry.ID = strawberry.field(description="The group id.")
    name: str = strawberry.field(description="Its name.")
    created_at: datetime = strawberry.field(description="When it was created.")
    model: strawberry.Private[records.DeliveryGroup]

    @strawberry.field(description="The member providers' ids.")
    async def provider_ids(self) -> list[strawberry.ID]:
        ids = await routing_resolvers.group_provider_ids(self.model)
        return [strawberry.ID(i) for i in ids]

    @classmethod
    def from_model(cls, group: records.DeliveryGroup) -> DeliveryGroup:
        """Convert a stored group."""
        return cls(
            id=strawberry.ID(group.id), name=group.name, created_at=group.created_at, model=group
        )


@strawberry.type(description="A key that routes through a provider or delivery group.")
class DependentKey:
    id: strawberry.ID = strawberry.field(description="The key id.")
    name: str = strawberry.field(description="The key's name.")
    display_token: str = strawberry.field(description="Its display form.")


def _dependent(key: records.ApiKey) -> DependentKey:
    return DependentKey(id=strawberry.ID(key.id), name=key.name, display_token=key.display_token)


@strawberry.input(description="A new provider.")
class ProviderCreateInput:
    name: str = strawberry.field(description="Its name.")


@strawberry.input(description="Rename a provider.")
class ProviderUpdateInput:
    id: strawberry.ID = strawberry.field(description="The provider.")
    name: str | None = strawberry.field(default=None, description="A new name.")


@strawberry.input(description="Names a provider.")
class ProviderIdInput:
    id: strawberry.ID = strawberry.field(description="The provider.")


@strawberry.input(description="Delete a provider.")
class ProviderDeleteInput:
    id: strawberry.ID = strawberry.field(description="The provider.")
    confirm: bool = strawberry.field(
        default=False, description="Delete even if keys route through it (they lose it)."
    )


@strawberry.type(description="The provider after the change.")
class ProviderPayload:
    provider: Provider = strawberry.field(description="The provider.")


@strawberry.input(description="A new delivery group.")
class DeliveryGroupCreateInput:
    name: str = strawberry.field(description="Its name.")
    provider_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Member providers of the team."
    )


@strawberry.input(description="Change a delivery group; absent fields stay.")
class DeliveryGroupUpdateInput:
    id: strawberry.ID = strawberry.field(description="The group.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    provider_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The new member list."
    )


@strawberry.input(description="Delete a delivery group.")
class DeliveryGroupDeleteInput:
    id: strawberry.ID = strawberry.field(description="The group.")
    confirm: bool = strawberry.field(
        default=False, description="Delete even if keys route through it (they lose it)."
    )


@strawberry.type(description="The delivery group after the change.")
class DeliveryGroupPayload:
    delivery_group: DeliveryGroup = strawberry.field(description="The group.")


def _strs(ids: list[strawberry.ID] | None) -> list[str] | None:
    return None if ids is None else [str(i) for i in ids]


@strawberry.type
class RoutingQueries:
    @strawberry.field(description="The team's providers. `provider.read`.")
    async def providers(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Provider]:
        page = await routing_resolvers.list_providers(info.context.actor, first, after)
        return connection_of(page, Provider.from_model)

    @strawberry.field(description="One provider. `provider.read`.")
    async def provider(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The provider id.")],
    ) -> Provider:
        return Provider.from_model(await routing_resolvers.get_provider(info.context.actor, id))

    @strawberry.field(description="The team's delivery groups. `routing.read`.")
    async def delivery_groups(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[DeliveryGroup]:
        page = await routing_resolvers.list_groups(info.context.actor, first, after)
        return connection_of(page, DeliveryGroup.from_model)

    @strawberry.field(description="One delivery group. `routing.read`.")
    async def delivery_group(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The delivery group id.")],
    ) -> DeliveryGroup:
        return DeliveryGroup.from_model(await routing_resolvers.get_group(info.context.actor, id))

    @strawberry.field(description="Keys that route through a provider or delivery group.")
    async def dependents(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="A provider or delivery group id.")
        ],
    ) -> list[DependentKey]:
        keys = await routing_resolvers.list_dependents(info.context.actor, id)
        return [_dependent(key) for key in keys]


@strawberry.type
class RoutingMutations:
    @strawberry.mutation(description="Add a provider. `provider.create`; limit applies.")
    async def provider_create(
        self,
        info: Info,
        input: Annotated[
            ProviderCreateInput, strawberry.argument(description="The provider to add.")
        ],
    ) -> ProviderPayload:
        provider = await routing_resolvers.create_provider(info.context.actor, input.name)
        return ProviderPayload(provider=Provider.from_model(provider))

    @strawberry.mutation(description="Rename a provider. `provider.update`.")
    async def provider_update(
        self,
        info: Info,
        input: Annotated[
            ProviderUpdateInput, strawberry.argument(description="The provider and its new name.")
        ],
    ) -> ProviderPayload:
        provider = await routing_resolvers.update_provider(
            info.context.actor, input.id, name=input.name
        )
        return ProviderPayload(provider=Provider.from_model(provider))

    @strawberry.mutation(description="Let a provider take mail again. `provider.update`.")
    async def provider_activate(
        self,
        info: Info,
        input: Annotated[
            ProviderIdInput, strawberry.argument(description="The provider to activate.")
        ],
    ) -> ProviderPayload:
        provider = await routing_resolvers.update_provider(
            info.context.actor, input.id, active=True
        )
        return ProviderPayload(provider=Provider.from_model(provider))

    @strawberry.mutation(description="Stop a provider taking mail. `provider.update`.")
    async def provider_deactivate(
        self,
        info: Info,
        input: Annotated[
            ProviderIdInput, strawberry.argument(description="The provider to deactivate.")
        ],
    ) -> ProviderPayload:
        provider = await routing_resolvers.update_provider(
            info.context.actor, input.id, active=False
        )
        return ProviderPayload(provider=Provider.from_model(provider))

    @strawberry.mutation(
        description="Delete a provider. `provider.delete`; CONFLICT if keys depend on it, "
        "unless confirm."
    )
    async def provider_delete(
        self,
        info: Info,
        input: Annotated[
            ProviderDeleteInput,
            strawberry.argument(
                description="The provider to delete, confirmed if keys route through it."
            ),
        ],
    ) -> ProviderPayload:
        provider = await routing_resolvers.delete_provider(
            info.context.actor, input.id, input.confirm
        )
        return ProviderPayload(provider=Provider.from_model(provider))

    @strawberry.mutation(description="Create a delivery group. `routing.create`.")
    async def delivery_group_create(
        self,
        info: Info,
        input: Annotated[
            DeliveryGroupCreateInput,
            strawberry.argument(description="The group's name and member providers."),
        ],
    ) -> DeliveryGroupPayload:
        group = await routing_resolvers.create_group(
            info.context.actor, input.name, _strs(input.provider_ids)
        )
        return DeliveryGroupPayload(delivery_group=DeliveryGroup.from_model(group))

    @strawberry.mutation(description="Rename a group or replace its members. `routing.update`.")
    async def delivery_group_update(
        self,
        info: Info,
        input: Annotated[
            DeliveryGroupUpdateInput,
            strawberry.argument(description="The group and what to change."),
        ],
    ) -> DeliveryGroupPayload:
        group = await routing_resolvers.update_group(
            info.context.actor, input.id, input.name, _strs(input.provider_ids)
        )
        return DeliveryGroupPayload(delivery_group=DeliveryGroup.from_model(group))

    @strawberry.mutation(
        description="Delete a group. `routing.delete`; CONFLICT if keys depend on it, "
        "unless confirm."
    )
    async def delivery_group_delete(
        self,
        info: Info,
        input: Annotated[
            DeliveryGroupDeleteInput,
            strawberry.argument(
                description="The group to delete, confirmed if keys route through it."
            ),
        ],
    ) -> DeliveryGroupPayload:
        group = await routing_resolvers.delete_group(info.context.actor, input.id, input.confirm)
        return DeliveryGroupPayload(delivery_group=DeliveryGroup.from_model(group))
