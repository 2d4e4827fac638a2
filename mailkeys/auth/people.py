"""People's requests: a verified access token and the team the request names -> one Actor.

The token says who the person is; the `X-Team-Id` header says which team they act in. Their
role there is read from storage on every request (one indexed statement), so a membership
change holds on the next request on every worker. A person who names a team they are not a
member of is an outsider to it: it answers exactly as a team that does not exist. While a
team waits for its purge, every member but the owner is paused.
"""

from __future__ import annotations

import time

import httpx

from mailkeys import clock
from mailkeys.auth.authentication import Authentication, observe
from mailkeys.auth.oidc import (
    InvalidTokenError,
    OidcSettings,
    ProviderKeys,
    ProviderUnavailableError,
    TokenVerifier,
)
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.models import MemberRole
from mailkeys.models.person_facts import (
    PersonFacts,
    fetch_person_facts,
    note_email,
    remember_person,
)
from mailkeys.policy import Actor, CredentialKind
from mailkeys.policy.vocabulary import member_role_name
from mailkeys.settings import Settings
from mailkeys.validation import is_resource_id

IDP_UNAVAILABLE = Authentication(actor=None, failure="idp_unavailable")


def looks_like_jwt(token: str) -> bool:
    """Three base64url segments: a person's access token, not a key or a configured token."""
    return token.count(".") == 2 and token.startswith("eyJ")


class PersonAuthenticator:
    """Authenticates people's requests; one per process, when an issuer is configured."""

    def __init__(self, settings: Settings, limiter: RateLimiter, http: httpx.AsyncClient) -> None:
        if settings.oidc_issuer is None:
            raise ValueError("people need MAILKEYS_OIDC_ISSUER")
        oidc = OidcSettings(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            leeway_seconds=settings.oidc_leeway_seconds,
            refetch_floor_seconds=settings.oidc_jwks_refetch_seconds,
        )
        self._settings = settings
        self._limiter = limiter
        self.verifier = TokenVerifier(oidc, ProviderKeys(oidc, http))

    async def authenticate(self, token: str, team_header: str | None) -> Authentication:
        """Authenticate one person's request; never raises for a bad token or an outage."""
        started = time.perf_counter()
        authentication = await self._authenticate(token, team_header)
        observe(authentication, time.perf_counter() - started)
        return authentication

    async def _authenticate(self, token: str, team_header: str | None) -> Authentication:
        try:
            claims = await self.verifier.verify(token)
        except InvalidTokenError as error:
            return Authentication(actor=None, failure=f"jwt_{error.reason}")
        except ProviderUnavailableError:
            return IDP_UNAVAILABLE
        team_id = team_header if team_header and is_resource_id(team_header) else None
        facts = await fetch_person_facts(claims.issuer, claims.subject, team_id)
        if facts is None:
            person = await remember_person(claims.issuer, claims.subject, claims.email)
            facts = PersonFacts(person.id, claims.email, role=None, team_deleting=False)
        elif facts.email != claims.email:
            await note_email(facts.id, claims.email, clock.now())
        person_id, role = facts.id, facts.role
        rate = await self._limiter.hit(f"person:{person_id}", self._settings.rate_limit_person)
        actor = Actor(
            kind=CredentialKind.PERSON,
            credential_id=person_id,
            team_id=team_id if role is not None else None,
            team_role=member_role_name(role) if role is not None else None,
            email=claims.email,
            outsider=team_header is not None and role is None,
            paused=facts.team_deleting and role is not MemberRole.OWNER,
        )
        return Authentication(actor=actor, rate=rate, person=facts)
