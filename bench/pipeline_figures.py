"""The figures bench.pipeline measures: each request, what it is a ratio of, and its target."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load import LoadResult, Request
from bench.pipeline_servers import GATEWAY_TOKEN, SEND, TYPENAME, VIEWER, Baseline, Credentials

# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One row of the table: what is loaded, and the row its ratio divides by."""

    key: str
    label: str
    request: Request
    baseline: str | None = None
    target: float | None = None
    p99_target_ms: float | None = None
    # The server process answering it (its CPU time per request is reported too).
    pid: int = 0


@dataclass
class Measured:
    """Every round of one figure; the better one is reported."""

    rounds: list[LoadResult] = field(default_factory=list)
    # The server's CPU time per answered request, each round: steadier than a rate on a
    # machine that does other work meanwhile.
    cpu_us: list[float] = field(default_factory=list)

    @property
    def best(self) -> LoadResult:
        """The round with the highest rate."""
        return max(self.rounds, key=lambda r: r.rate)


def _json_request(url: str, body: object, expected: str, token: str | None) -> Request:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Request(url, json.dumps(body, separators=(",", ":")), headers, expected)


def _expected(request: Request) -> str:
    """The body the request's answer has (sent twice: the second answer must equal the first)."""
    with httpx.Client(timeout=30) as client:
        answers = [
            client.post(request.url, content=request.body, headers=request.headers)
            for _ in range(2)
        ]
    for answer in answers:
        if answer.status_code != 200 or b'"errors"' in answer.content:
            raise RuntimeError(f"{request.url}: {answer.status_code} {answer.text[:300]}")
    if answers[0].text != answers[1].text:
        raise RuntimeError(f"{request.url} answers differently each time: {answers[0].text}")
    return answers[0].text


def _fixed(request: Request) -> Request:
    return Request(request.url, request.body, request.headers, _expected(request))


def _email(sender: str) -> dict[str, Any]:
    return {"from": sender, "to": ["rcpt@example.net"], "subject": "Hello", "text": "Hi there"}


def _send_request(url: str, token: str, sender: str) -> Request:
    """emailSend: every answer names a new message, so only its shape is compared."""
    request = _json_request(
        f"{url}/graphql", {"query": SEND, "variables": {"input": _email(sender)}}, "", token
    )
    with httpx.Client(timeout=30) as client:
        answer = client.post(request.url, content=request.body, headers=request.headers).json()
    if answer.get("errors") or answer["data"]["emailSend"]["message"]["status"] != "queued":
        raise RuntimeError(f"emailSend failed: {answer}")
    return Request(
        request.url, request.body, request.headers, '"status":"queued"', match="contains"
    )


# What each mailkeys row is a ratio of, as the targets put it (`viewer` of the same server).
RATIO_OF = {
    "typename": "strawberry",
    "viewer": "strawberry",
    "send": "viewer",
    "check": "starlette",
}
TARGETS = {"typename": 0.85, "viewer": 0.6, "send": 0.5, "check": 0.4}


def mailkeys_figures(
    url: str, credentials: Credentials, suffix: str = "", pid: int = 0
) -> list[Figure]:
    """The mailkeys rows for one server; `suffix` names its engine and workers in the table.

    The targets hold on the embedded default (no suffix); elsewhere the ratios are reported,
    and the PostgreSQL viewer is measured against the SQLite one.
    """
    graphql = f"{url}/graphql"
    check = {"address": credentials.sender, "secret": credentials.password, "protocol": "SMTP"}
    requests = {
        "typename": _fixed(_json_request(graphql, {"query": TYPENAME}, "", None)),
        "viewer": _fixed(_json_request(graphql, {"query": VIEWER}, "", credentials.infrastructure)),
        "send": _send_request(url, credentials.sending, credentials.sender),
        "check": _fixed(_json_request(f"{url}/v1/credentials/check", check, "", GATEWAY_TOKEN)),
    }
    labels = {
        "typename": "mailkeys { __typename }, no credential",
        "viewer": "mailkeys viewer with a key",
        "send": "mailkeys emailSend, sending key",
        "check": "mailkeys POST /v1/credentials/check",
    }
    figures = []
    for name, request in requests.items():
        baseline = RATIO_OF[name] + (suffix if name == "send" else "")
        target = TARGETS[name] if not suffix else None
        if suffix and name == "viewer":
            baseline, target = "viewer", 0.85
        figures.append(
            Figure(
                name + suffix,
                labels[name] + suffix,
                request,
                baseline,
                target,
                50.0 if name == "send" and not suffix else None,
                pid,
            )
        )
    return figures


def baseline_figures(starlette: Baseline, strawberry: Baseline) -> list[Figure]:
    """The two baselines' rows."""
    return [
        Figure(
            "starlette",
            "bare Starlette JSON route",
            _fixed(_json_request(f"{starlette.url}/json", {"a": 1}, "", None)),
            pid=starlette.pid,
        ),
        Figure(
            "strawberry",
            "bare Strawberry { __typename }, ParserCache + ValidationCache",
            _fixed(_json_request(f"{strawberry.url}/graphql", {"query": TYPENAME}, "", None)),
            "starlette",
            pid=strawberry.pid,
        ),
    ]
