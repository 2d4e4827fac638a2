"""Requests as authlib reads them: a Starlette request's form and query, or its JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request


class Payload(OAuth2Payload):  # type: ignore[misc]
    """The request's parameters: the form body and the query string, as authlib reads them."""

    def __init__(self, query: dict[str, list[str]], form: dict[str, list[str]]) -> None:
        self._datalist: dict[str, list[str]] = {}
        for source in (query, form):
            for key, values in source.items():
                self._datalist.setdefault(key, []).extend(values)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):  # type: ignore[misc]
    """A Starlette request, already read, in authlib's terms."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: dict[str, list[str]],
        form: dict[str, list[str]],
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._args = {key: values[0] for key, values in query.items()}
        self._form = {key: values[0] for key, values in form.items()}
        self.payload = Payload(query, form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class JsonPayload:
    """A JSON request body as authlib reads it."""

    def __init__(self, data: Any) -> None:
        self.data = data


class JsonRequest(rfc6749.JsonRequest):  # type: ignore[misc]
    """A JSON request (dynamic registration) in authlib's terms."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], data: Any) -> None:
        super().__init__(method, uri, headers)
        self.payload = JsonPayload(data)
