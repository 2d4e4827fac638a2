"""Prometheus metrics: what the hot path counts, and the `/metrics` text.

The hot path only increments counters and observes histograms (a few microseconds each,
label children bound once here where the labels are known); nothing it does queries the
database. The credential inventory is computed from the database when `/metrics` is
scraped, and rendered by `render_inventory`.

With several uvicorn workers, `mailkeys serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh
temporary directory before the workers start (prometheus_client's multiprocess mode): each
worker writes its values there, and a scrape of any worker reports the sum over all of them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import prometheus_client
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format: every name here is a legacy (underscore) name, so it is exact.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# `_created` series double every counter and say nothing an operator needs.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter(
    "mailkeys_requests",
    "Requests by operation (route, or GraphQL root field; `multiple` for several) and "
    "outcome code (OK or the first error's extensions.code).",
    ["operation", "code"],
)
REQUEST_SECONDS = Histogram(
    "mailkeys_request_duration_seconds",
    "Time from the request's arrival to its response, by operation.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


@lru_cache(maxsize=4096)
def labelled(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, remembered: `labels()` takes a lock and checks its arguments
    on every call, and every request needs the same few children. Label values here are
    always from a closed set (operations, codes, kinds, reasons), never client input."""
    return metric.labels(*values)


AUTHENTICATIONS = Counter(
    "mailkeys_authentications",
    "Authentication outcomes: success by credential kind, failure by internal reason "
    "(clients only ever see UNAUTHENTICATED).",
    ["outcome", "reason"],
)
AUTHENTICATION_SECONDS = Histogram(
    "mailkeys_authentication_duration_seconds",
    "Time to authenticate a presented credential (key lookup, and argon2 on a cache miss).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
_DECISION_SECONDS = Histogram(
    "mailkeys_decision_duration_seconds",
    "Authorization decisions by result, and how long each took.",
    ["result"],
    buckets=(1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2),
)
DECISION_ALLOWED = _DECISION_SECONDS.labels("allowed")
DECISION_DENIED = _DECISION_SECONDS.labels("denied")
_ARGON2 = Counter(
    "mailkeys_argon2_operations", "argon2id computations paid, by operation.", ["operation"]
)
ARGON2_VERIFY = _ARGON2.labels("verify")
ARGON2_HASH = _ARGON2.labels("hash")
_VERIFIED_CACHE = Counter(
    "mailkeys_verified_cache_lookups",
    "Lookups in the cache of recently verified tokens; hit ratio = hit / (hit + miss).",
    ["result"],
)
VERIFIED_CACHE_HIT = _VERIFIED_CACHE.labels("hit")
VERIFIED_CACHE_MISS = _VERIFIED_CACHE.labels("miss")
RATE_LIMIT_REJECTIONS = Counter(
    "mailkeys_rate_limit_rejections",
    "Requests refused by a rate limit: `credential` (per-key budget), `auth_failures` "
    "(failed verifications per key id), `check_failures` (failed credential checks per "
    "credential) or `anonymous` (operations without a credential per address).",
    ["limiter"],
)
OIDC_KEY_FETCHES = Counter(
    "mailkeys_oidc_key_fetches",
    "Fetches of the identity provider's signing keys (discovery + JWKS) by outcome: at start, "
    "on a token naming an unknown key id, at most once per refetch floor.",
    ["outcome"],
)
AUDIT_REFUSALS_SUPPRESSED = Counter(
    "mailkeys_audit_refusals_suppressed",
    "Refused attempts counted but not recorded one by one: a principal's refusals beyond "
    "20 a minute (per worker) are summed into one audit event.",
)
CREDENTIAL_CHECKS = Counter(
    "mailkeys_credential_checks",
    "The gateways' credential checks by protocol and answer.",
    ["protocol", "result"],
)

# How many teams hold how many credentials of a type and status; upper bound None = open.
TEAM_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"),
    (1, 10, "1-10"),
    (11, 50, "11-50"),
    (51, 100, "51-100"),
    (101, None, "101+"),
)


def bucket_of(count: int) -> str:
    """The team-count bucket a number of credentials falls in."""
    for low, high, label in TEAM_BUCKETS:
        if count >= low and (high is None or count <= high):
            return label
    raise ValueError(f"negative count {count}")


class _Families(Collector):
    """A collector that reports metric families computed beforehand."""

    def __init__(self, families: Sequence[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._families


def render_inventory(
    teams: int,
    counts: Mapping[tuple[str, str], Mapping[str, int]],
    types: Sequence[str],
    statuses: Sequence[str],
) -> bytes:
    """The credential inventory in the text format.

    Args:
        teams: how many teams exist.
        counts: per (type, status), the number of credentials of each team that has any.
        types, statuses: every type and status, so that zero series are reported too.
    """
    credentials = GaugeMetricFamily(
        "mailkeys_credentials", "Credentials by type and status.", labels=["type", "status"]
    )
    by_bucket = GaugeMetricFamily(
        "mailkeys_teams_by_credential_count",
        "Teams by how many credentials of a type and status they hold (bucket).",
        labels=["type", "status", "bucket"],
    )
    for type_ in types:
        for status in statuses:
            per_team = counts.get((type_, status), {})
            credentials.add_metric([type_, status], sum(per_team.values()))
            buckets = dict.fromkeys((label for _, _, label in TEAM_BUCKETS), 0)
            for count in per_team.values():
                if count > 0:
                    buckets[bucket_of(count)] += 1
            buckets["0"] = teams - sum(buckets.values())
            for label, value in buckets.items():
                by_bucket.add_metric([type_, status, label], value)
    team_total = GaugeMetricFamily("mailkeys_teams", "Teams.", value=teams)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([team_total, credentials, by_bucket]))
    return generate_latest(registry)


def render_live() -> bytes:
    """This process's counters and histograms, or every worker's sum in multiprocess mode."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@contextmanager
def worker_metrics(workers: int) -> Iterator[str | None]:
    """Multiprocess mode for `workers` > 1: a fresh directory for the run, removed after.

    A directory the operator set in `PROMETHEUS_MULTIPROC_DIR` is used as it is and kept.
    Set in the environment before uvicorn spawns its workers, which import
    prometheus_client afresh and so pick it up.
    """
    configured = os.environ.get(MULTIPROCESS_ENV)
    if workers <= 1 or configured:
        yield configured
        return
    directory = tempfile.mkdtemp(prefix="mailkeys-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
