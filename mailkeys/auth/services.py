"""The per-process collaborators every request shares, built once by the app (or a command)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis

from mailkeys.auth.allowlist import IpAddress
from mailkeys.auth.authentication import Authentication
from mailkeys.auth.credential_check import CredentialChecker
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.keys import Authenticator
from mailkeys.auth.people import PersonAuthenticator, looks_like_jwt
from mailkeys.auth.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from mailkeys.auth.tags import SecretTags
from mailkeys.dns_lookup import TxtLookup
from mailkeys.models.outbox import Outbox
from mailkeys.settings import Settings
from mailkeys.tokens import SecretHasher
from mailkeys.validation import domain_name


@dataclass
class Services:
    """Long-lived collaborators, built once per process by `build_services`."""

    settings: Settings
    hasher: BoundedHasher
    authenticator: Authenticator
    checker: CredentialChecker
    limiter: RateLimiter
    # Domains: the platform's shared domain (normalised) and the TXT lookup that verifies.
    shared_domain: str
    txt_lookup: TxtLookup
    # Queued messages, committed in groups (models/outbox.py).
    outbox: Outbox = field(default_factory=Outbox)
    # People's requests (JWTs from the identity provider); None when no issuer is configured.
    people: PersonAuthenticator | None = None
    http: httpx.AsyncClient | None = None

    async def authenticate(
        self, authorization: str | None, team: str | None, client: IpAddress | None
    ) -> Authentication:
        """Who is asking: a person's JWT when people are enabled, else a key or a token.

        `team` is the team a person's request names (`X-Team-Id`); `client` is the client's
        address, which a key's allowlist must admit.
        """
        if self.people is not None and authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and looks_like_jwt(token):
                return await self.people.authenticate(token, team)
        return await self.authenticator.authenticate(authorization, client)

    async def close(self) -> None:
        """Release connections (at shutdown)."""
        await self.limiter.close()
        if self.http is not None:
            await self.http.aclose()

    async def flush_last_used(self) -> None:
        """Write the queued last-use times of keys, mailbox passwords and connected apps."""
        await self.authenticator.last_used.flush()
        await self.authenticator.apps.usage.flush()
        await self.checker.password_last_used.flush()


def build_hasher(settings: Settings) -> BoundedHasher:
    """argon2id with the configured cost, at most `argon2_max_concurrency` at once, and the
    tags under the configured pepper (or the installation's)."""
    argon2 = settings.argon2
    return BoundedHasher(
        SecretHasher(argon2.time_cost, argon2.memory_cost_kib, argon2.parallelism),
        settings.argon2_max_concurrency,
        SecretTags(settings.secret_pepper),
    )


def build_limiter(settings: Settings) -> RateLimiter:
    """Redis counters shared by every worker when configured, else this process's own."""
    local = InProcessRateLimiter()
    if not settings.redis_url:
        return local
    client = Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisRateLimiter(client, fallback=local, prefix=f"{settings.redis_prefix}rl:")


def build_services(settings: Settings) -> Services:
    """The per-process collaborators: hashing, the rate limiter and the authenticators."""
    hasher = build_hasher(settings)
    limiter = build_limiter(settings)
    authenticator = Authenticator(settings, hasher, limiter)
    http = people = None
    if settings.oidc_issuer is not None:
        http = httpx.AsyncClient(follow_redirects=False)
        people = PersonAuthenticator(settings, limiter, http)
    return Services(
        settings=settings,
        hasher=hasher,
        authenticator=authenticator,
        checker=CredentialChecker(settings, authenticator, limiter),
        limiter=limiter,
        shared_domain=domain_name("MAILKEYS_SHARED_DOMAIN", settings.shared_domain),
        txt_lookup=TxtLookup(settings.dns_nameservers, settings.dns_timeout_ms / 1000),
        people=people,
        http=http,
    )
