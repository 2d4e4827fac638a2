"""Reading a GraphQL request from HTTP strictly: anything that is not a well-formed request
is the client's mistake, refused with BAD_USER_INPUT and the part named in `extensions.field`,
never a fault and never a bare 500.

Lone surrogates (`"\\ud800"`, which JSON may escape but Unicode text cannot hold) are refused
here, once, for the whole request: past this point every string is valid Unicode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from strawberry.http import GraphQLRequestData

from mailkeys.errors import InvalidInputError

# A JSON escape of a UTF-16 surrogate; only a body that has one needs the full search.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_REQUEST_FIELDS = {"query": str, "variables": dict, "operationName": str, "extensions": dict}


class RequestRefused(Exception):  # noqa: N818: a refusal, not an error of ours
    """A request the endpoint will not execute: the domain error that says why, and the
    HTTP status it answers with."""

    def __init__(self, error: InvalidInputError, status: int = 400) -> None:
        super().__init__(str(error))
        self.error = error
        self.status = status


def _refuse(field: str, message: str, status: int = 400) -> RequestRefused:
    return RequestRefused(InvalidInputError(field, message), status)


def read_json(raw: bytes | str, field: str = "body") -> Any:
    """The JSON value of a body (or a GET parameter), which must be UTF-8 JSON."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse(field, f"The {field} is not UTF-8 text.") from None
    else:
        text = raw
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # ValueError: bad JSON, or an int past 4300 digits
        raise _refuse(field, f"The {field} is not JSON.") from None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}.{key}", str(key)
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


def refuse_surrogates(data: Mapping[str, Any]) -> None:
    """Refuse text holding an unpaired surrogate, naming where it is (a variable's path for
    variables, else the request member)."""
    for path, text in _strings(data, "request"):
        if _SURROGATES.search(text):
            path = path.removeprefix("request.")
            field = _SURROGATES.sub("\ufffd", path.removeprefix("variables."))
            raise _refuse(field, f"'{field}' holds an unpaired surrogate: it is not Unicode text.")


def request_data(data: Any, raw: bytes | None = None) -> GraphQLRequestData:
    """The GraphQL request in a decoded body or query string, checked member by member."""
    if isinstance(data, list):
        raise _refuse("body", "Batched requests are not supported: send one operation.")
    if not isinstance(data, dict):
        raise _refuse("body", "The body must be a JSON object with a `query`.")
    for name, expected in _REQUEST_FIELDS.items():
        value = data.get(name)
        if value is not None and not isinstance(value, expected):
            kind = "a string" if expected is str else "an object"
            raise _refuse(name, f"`{name}` must be {kind} (or null).")
    if not data.get("query"):
        raise _refuse("query", "No GraphQL document: send it as `query`.")
    if raw is None or _SURROGATE_ESCAPE.search(raw):
        refuse_surrogates(data)
    return GraphQLRequestData(
        query=data["query"],
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )
