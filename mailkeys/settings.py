"""Configuration from the environment; a leaf that imports nothing of mailkeys."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

DEFAULT_DATABASE_URL = "sqlite://mailkeys.sqlite3?busy_timeout=5000"
# Documentation-only (RFC 2606), so it can never be somebody's real domain: set
# MAILKEYS_SHARED_DOMAIN to the platform's own shared domain in production.
DEFAULT_SHARED_DOMAIN = "mailkeys.example"
LogFormat = Literal["auto", "json", "text"]


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


class SettingsError(ValueError):
    """Raised when a configuration variable has a value the service cannot run with."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list; blanks dropped."""
    return tuple(part.strip() for part in (env.get(name) or "").split(",") if part.strip())


# A pepper shorter than this is a password, not a key; generate one with
# `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.
MIN_PEPPER_LENGTH = 32
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _pepper(env: Mapping[str, str]) -> str | None:
    raw = env.get("MAILKEYS_SECRET_PEPPER") or None
    if raw is not None and len(raw) < MIN_PEPPER_LENGTH:
        raise ValueError(f"MAILKEYS_SECRET_PEPPER must be at least {MIN_PEPPER_LENGTH} characters")
    return raw


def parse_networks(name: str, raw: str | None) -> tuple[IpNetwork, ...]:
    """A comma-separated list of addresses and CIDR networks (host bits must be zero)."""
    networks = []
    for entry in (raw or "").split(","):
        if not entry.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{name}: {entry.strip()!r} is not an address or network") from exc
    return tuple(networks)


def _log_format(env: Mapping[str, str]) -> LogFormat:
    raw = (env.get("MAILKEYS_LOG_FORMAT") or "auto").strip().lower()
    if raw not in ("auto", "json", "text"):
        raise SettingsError(f"MAILKEYS_LOG_FORMAT must be auto, json or text, got {raw!r}")
    return cast(LogFormat, raw)


@dataclass(frozen=True)
class Argon2Parameters:
    """Cost of hashing a secret; OWASP's minimum by default (our secrets are high-entropy)."""

    time_cost: int = 2
    memory_cost_kib: int = 19 * 1024
    parallelism: int = 1


def _argon2(env: Mapping[str, str]) -> Argon2Parameters:
    # argon2 itself refuses less (only when a secret is hashed): say so at startup instead.
    parallelism = _int(env, "MAILKEYS_ARGON2_PARALLELISM", 1, minimum=1)
    return Argon2Parameters(
        time_cost=_int(env, "MAILKEYS_ARGON2_TIME_COST", 2, minimum=1),
        memory_cost_kib=_int(env, "MAILKEYS_ARGON2_MEMORY_KIB", 19 * 1024, minimum=8 * parallelism),
        parallelism=parallelism,
    )


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment; secrets never appear in repr."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "mailkeys:"
    operator_token: str | None = field(default=None, repr=False)
    gateway_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    # The key of the HMAC tags stored beside argon2 hashes; unset: a random value created
    # once in the database (see docs/security-credentials.md).
    secret_pepper: str | None = field(default=None, repr=False)
    # Peers whose X-Forwarded-For is believed; by default none (the peer is the client).
    trusted_proxies: tuple[IpNetwork, ...] = ()
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
    # People: the OpenID Connect provider whose access tokens people present (unset: keys
    # only), the audience those tokens must name, and the browser origins allowed by CORS.
    oidc_issuer: str | None = None
    oidc_audience: str = "mailkeys"
    oidc_leeway_seconds: int = 30
    oidc_jwks_refetch_seconds: int = 5
    # The consent page signs people in at the provider as this client (authorization code
    # with PKCE; the secret only for a confidential client), returning to /oauth/callback.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()
    rate_limit_person: int = 1_200
    # Connected apps (OAuth): requests per minute per connection, the lifetimes of access
    # tokens and authorization codes, the consent page's session, and the public base URL
    # that the metadata names (unset: the URL the request came to).
    rate_limit_app: int = 600
    oauth_access_token_seconds: int = 900
    oauth_code_seconds: int = 60
    oauth_session_seconds: int = 600
    public_url: str | None = None
    # The consent page's cookie is Secure unless set false (default: true, except for a
    # public URL on http://localhost or 127.0.0.1, where browsers would drop it).
    cookie_secure: bool | None = None
    # Dynamic client registrations (RFC 7591) per minute per client address.
    oauth_registrations_per_minute: int = 10
    # How often each worker removes teams whose deletion grace has ended.
    purge_interval_seconds: int = 600
    # Mailboxes live on a domain their team verified, or on this one (first come, first served).
    shared_domain: str = DEFAULT_SHARED_DOMAIN
    # Where domain verification asks for TXT records (`host[:port]`); empty: the system's.
    dns_nameservers: tuple[str, ...] = ()
    dns_timeout_ms: int = 3_000

    def secure_cookies(self, base_url: str) -> bool:
        """Whether the consent page's cookie is Secure (see `cookie_secure`)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        url = self.public_url or base_url
        return not url.startswith(("http://localhost", "http://127.0.0.1"))

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
            secret_pepper=_pepper(env),
            trusted_proxies=parse_networks(
                "MAILKEYS_TRUSTED_PROXIES", env.get("MAILKEYS_TRUSTED_PROXIES")
            ),
            argon2=_argon2(env),
            argon2_max_concurrency=_int(env, "MAILKEYS_ARGON2_MAX_CONCURRENCY", 2, minimum=1),
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
            oidc_issuer=env.get("MAILKEYS_OIDC_ISSUER") or None,
            oidc_audience=env.get("MAILKEYS_OIDC_AUDIENCE") or "mailkeys",
            oidc_leeway_seconds=_int(env, "MAILKEYS_OIDC_LEEWAY_SECONDS", 30),
            oidc_jwks_refetch_seconds=_int(env, "MAILKEYS_OIDC_JWKS_REFETCH_SECONDS", 5),
            oidc_client_id=env.get("MAILKEYS_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("MAILKEYS_OIDC_CLIENT_SECRET") or None,
            cors_origins=_list(env, "MAILKEYS_CORS_ORIGINS"),
            rate_limit_person=_int(env, "MAILKEYS_RATE_LIMIT_PERSON", 1_200),
            rate_limit_app=_int(env, "MAILKEYS_RATE_LIMIT_APP", 600),
            oauth_access_token_seconds=_int(env, "MAILKEYS_OAUTH_ACCESS_TOKEN_SECONDS", 900, 1),
            oauth_code_seconds=_int(env, "MAILKEYS_OAUTH_CODE_SECONDS", 60, 1),
            oauth_session_seconds=_int(env, "MAILKEYS_OAUTH_SESSION_SECONDS", 600, 1),
            public_url=(env.get("MAILKEYS_PUBLIC_URL") or "").rstrip("/") or None,
            cookie_secure=(
                _bool(env, "MAILKEYS_COOKIE_SECURE", True)
                if env.get("MAILKEYS_COOKIE_SECURE")
                else None
            ),
            oauth_registrations_per_minute=_int(env, "MAILKEYS_OAUTH_REGISTRATIONS_PER_MINUTE", 10),
            purge_interval_seconds=_int(env, "MAILKEYS_PURGE_INTERVAL_SECONDS", 600),
            shared_domain=env.get("MAILKEYS_SHARED_DOMAIN") or DEFAULT_SHARED_DOMAIN,
            dns_nameservers=_list(env, "MAILKEYS_DNS_NAMESERVERS"),
            dns_timeout_ms=_int(env, "MAILKEYS_DNS_TIMEOUT_MS", 3_000),
        )
