"""The GraphQL schema: a thin adapter from Strawberry to the resolvers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from mailkeys.schema.allowlists import AllowlistMutations
from mailkeys.schema.apps import AppMutations, AppQueries
from mailkeys.schema.audit import AuditQueries
from mailkeys.schema.execution import Limits, OperationRunner
from mailkeys.schema.explain import ExplainQueries
from mailkeys.schema.keys import KeyMutations, KeyQueries
from mailkeys.schema.mailboxes import MailboxMutations, MailboxQueries
from mailkeys.schema.people import PeopleMutations, PeopleQueries
from mailkeys.schema.policy_changes import PolicyChangeMutations
from mailkeys.schema.policy_plans import PolicyPlanMutations, PolicyPlanQueries
from mailkeys.schema.policy_versions import PolicyVersionQueries
from mailkeys.schema.resources import ResourceMutations, ResourceQueries
from mailkeys.schema.routing import RoutingMutations, RoutingQueries
from mailkeys.schema.scalars import SCALAR_OVERRIDES
from mailkeys.schema.sending import SendingMutations, SendingQueries
from mailkeys.schema.teams import TeamMutations, TeamQueries
from mailkeys.settings import Settings


@strawberry.type(description="Everything a credential may ask.")
class Query(
    TeamQueries,
    KeyQueries,
    MailboxQueries,
    RoutingQueries,
    SendingQueries,
    ResourceQueries,
    AuditQueries,
    PeopleQueries,
    PolicyVersionQueries,
    PolicyPlanQueries,
    ExplainQueries,
    AppQueries,
):
    pass


@strawberry.type(description="Everything a credential may change.")
class Mutation(
    TeamMutations,
    KeyMutations,
    AllowlistMutations,
    MailboxMutations,
    RoutingMutations,
    SendingMutations,
    ResourceMutations,
    PeopleMutations,
    PolicyPlanMutations,
    PolicyChangeMutations,
    AppMutations,
):
    pass


class MailkeysSchema(strawberry.Schema):
    """Strawberry's schema, run by our own operation loop (`execution.OperationRunner`): the
    error mapping, the limits and caches, and the request log's view of each operation,
    without Strawberry's per-request extension machinery."""

    def __init__(self, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner = OperationRunner(self, limits)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        return await self.runner.run(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
        )

    def execute_sync(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        raise TypeError("mailkeys runs operations asynchronously: await execute()")

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None  # `ErrorMapping` logs unexpected errors once, with the request id


def build_schema(settings: Settings) -> MailkeysSchema:
    """The schema with the error mapping and the abuse limits (docs/api.md)."""
    return MailkeysSchema(
        query=Query,
        mutation=Mutation,
        scalar_overrides=SCALAR_OVERRIDES,
        limits=Limits.of(settings),
    )
