"""Configuration from the environment (SPEC §8); a leaf that imports nothing of mailkeys."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

DEFAULT_DATABASE_URL = "sqlite://mailkeys.sqlite3?busy_timeout=5000"
LogFormat = Literal["auto", "json", "text"]


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _log_format(env: Mapping[str, str]) -> LogFormat:
    raw = (env.get("MAILKEYS_LOG_FORMAT") or "auto").strip().lower()
    if raw not in ("auto", "json", "text"):
        raise ValueError("MAILKEYS_LOG_FORMAT must be auto, json or text")
    return cast(LogFormat, raw)


@dataclass(frozen=True)
class Argon2Parameters:
    """Cost of hashing a secret; OWASP's minimum by default (our secrets are high-entropy)."""

    time_cost: int = 2
    memory_cost_kib: int = 19 * 1024
    parallelism: int = 1


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment; secrets never appear in repr."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "mailkeys:"
    operator_token: str | None = field(default=None, repr=False)
    gateway_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    argon2: Argon2Parameters = field(default_factory=Argon2Parameters)
    argon2_max_concurrency: int = 2
    verified_cache_seconds: int = 300
    verified_cache_size: int = 10_000
    rate_limit_infrastructure: int = 600
    rate_limit_mailbox: int = 1_800
    last_used_precision_seconds: int = 60
    check_failures_per_minute: int = 10
    auth_failures_per_minute: int = 20
    imap_host: str = "imap.mailkeys.local"
    smtp_host: str = "smtp.mailkeys.local"
    max_body_bytes: int = 64 * 1024
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2_000
    # GraphQL operations per minute per client address without a valid credential
    # (`__typename`-only documents are free); 0 allows anonymous callers only those.
    anonymous_per_minute: int = 60
    # The request line and headers together; larger requests are refused with 431.
    max_header_bytes: int = 16 * 1024
    introspection: bool = True
    graphiql: bool = True
    log_format: LogFormat = "auto"
    policy_model_path: Path | None = None
    policy_path: Path | None = None
    # Policy authoring: the table a change must not break without force, and how often each
    # worker looks for a new policy version.
    policy_table_path: Path | None = None
    policy_poll_ms: int = 250

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read `MAILKEYS_*` variables (and the common `DATABASE_URL`, `REDIS_URL`)."""
        env = os.environ if env is None else env
        model = env.get("MAILKEYS_POLICY_MODEL")
        policy = env.get("MAILKEYS_POLICY_FILE")
        table = env.get("MAILKEYS_POLICY_TABLE")
        return cls(
            database_url=_first(env, "MAILKEYS_DATABASE_URL", "DATABASE_URL")
            or DEFAULT_DATABASE_URL,
            redis_url=_first(env, "MAILKEYS_REDIS_URL", "REDIS_URL"),
            redis_prefix=env.get("MAILKEYS_REDIS_PREFIX") or "mailkeys:",
            operator_token=env.get("MAILKEYS_OPERATOR_TOKEN") or None,
            gateway_token=env.get("MAILKEYS_GATEWAY_TOKEN") or None,
            metrics_token=env.get("MAILKEYS_METRICS_TOKEN") or None,
            argon2=Argon2Parameters(
                time_cost=_int(env, "MAILKEYS_ARGON2_TIME_COST", 2),
                memory_cost_kib=_int(env, "MAILKEYS_ARGON2_MEMORY_KIB", 19 * 1024),
                parallelism=_int(env, "MAILKEYS_ARGON2_PARALLELISM", 1),
            ),
            argon2_max_concurrency=_int(env, "MAILKEYS_ARGON2_MAX_CONCURRENCY", 2),
            verified_cache_seconds=_int(env, "MAILKEYS_VERIFIED_CACHE_SECONDS", 300),
            verified_cache_size=_int(env, "MAILKEYS_VERIFIED_CACHE_SIZE", 10_000),
            rate_limit_infrastructure=_int(env, "MAILKEYS_RATE_LIMIT_INFRASTRUCTURE", 600),
            rate_limit_mailbox=_int(env, "MAILKEYS_RATE_LIMIT_MAILBOX", 1_800),
            last_used_precision_seconds=_int(env, "MAILKEYS_LAST_USED_PRECISION_SECONDS", 60),
            check_failures_per_minute=_int(env, "MAILKEYS_CHECK_FAILURES_PER_MINUTE", 10),
            auth_failures_per_minute=_int(env, "MAILKEYS_AUTH_FAILURES_PER_MINUTE", 20),
            imap_host=env.get("MAILKEYS_IMAP_HOST") or "imap.mailkeys.local",
            smtp_host=env.get("MAILKEYS_SMTP_HOST") or "smtp.mailkeys.local",
            max_body_bytes=_int(env, "MAILKEYS_MAX_BODY_BYTES", 64 * 1024),
            max_query_depth=_int(env, "MAILKEYS_MAX_QUERY_DEPTH", 10),
            max_aliases=_int(env, "MAILKEYS_MAX_ALIASES", 15),
            max_tokens=_int(env, "MAILKEYS_MAX_TOKENS", 2_000),
            anonymous_per_minute=_int(env, "MAILKEYS_ANONYMOUS_PER_MINUTE", 60),
            max_header_bytes=_int(env, "MAILKEYS_MAX_HEADER_BYTES", 16 * 1024),
            introspection=_bool(env, "MAILKEYS_INTROSPECTION", True),
            graphiql=_bool(env, "MAILKEYS_GRAPHIQL", True),
            log_format=_log_format(env),
            policy_model_path=Path(model) if model else None,
            policy_path=Path(policy) if policy else None,
            policy_table_path=Path(table) if table else None,
            policy_poll_ms=_int(env, "MAILKEYS_POLICY_POLL_MS", 250),
        )
