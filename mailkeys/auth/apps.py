"""Connected apps' access tokens (`smx_app_`): token -> the connection's Actor.

The same path as keys: the offline format and checksum test, then one primary-key read of the
token joined with its connection and team (so a disconnection, a revoked token or a team
waiting for its purge holds on the very next request, on every worker), the token's peppered
tag compared in constant time (the secret is random and high-entropy: no argon2 is needed),
and the rate limit of the connection. The actor holds exactly the connection's permissions,
which the policy decides like any credential's.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from mailkeys import clock
from mailkeys.auth.authentication import Authentication
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.auth.tags import SecretTags, TagCheck
from mailkeys.models.oauth import AppTokenFacts, fetch_app_token_facts, record_connection_use
from mailkeys.policy import Actor, CredentialKind
from mailkeys.settings import Settings
from mailkeys.tokens import APP_ACCESS_PREFIX, parse_app_token


def actor_for_connection(facts: AppTokenFacts) -> Actor:
    """What decisions need to know about the connection a token belongs to."""
    mailbox_ids = facts.mailbox_ids
    return Actor(
        kind=CredentialKind.APP,
        credential_id=facts.connection_id,
        team_id=facts.team_id,
        permissions=frozenset(facts.permissions),
        mailbox_ids=None if mailbox_ids is None else frozenset(mailbox_ids),
        paused=facts.team_paused,
    )


class ConnectionUsage:
    """Requests per connection since the last flush, written in one batch (like last used)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def touch(self, connection_id: str) -> None:
        """Count one authenticated request of the connection."""
        self._counts[connection_id] += 1

    async def flush(self) -> int:
        """Write the counts and the time of last use; returns how many connections."""
        if not self._counts:
            return 0
        counts, self._counts = dict(self._counts), Counter()
        await record_connection_use(counts, clock.now())
        return len(counts)


class AppTokenAuthenticator:
    """Authenticates `smx_app_` access tokens; one per process."""

    def __init__(self, settings: Settings, tags: SecretTags, limiter: RateLimiter) -> None:
        self._settings = settings
        self._tags = tags
        self._limiter = limiter
        self.usage = ConnectionUsage()

    async def verify(self, token: str, now: datetime) -> tuple[AppTokenFacts | None, str | None]:
        """The token's facts if it is a usable access token, else None and why."""
        parsed = parse_app_token(token)
        if parsed is None or parsed.prefix != APP_ACCESS_PREFIX:
            return None, "malformed_token"
        facts = await fetch_app_token_facts(parsed.key_id)
        pepper = await self._tags.pepper()
        # Compared whether or not the token exists: an unknown id costs what a wrong one does.
        stored = facts.secret_tag if facts is not None else pepper.unmatchable
        if pepper.check(stored, token) is not TagCheck.MATCH or facts is None:
            return None, "unknown_key" if facts is None else "bad_secret"
        if not facts.usable_at(now):
            return None, "revoked" if facts.revoked or facts.connection_revoked else "expired"
        return facts, None

    async def authenticate(self, token: str) -> Authentication:
        """Authenticate one request bearing an access token (never raises for a bad one)."""
        facts, failure = await self.verify(token, clock.now())
        if facts is None:
            return Authentication(actor=None, failure=failure)
        rate = await self._limiter.hit(f"app:{facts.connection_id}", self._settings.rate_limit_app)
        self.usage.touch(facts.connection_id)
        return Authentication(actor=actor_for_connection(facts), rate=rate, app=facts)
