"""Client mistakes are client errors: the same mistake as a variable or inline answers
BAD_USER_INPUT naming the variable or field, never an internal error, and never writes the
value into the log."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Gql, TeamHandle

MakeTeam = Callable[..., Awaitable[TeamHandle]]
PASTED = "smx_root_rdsBkEcX2MOAxVL9_IyPPtnLaNtyvlutsiNcNFNpIYmIRYTKI4L12GQ"

TEAM = "query($id: ID!) { team(id: $id) { id } }"
KEYS = "query($first: Int) { apiKeys(first: $first) { totalCount } }"
KEYS_OF_TYPE = "query($type: ApiKeyType) { apiKeys(type: $type) { totalCount } }"
KEY = "query($id: ID!) { apiKey(id: $id) { id } }"
REVOKE = "mutation($input: ApiKeyRevokeInput!) { apiKeyRevoke(input: $input) { apiKey { id } } }"
CREATE = "mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { secret } }"


def key_input(**fields: Any) -> dict[str, Any]:
    """A valid ApiKeyCreateInput, with `fields` changed."""
    return {"input": {"type": "INFRASTRUCTURE", "preset": "root:full", "name": "ci", **fields}}


# (document, variables, the field the answer names)
VARIABLE_MISTAKES: dict[str, tuple[str, dict[str, Any], str]] = {
    "missing required variable": (TEAM, {}, "id"),
    "null required variable": (TEAM, {"id": None}, "id"),
    "string for an Int": (KEYS, {"first": "ten"}, "first"),
    "2^40 for an Int": (KEYS, {"first": 2**40}, "first"),
    "1.5 for an Int": (KEYS, {"first": 1.5}, "first"),
    "object for an ID": (KEY, {"id": {"id": "abc"}}, "id"),
    "list for an ID": (KEY, {"id": ["abc"]}, "id"),
    "unknown input field": (REVOKE, {"input": {"id": "abc", "reason": "leak"}}, "input.reason"),
    "missing input field": (REVOKE, {"input": {}}, "input.id"),
    "bad enum value": (KEYS_OF_TYPE, {"type": "ROOT"}, "type"),
    "words for a DateTime": (CREATE, key_input(expiresAt="tomorrow"), "input.expiresAt"),
    "number for a DateTime": (CREATE, key_input(expiresAt=12345), "input.expiresAt"),
    "DateTime past year 9999 in UTC": (
        CREATE,
        key_input(expiresAt="9999-12-31T23:59:59-14:00"),
        "input.expiresAt",
    ),
    "DateTime before year 1 in UTC": (
        CREATE,
        key_input(expiresAt="0001-01-01T00:00:00+14:00"),
        "input.expiresAt",
    ),
    "pasted token for a DateTime": (CREATE, key_input(expiresAt=PASTED), "input.expiresAt"),
    "list item of the wrong type": (
        CREATE,
        key_input(mailboxIds=["mbx_1", 7.5]),
        "input.mailboxIds.1",
    ),
}

# (document, the field the answer names)
INLINE_MISTAKES: dict[str, tuple[str, str]] = {
    "missing required argument": ("{ team { id } }", "id"),
    "null required argument": ("{ team(id: null) { id } }", "id"),
    "string for an Int": ('{ apiKeys(first: "ten") { totalCount } }', "first"),
    "2^40 for an Int": ("{ apiKeys(first: 1099511627776) { totalCount } }", "first"),
    "1.5 for an Int": ("{ apiKeys(first: 1.5) { totalCount } }", "first"),
    "object for an ID": ('{ apiKey(id: {id: "abc"}) { id } }', "id"),
    "unknown input field": (
        'mutation { apiKeyRevoke(input: {id: "abc", reason: "leak"}) { apiKey { id } } }',
        "input.reason",
    ),
    "bad enum value": ("{ apiKeys(type: ROOT) { totalCount } }", "type"),
    "words for a DateTime": (
        'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, expiresAt: "tomorrow"}) '
        "{ secret } }",
        "input.expiresAt",
    ),
    "DateTime past year 9999 in UTC": (
        "mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, "
        'expiresAt: "9999-12-31T23:59:59-14:00"}) { secret } }',
        "input.expiresAt",
    ),
    "number for a DateTime": (
        "mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, expiresAt: 12345}) { secret } }",
        "input.expiresAt",
    ),
}


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records at ERROR or above (an internal error is logged at ERROR)."""
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("query", "variables", "field"), VARIABLE_MISTAKES.values(), ids=list(VARIABLE_MISTAKES)
)
async def test_variable_mistakes_are_bad_input_naming_the_variable(
    gql: Gql,
    make_team: MakeTeam,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    team = await make_team()
    caplog.set_level(logging.INFO)

    result = await gql(query, variables, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert result.errors[0]["extensions"]["field"] == field
    assert result.status == 200
    assert "data" not in result.body  # the request failed before execution began
    assert not errors_logged(caplog)


@pytest.mark.parametrize(("query", "field"), INLINE_MISTAKES.values(), ids=list(INLINE_MISTAKES))
async def test_inline_mistakes_are_bad_input_naming_the_argument(
    gql: Gql, make_team: MakeTeam, caplog: pytest.LogCaptureFixture, query: str, field: str
) -> None:
    team = await make_team()
    caplog.set_level(logging.INFO)

    result = await gql(query, token=team.token)

    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert result.errors[0]["extensions"]["field"] == field
    assert not errors_logged(caplog)


async def test_variable_errors_do_not_repeat_the_value(gql: Gql, make_team: MakeTeam) -> None:
    team = await make_team()

    result = await gql(CREATE, key_input(expiresAt=PASTED), token=team.token)

    assert result.codes == ["BAD_USER_INPUT"]
    assert PASTED not in str(result.body)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('mutation { apiKeyRevoke(input: {id: "' + PASTED + '"}) { apiKey { id } } }', None),
        (REVOKE, {"input": {"id": PASTED}}),
        (KEY, {"id": PASTED}),
        (CREATE, key_input(expiresAt=PASTED)),
        (CREATE, key_input(mailboxIds=[PASTED])),
        (KEYS, {"first": PASTED}),
    ],
    ids=["inline revoke", "revoke", "key", "expiry", "mailbox ids", "first"],
)
async def test_a_pasted_token_never_reaches_the_log(
    gql: Gql,
    make_team: MakeTeam,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    team = await make_team()
    caplog.set_level(logging.DEBUG)

    result = await gql(query, variables, token=team.token)

    assert set(result.codes) <= {"BAD_USER_INPUT", "NOT_FOUND"}, result.body
    assert PASTED not in caplog.text
    assert PASTED[-20:] not in caplog.text
