"""People's access tokens: JWTs from the platform's OpenID Connect provider, verified here.

The provider is found by discovery (`<issuer>/.well-known/openid-configuration`), its signing
keys (JWKS) are cached, and fetched again when a token names a key id (`kid`) the cache does
not hold, at most once per `MAILKEYS_OIDC_JWKS_REFETCH_SECONDS`: a key rotation at the
provider is picked up without a restart, and a flood of forged `kid`s cannot make us hammer
the provider. Verification uses joserfc (see docs/people.md for why): an allow-list of
asymmetric algorithms (never `none`, never HMAC, so a public key can never be used as an
HMAC secret), the issuer, the audience, `exp` and `nbf` with a small leeway. A token verified
once is remembered (by an HMAC of it, never the token) until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, cast

import httpx
from cachetools import TTLCache
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from mailkeys import clock
from mailkeys.telemetry import metrics

ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
_MAX_TOKEN_LENGTH = 16_384
_VERIFIED_FOR_AT_MOST = 300.0


class InvalidTokenError(Exception):
    """Raised when a presented JWT is not one of the provider's valid access tokens for us."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailableError(Exception):
    """Raised when the provider's keys are needed and cannot be fetched (retry shortly)."""


@dataclass(frozen=True, slots=True)
class PersonClaims:
    """Who a verified token is for: (issuer, subject), and the email if it is verified."""

    issuer: str
    subject: str
    email: str | None
    expires_at: float


@dataclass(frozen=True)
class OidcSettings:
    """How to reach and trust the identity provider."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
    leeway_seconds: int = 30
    refetch_floor_seconds: float = 5.0
    timeout_seconds: float = 3.0


class ProviderKeys:
    """The provider's published signing keys, by discovery, cached, refetched on demand."""

    def __init__(self, settings: OidcSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def for_kid(self, kid: str | None) -> KeySet:
        """The key set to verify a token naming `kid`, fetched again if `kid` is new."""
        keys = self._keys
        if keys is not None and _holds(keys, kid):
            return keys
        async with self._lock:  # one fetch for a burst of tokens with the same new kid
            keys = self._keys
            if keys is not None and _holds(keys, kid):
                return keys
            if clock.monotonic() - self._fetched_at >= self._refetch_floor:
                keys = await self._fetch()
            elif keys is None:  # the last fetch failed moments ago: do not ask again yet
                raise ProviderUnavailableError("the identity provider was unreachable just now")
            if not _holds(keys, kid):
                raise InvalidTokenError("unknown_kid")
            return keys

    @property
    def _refetch_floor(self) -> float:
        return self._settings.refetch_floor_seconds

    async def _fetch(self) -> KeySet:
        issuer = self._settings.issuer.rstrip("/")
        try:
            discovery = await self._json(f"{issuer}/.well-known/openid-configuration")
            if discovery.get("issuer") != self._settings.issuer:
                raise ProviderUnavailableError("discovery names another issuer")
            published = await self._json(str(discovery["jwks_uri"]))
            keys = KeySet.import_key_set(cast(KeySetSerialization, published))
        except (httpx.HTTPError, KeyError, ValueError, TypeError, JoseError) as error:
            # Counted as a fetch: a provider that is down is not asked again for every token.
            self._fetched_at = clock.monotonic()
            metrics.OIDC_KEY_FETCHES.labels("failed").inc()
            raise ProviderUnavailableError(type(error).__name__) from error
        self._keys, self._fetched_at = keys, clock.monotonic()
        metrics.OIDC_KEY_FETCHES.labels("ok").inc()
        return keys

    async def _json(self, url: str) -> dict[str, Any]:
        response = await self._http.get(url, timeout=self._settings.timeout_seconds)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        return body


def _holds(keys: KeySet, kid: str | None) -> bool:
    if kid is None:
        return len(keys.keys) == 1  # a provider with one key may leave `kid` out
    return any(key.kid == kid for key in keys.keys)


class TokenVerifier:
    """Turns a presented JWT into PersonClaims, or says why not."""

    def __init__(self, settings: OidcSettings, keys: ProviderKeys) -> None:
        self._settings = settings
        self._keys = keys
        self._cache_key = secrets.token_bytes(32)
        self._verified: TTLCache[bytes, PersonClaims] = TTLCache(
            maxsize=10_000, ttl=_VERIFIED_FOR_AT_MOST, timer=clock.monotonic
        )

    async def verify(self, token: str) -> PersonClaims:
        """The claims of a valid access token for us.

        Raises:
            InvalidTokenError: malformed, badly signed, expired, not yet valid, for another
                issuer or audience, or signed with a key or algorithm we do not accept.
            ProviderUnavailableError: the provider's keys are needed and unreachable.
        """
        fingerprint = hmac.new(self._cache_key, token.encode(), hashlib.sha256).digest()
        cached = self._verified.get(fingerprint)
        if cached is not None and cached.expires_at > clock.time():
            return cached
        claims = await self._verify(token)
        self._verified[fingerprint] = claims
        return claims

    async def _verify(self, token: str) -> PersonClaims:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidTokenError("too_long")
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError):
            raise InvalidTokenError("malformed") from None
        if header.get("alg") not in self._settings.algorithms:
            raise InvalidTokenError("algorithm_not_allowed")
        kid = header.get("kid")
        keys = await self._keys.for_kid(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=list(self._settings.algorithms))
            self._registry().validate(decoded.claims)
        except JoseError as error:
            raise InvalidTokenError(_reason(error)) from None
        return _person(decoded.claims)

    def _registry(self) -> jwt.JWTClaimsRegistry:
        settings = self._settings
        return jwt.JWTClaimsRegistry(
            now=lambda: int(clock.time()),
            leeway=settings.leeway_seconds,
            iss={"essential": True, "value": settings.issuer},
            aud={"essential": True, "value": settings.audience},
            sub={"essential": True},
            exp={"essential": True},
        )


def _reason(error: JoseError) -> str:
    """A short, bounded reason for the server log (never the token or a claim value)."""
    return type(error).__name__.removesuffix("Error").lower() or "invalid"


def _person(claims: dict[str, Any]) -> PersonClaims:
    subject, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise InvalidTokenError("bad_subject")
    if not isinstance(expires, int | float):
        raise InvalidTokenError("bad_expiry")
    email = claims.get("email")
    verified = claims.get("email_verified") is True
    return PersonClaims(
        issuer=str(claims["iss"]),
        subject=subject,
        email=email.strip().lower() if verified and isinstance(email, str) else None,
        expires_at=float(expires),
    )
