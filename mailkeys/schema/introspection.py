"""Introspection answered once per schema, and a per-address budget for anonymous callers.

The schema never changes while the process runs, so the answer to an introspection-only
document (the standard introspection query GraphiQL and code generators send, `__type`
lookups) is computed once and served from memory after that: about 150 KB that otherwise
cost some 60 ms of CPU to build, every time, for anyone.

Callers without a valid credential (no `Authorization`, or one that does not authenticate)
share a budget of GraphQL operations per minute per client address, counted by the same
rate limiter as the keys' own budgets (shared by every worker through Redis when configured).
A document that selects only `__typename` is free, so a load balancer's health probe is never
starved. A spent budget answers RATE_LIMITED (429, Retry-After). Authenticated requests are
not counted: their keys have budgets of their own.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode

from mailkeys.errors import RateLimitedError
from mailkeys.telemetry import metrics

_INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
_FREE = frozenset({"__typename"})
_CACHED_DOCUMENTS = 32
AnswerKey = tuple[str, str | None, str]


def root_field_names(operation: OperationDefinitionNode | None) -> frozenset[str] | None:
    """The names of the operation's root fields, or None if any root selection is not a
    plain field (a fragment) or there is no such operation."""
    if operation is None:
        return None
    names: set[str] = set()
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None
        names.add(selection.name.value)
    return frozenset(names)


def is_introspection(names: frozenset[str] | None) -> bool:
    """True for a document that asks the schema about itself and nothing else."""
    return names is not None and names <= _INTROSPECTION_FIELDS


class IntrospectionAnswers:
    """The answers to the introspection-only documents seen so far (the few most recent)."""

    def __init__(self, size: int = _CACHED_DOCUMENTS) -> None:
        self._size = size
        self._answers: OrderedDict[AnswerKey, ExecutionResult] = OrderedDict()

    @staticmethod
    def key(query: str, operation_name: str | None, variables: dict[str, Any] | None) -> AnswerKey:
        """What an answer depends on: the text, the operation and the variables."""
        return query, operation_name, json.dumps(variables or {}, sort_keys=True, default=str)

    def get(self, key: AnswerKey) -> ExecutionResult | None:
        """The stored answer, if any."""
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: AnswerKey, answer: ExecutionResult) -> None:
        """Keep a successful answer (only those: an error may be the caller's alone)."""
        if answer.errors or answer.data is None:
            return
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


async def anonymous_refusal(
    context: Any, names: frozenset[str] | None, per_minute: int
) -> ExecutionResult | None:
    """Count an operation of a caller without a valid credential against its address; the
    refusal to answer if its budget is spent."""
    authentication = getattr(context, "authentication", None)
    if authentication is None or authentication.actor is not None or names == _FREE:
        return None
    client = context.request.client
    address = client.host if client is not None else "unknown"
    decision = await context.services.limiter.hit(f"anonymous:{address}", per_minute)
    context.response.headers.update(decision.headers())
    if decision.allowed:
        return None
    metrics.RATE_LIMIT_REJECTIONS.labels("anonymous").inc()
    refusal = RateLimitedError(decision.reset_after)
    return ExecutionResult(data=None, errors=[GraphQLError(str(refusal), original_error=refusal)])
