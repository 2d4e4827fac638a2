"""Property-based: whatever a client sends, valid or not, with any credential or none, the
answer is never an internal error or a 5xx, and no secret issued during the run is logged.

Operations come from `schema.graphql` through hypothesis-graphql (see `tests/fuzzing.py`),
across every root field of Query and Mutation, inline and with (often spoiled) variables, sent
to the real ASGI app with no credential, a team's Full Access key, a sending key, the operator
token or the gateway token. The log is captured at DEBUG with the levels `mailkeys serve
--log-level debug` sets, formatted as the service writes it, and searched for every token,
password and webhook secret issued during the run.

`MAILKEYS_FUZZ_EXAMPLES` sets the number of operations (CI may raise it), shared equally by
the root fields.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from tortoise.context import tortoise_test_context

from mailkeys.http.app import create_app
from mailkeys.models import MODEL_MODULES
from mailkeys.telemetry.logs import JsonFormatter, logging_config
from tests.conftest import TEST_DATABASE_URL, GqlResult
from tests.fuzzing import ROOT_FIELDS, Operation, operations
from tests.world import World, build_world, generous_settings

EXAMPLES = int(os.environ.get("MAILKEYS_FUZZ_EXAMPLES", "2000"))
_TOKEN = re.compile(r"smx_(?:root|mbx)_[A-Za-z0-9]{16}_[A-Za-z0-9]{38}")
_SECRET_FIELDS = frozenset({"secret", "password", "signingSecret"})


class _Lines(logging.Handler):
    """Every record, formatted as the service writes its log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def served_log_levels(handler: logging.Handler) -> Iterator[None]:
    """The root logger at DEBUG into `handler`, other loggers as `--log-level debug` sets them."""
    loggers = logging_config("debug")["loggers"]
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in loggers}
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name, config in loggers.items():
        logging.getLogger(name).setLevel(config["level"])
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def issued_secrets(value: Any, key: str = "") -> Iterator[str]:
    """Secrets in a response: `secret`/`password` fields, and anything shaped like a token."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from issued_secrets(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from issued_secrets(item, key)
    elif isinstance(value, str):
        if key in _SECRET_FIELDS:
            yield value
        yield from _TOKEN.findall(value)


def test_no_operation_is_an_internal_error_or_logs_a_secret() -> None:
    handler = _Lines()
    app = create_app(generous_settings())
    with served_log_levels(handler), asyncio.Runner() as runner:
        stack = AsyncExitStack()

        async def start() -> tuple[httpx.AsyncClient, World]:
            await stack.enter_async_context(
                tortoise_test_context(MODEL_MODULES, db_url=TEST_DATABASE_URL)
            )
            stack.push_async_callback(app.state.services.limiter.close)  # Redis connections
            transport = httpx.ASGITransport(app=app)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://mailkeys.test")
            )

            async def gql(query: str, variables: Any = None, token: str | None = None) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = {"query": query, "variables": variables or {}}
                response = await client.post("/graphql", json=body, headers=headers)
                return GqlResult(response.status_code, response.headers, response.json())

            return client, await build_world(gql)

        try:
            client, world = runner.run(start())
        except BaseException:
            runner.run(stack.aclose())
            raise
        secrets = set(world.secrets)
        ran: Counter[str] = Counter()
        internal: list[tuple[Operation, Any]] = []

        async def send(operation: Operation) -> httpx.Response:
            headers = {"content-type": "application/json"}
            if operation.token:
                headers["authorization"] = f"Bearer {operation.token}"
            return await client.post("/graphql", content=operation.body(), headers=headers)

        def check(operation: Operation) -> None:
            response = runner.run(send(operation))
            ran[operation.root_field] += 1
            body = response.json()
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
            if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes or None in codes:
                internal.append((operation, (response.status_code, body)))
            secrets.update(issued_secrets(body.get("data")))

        fuzz = settings(
            max_examples=max(1, EXAMPLES // len(ROOT_FIELDS)),
            deadline=None,
            database=None,
            phases=[Phase.generate],  # report every fault found, spend no time shrinking
            suppress_health_check=list(HealthCheck),
        )

        def run() -> None:
            for _, field in ROOT_FIELDS:
                strategy = operations(field, world.ids, world.secrets, world.credentials)
                fuzz(given(strategy)(lambda operation: check(operation)))()

        try:
            run()
        finally:
            runner.run(stack.aclose())

    assert not internal, f"{len(internal)} of {ran.total()} internal errors, e.g. {internal[:3]}"
    assert set(ran) == {name for _, name in ROOT_FIELDS}
    logged = "\n".join(handler.lines)
    leaked = [secret for secret in secrets if secret in logged]
    assert not leaked, f"{len(leaked)} issued secrets are in the log"
