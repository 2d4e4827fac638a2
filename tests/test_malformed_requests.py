"""A request that is not well-formed GraphQL over HTTP is answered as a GraphQL error (JSON,
`extensions.code`, the request id), never plain text or a bare 500; and the media type the
client accepts decides the statuses of GraphQL errors."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

# (body, content type, status, the field the answer names)
MALFORMED: dict[str, tuple[bytes, str | None, int, str]] = {
    "invalid UTF-8": (b'{"query": "{ __typename }\xff"}', JSON, 400, "body"),
    "invalid JSON": (b'{"query":', JSON, 400, "body"),
    "empty body": (b"", JSON, 400, "body"),
    "deeply nested JSON": (b"[" * 30_000 + b"]" * 30_000, JSON, 400, "body"),
    "an integer of 5,000 digits": (b'{"query": "{ __typename }", "x": ' + b"9" * 5_000 + b"}",
                                   JSON, 400, "body"),
    "a JSON array (a batch)": (b'[{"query": "{ __typename }"}]', JSON, 400, "body"),
    "a JSON string": (b'"{ __typename }"', JSON, 400, "body"),
    "a JSON number": (b"42", JSON, 400, "body"),
    "JSON null": (b"null", JSON, 400, "body"),
    "no query": (b'{"variables": {}}', JSON, 400, "query"),
    "query not a string": (b'{"query": {"a": 1}}', JSON, 400, "query"),
    "variables not an object": (b'{"query": "{ __typename }", "variables": [1]}', JSON, 400,
                                "variables"),
    "operationName not a string": (b'{"query": "{ __typename }", "operationName": 7}', JSON, 400,
                                   "operationName"),
    "extensions not an object": (b'{"query": "{ __typename }", "extensions": "x"}', JSON, 400,
                                 "extensions"),
    "lone surrogate in a variable": (
        b'{"query": "query($n: String) { __typename }", "variables": {"n": {"a": ["\\ud800"]}}}',
        JSON, 400, "n.a.0",
    ),
    "lone surrogate in the query": (b'{"query": "{ __typename } # \\udfff"}', JSON, 400, "query"),
    "lone surrogate in operationName": (
        b'{"query": "{ __typename }", "operationName": "\\ud83d"}', JSON, 400, "operationName",
    ),
    "wrong content type": (b'{"query": "{ __typename }"}', "text/plain", 415, "Content-Type"),
    "no content type": (b'{"query": "{ __typename }"}', None, 415, "Content-Type"),
    "form data": (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", 415,
                  "Content-Type"),
}  # fmt: skip


def assert_graphql_refusal(response: httpx.Response, status: int) -> dict[str, Any]:
    """A GraphQL-shaped refusal: JSON errors with a code and the request id, no data."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(JSON)
    body: dict[str, Any] = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    return dict(error)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"), MALFORMED.values(), ids=list(MALFORMED)
)
async def test_malformed_bodies_are_graphql_errors_with_the_request_id(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    status: int,
    field: str,
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = await client.post("/graphql", content=body, headers=headers)

    error = assert_graphql_refusal(response, status)
    assert error["extensions"]["field"] == field
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "params",
    [
        {"query": "{ __typename }", "variables": "{not json"},
        {"query": "{ __typename }", "variables": '{"n": "\\ud800"}'},
        {"query": "{ __typename }", "extensions": "[1]"},
        {"variables": "{}"},
    ],
    ids=["variables not JSON", "surrogate in variables", "extensions not an object", "no query"],
)
async def test_malformed_get_parameters_are_graphql_errors(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/graphql", params=params, headers={"accept": JSON})

    assert_graphql_refusal(response, 400)


async def test_a_mutation_over_get_and_an_unknown_operation_name_are_refused(
    client: httpx.AsyncClient,
) -> None:
    mutation = await client.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers={"accept": JSON}
    )
    unknown = await client.post(
        "/graphql", json={"query": "query A { __typename }", "operationName": "B"}
    )

    assert_graphql_refusal(mutation, 400)
    assert_graphql_refusal(unknown, 400)


async def test_a_request_refused_before_execution_has_no_data_entry(
    client: httpx.AsyncClient,
) -> None:
    for query in ("{ viewer { ", "{ nope }", "query($id: ID!) { __typename }"):
        response = await client.post("/graphql", json={"query": query})

        assert response.status_code == 200
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# ---------------------------------------------------------------------------------------------
# Media types: application/graphql-response+json where asked for, application/json otherwise
# ---------------------------------------------------------------------------------------------

ACCEPTS: dict[str, tuple[str | None, str]] = {
    "no Accept": (None, JSON),
    "*/*": ("*/*", JSON),
    "application/json": (JSON, JSON),
    "the new type": (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    "both, new first": (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
    "both, json preferred": (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
    "only something else": ("text/csv", JSON),
}


@pytest.mark.parametrize(("accept", "media_type"), ACCEPTS.values(), ids=list(ACCEPTS))
async def test_the_response_media_type_follows_accept(
    client: httpx.AsyncClient, accept: str | None, media_type: str
) -> None:
    headers = {"accept": accept} if accept else {}

    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.json() == {"data": {"__typename": "Query"}}


REQUEST_ERRORS = {
    "parse": {"query": "{"},
    "validation": {"query": "{ nope }"},
    "variable coercion": {"query": "query($id: ID!) { __typename }", "variables": {"id": None}},
}


@pytest.mark.parametrize("body", REQUEST_ERRORS.values(), ids=list(REQUEST_ERRORS))
async def test_request_errors_are_400_only_for_graphql_response_json(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    new = await client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
    legacy = await client.post("/graphql", json=body, headers={"accept": JSON})

    assert (new.status_code, new.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, JSON)
    for response in (new, legacy):
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_coded_statuses_hold_in_both_media_types(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ viewer { kind } }"}, headers={"accept": accept}
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == accept
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
