"""The GraphQL over HTTP specification, checked by the audit suite GraphQL servers use:
graphql-http's `auditServer` against a real `mailkeys serve`, every audit ok (no warning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nodejs import run_node_json
from tests.served import serve


@pytest.mark.process
def test_the_graphql_over_http_audit_passes_without_a_warning(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        results = run_node_json("graphql_http_audit.mjs", [f"{server.url}/graphql"], None)

    assert len(results) >= 60  # the audit ran (graphql-http 1.23 has 61 audits)
    failed = [result for result in results if result["status"] != "ok"]
    assert not failed, failed
