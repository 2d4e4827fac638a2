"""The GraphQL schema: a thin adapter from Strawberry to the resolvers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.types import ExecutionContext

from mailkeys.schema.allowlists import AllowlistMutations
from mailkeys.schema.audit import AuditQueries
from mailkeys.schema.errors import ErrorMapping
from mailkeys.schema.explain import ExplainQueries
from mailkeys.schema.introspection import (
    AnonymousBudget,
    IntrospectionAnswers,
    IntrospectionCache,
)
from mailkeys.schema.keys import KeyMutations, KeyQueries
from mailkeys.schema.mailboxes import MailboxMutations, MailboxQueries
from mailkeys.schema.observation import RequestObservation
from mailkeys.schema.parsing import DocumentCache
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
):
    pass


class MailkeysSchema(strawberry.Schema):
    """Strawberry's schema, minus its own error log: `ErrorMapping` logs unexpected errors
    once, with the request id; expected domain errors are answers, not faults."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with the error mapping and the abuse limits (docs/api.md)."""
    # Factories, not instances: Strawberry builds fresh extensions for every request. The
    # validation rules are built once here: QueryDepthLimiter and MaxAliasesLimiter make new
    # rule classes per instance, which ValidationCache takes as a new key every time.
    rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.max_query_depth, None, None),
        max_aliases.create_validator(settings.max_aliases),
    ]
    extensions: list[Callable[[], SchemaExtension]] = [
        RequestObservation,  # first, so that its exit runs last and sees the mapped codes
        ErrorMapping,
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        DocumentCache,
        partial(AddValidationRules, rules),
        partial(ValidationCache, maxsize=256),
        # Budget first: a refused anonymous request is not served from the cache either.
        partial(AnonymousBudget, per_minute=settings.anonymous_per_minute),
        partial(IntrospectionCache, answers=IntrospectionAnswers()),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return MailkeysSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
    )
