"""Request headers are bounded like bodies: a request line and headers over
MAILKEYS_MAX_HEADER_BYTES answer 431 as a GraphQL error, through a real server's HTTP parser."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import httpx
import pytest

from mailkeys.http.edge import header_bytes
from tests.served import serve

PROBE = {"query": "{ __typename }"}


@pytest.mark.process
def test_oversized_headers_are_refused_with_431(tmp_path: Path) -> None:
    with (
        serve(tmp_path, MAILKEYS_MAX_HEADER_BYTES="4096") as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        fits = client.post("/graphql", json=PROBE, headers={"x-pad": "a" * 3_000})
        over = client.post("/graphql", json=PROBE, headers={"x-pad": "a" * 5_000})
        many = client.post(
            "/graphql", json=PROBE, headers={f"x-pad-{i}": "a" * 90 for i in range(100)}
        )
        huge = client.post("/graphql", json=PROBE, headers={"x-pad": "a" * 4_000_000})
        after = client.post("/graphql", json=PROBE)

    assert fits.status_code == after.status_code == 200
    for refused in (over, many, huge):
        assert refused.status_code == 431
        assert refused.headers["content-type"] == "application/json"
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["requestId"] == refused.headers["x-request-id"]


def test_header_bytes_count_the_request_line_and_every_header() -> None:
    scope = {
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"a=1",
        "headers": [(b"host", b"example.com"), (b"x-pad", b"abc")],
    }

    # "POST /graphql?a=1 HTTP/1.1\r\n" + "host: example.com\r\n" + "x-pad: abc\r\n"
    assert abs(header_bytes(scope) - (28 + 19 + 12)) <= 2


@pytest.mark.process
def test_an_endless_header_is_refused_while_it_arrives(tmp_path: Path) -> None:
    # The head never ends: a server that waited for it would never answer.
    with serve(tmp_path, MAILKEYS_MAX_HEADER_BYTES="4096") as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            # More than the limit, all of which the server reads (so its close is clean).
            connection.sendall(b"POST /graphql HTTP/1.1\r\nHost: mailkeys\r\nX-Pad: " + b"a" * 6000)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large"
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_application_refuses_oversized_headers_and_logs_the_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    response = await client.post("/graphql", json=PROBE, headers={"x-pad": "a" * 17_000})

    assert response.status_code == 431
    assert response.json()["errors"][0]["extensions"]["field"] == "headers"
    [line] = [r for r in caplog.records if r.name == "mailkeys.requests"]
    assert (getattr(line, "status", None), getattr(line, "code", None)) == (431, "BAD_USER_INPUT")
