"""Every worker uses an applied policy within a second: real `mailkeys serve` processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailkeys.policy.files import shipped_policy_text
from tests.conftest import OPERATOR_TOKEN
from tests.served import migrate, serve, serve_together, sqlite_url

pytestmark = pytest.mark.process

READONLY_CREATES = shipped_policy_text() + "p, root:readonly, key.create, team\n"
LOADED = "{ policy { version loadedVersion } }"
PERMISSIONS = "{ viewer { permissions } }"


def call(base_url: str, token: str, query: str, **variables: Any) -> Any:
    """One request on a fresh connection (so that a multi-worker server may pick any worker)."""
    response = httpx.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def readonly_key(base_url: str) -> str:
    admin = call(
        base_url, OPERATOR_TOKEN, 'mutation { teamCreate(input: {name: "Acme"}) { secret } }'
    )["teamCreate"]["secret"]
    created = call(
        base_url,
        admin,
        'mutation { apiKeyCreate(input: {type: INFRASTRUCTURE, preset: "root:readonly"}) '
        "{ secret } }",
    )
    return str(created["apiKeyCreate"]["secret"])


def can_create_keys(base_url: str, token: str) -> bool:
    return "key.create" in call(base_url, token, PERMISSIONS)["viewer"]["permissions"]


def test_a_second_server_decides_with_an_applied_policy_within_a_second(tmp_path: Path) -> None:
    migrate(sqlite_url(tmp_path))  # so that both servers may start at once
    with serve_together(tmp_path, 2) as (first, second):
        # given two servers on one database, both deciding with version 1
        reader = readonly_key(first.url)
        assert call(second.url, OPERATOR_TOKEN, LOADED)["policy"]["loadedVersion"] == 1
        assert not can_create_keys(second.url, reader)

        # when the first applies version 2
        applied = call(
            first.url,
            OPERATOR_TOKEN,
            "mutation($rules: String!) { policyApply(input: {rules: $rules, expectedVersion: 1, "
            'message: "readers create keys", force: true}) { version { version } } }',
            rules=READONLY_CREATES,
        )
        returned = time.monotonic()
        assert applied["policyApply"]["version"]["version"] == 2

        # then the applying server already decides with it
        assert call(first.url, OPERATOR_TOKEN, LOADED)["policy"]["loadedVersion"] == 2
        assert can_create_keys(first.url, reader)

        # and the other one within a second, without a restart
        while not can_create_keys(second.url, reader):
            assert time.monotonic() - returned < 1.0, "the second server kept the old policy"
            time.sleep(0.02)
        took = time.monotonic() - returned
        assert call(second.url, OPERATOR_TOKEN, LOADED)["policy"] == {
            "version": 2,
            "loadedVersion": 2,
        }
        print(f"second server used version 2 after {took * 1000:.0f} ms")
        assert "policy: now using version 2" in second.output()


def test_workers_starting_together_seed_one_version_and_all_follow(tmp_path: Path) -> None:
    # both workers of the first server start at once on an empty database and seed it
    with (
        serve(tmp_path, "--workers", "2", "--allow-sqlite-workers") as pair,
        serve(tmp_path) as single,
    ):
        versions = call(single.url, OPERATOR_TOKEN, "{ policyVersions { totalCount } }")
        assert versions["policyVersions"]["totalCount"] == 1
        reader = readonly_key(pair.url)

        call(
            single.url,
            OPERATOR_TOKEN,
            "mutation($rules: String!) { policyApply(input: {rules: $rules, expectedVersion: 1, "
            'message: "readers create keys", force: true}) { version { version } } }',
            rules=READONLY_CREATES,
        )
        applied = time.monotonic()

        # fresh connections land on either worker: within a second of the change, every one
        # answers with version 2 (asked until 20 in a row do, each failure before the second
        # is up forgiven, none after it)
        in_a_row: list[dict[str, int]] = []
        while len(in_a_row) < 20:
            answer = call(pair.url, OPERATOR_TOKEN, LOADED)["policy"]
            if answer["loadedVersion"] == 2:
                in_a_row.append(answer)
                continue
            assert time.monotonic() - applied < 1.0, f"a worker kept version 1: {answer}"
            in_a_row.clear()
            time.sleep(0.02)
        assert all(can_create_keys(pair.url, reader) for _ in range(10))
