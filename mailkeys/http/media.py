"""GraphQL over HTTP: which media type a response is in, and its status.

Clients that accept `application/graphql-response+json` get it, with the status codes that
media type defines: a request that never reached execution (a document that does not parse
or validate, variables that do not fit their types) answers 400. Everyone else gets
`application/json`, where a GraphQL error is an answer like any other (200). In both, the
statuses of our own table win: UNAUTHENTICATED 401, RATE_LIMITED 429, UNAVAILABLE 503.
"""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str:
    """The response media type for an `Accept` header (absent or `*/*`: application/json)."""
    best_graphql = best_json = 0.0
    for media_range in (accept or "").split(","):
        media_type, *parameters = media_range.split(";")
        media_type = media_type.strip().lower()
        quality = _quality(parameters)
        if media_type == GRAPHQL_RESPONSE:
            best_graphql = max(best_graphql, quality)
        elif media_type in (JSON, "application/*", "*/*"):
            best_json = max(best_json, quality)
    # Legacy clients (no Accept, */*) keep application/json; a client that names the new
    # type, at least as high as application/json, gets it.
    return GRAPHQL_RESPONSE if best_graphql > 0 and best_graphql >= best_json else JSON


def status_for(media_type: str, executed: bool, escalated: int | None) -> int:
    """The HTTP status of a GraphQL response.

    Args:
        media_type: the negotiated media type.
        executed: False when the request was refused before execution (no `data` entry).
        escalated: a status a coded error asked for (401, 429, 503), if any.
    """
    if escalated:
        return escalated
    if not executed and media_type == GRAPHQL_RESPONSE:
        return 400
    return 200
