"""Parsing and validating a document once, however often it is sent (the hot path).

Strawberry's own `ParserCache` raises a syntax error from inside its parse hook, and with it
the other extensions' `on_operation` exits were skipped, so the error reached the client
without its code. This cache only ever stores documents that parsed: a document that fails
is parsed again by Strawberry, which reports the error the usual way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension


@lru_cache(maxsize=512)
def _parse(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class DocumentCache(SchemaExtension):
    """Reuses the parsed document of a query text seen before."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            # on a GraphQLError, Strawberry parses it again and reports the error as usual
            with contextlib.suppress(GraphQLError):
                context.graphql_document = _parse(
                    context.query, context.parse_options.get("max_tokens")
                )
        yield
