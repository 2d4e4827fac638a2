"""What authenticating a request yields: an actor, or why there is none (kept server-side)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailkeys.auth.ratelimit import RateDecision
from mailkeys.models.key_facts import KeyFacts
from mailkeys.models.oauth import AppTokenFacts
from mailkeys.models.person_facts import PersonFacts
from mailkeys.policy import Actor
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import note_credential


@dataclass(frozen=True, slots=True)
class TeamSummary:
    """The team a request acts in, as authentication read it (no further query)."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Authentication:
    """The outcome for one request: an actor, or why there is none (kept server-side)."""

    actor: Actor | None
    failure: str | None = None
    rate: RateDecision | None = None
    # The authenticated key or person as read for this request, so that resolvers need not
    # read them again.
    key: KeyFacts | None = None
    person: PersonFacts | None = None
    app: AppTokenFacts | None = None

    @property
    def team(self) -> TeamSummary | None:
        """The team the request acts in, as authentication read it."""
        actor = self.actor
        if actor is None or actor.team_id is None:
            return None
        if self.key is not None:
            return TeamSummary(actor.team_id, self.key.team_name, self.key.team_created_at)
        if self.app is not None:
            return TeamSummary(actor.team_id, self.app.team_name, self.app.team_created_at)
        person = self.person
        if person is not None and person.team_name and person.team_created_at:
            return TeamSummary(actor.team_id, person.team_name, person.team_created_at)
        return None

    @property
    def presented(self) -> bool:
        """True if the request carried a credential at all."""
        return self.actor is not None or self.failure != "missing"


ANONYMOUS = Authentication(actor=None, failure="missing")
UNAVAILABLE = Authentication(actor=None, failure="unavailable")


def observe(authentication: Authentication, seconds: float) -> None:
    """Count the outcome (by internal reason) and tell the request log who is asking."""
    actor = authentication.actor
    if actor is not None:
        metrics.labelled(metrics.AUTHENTICATIONS, "success", actor.kind.value).inc()
        note_credential(actor.credential_id, actor.kind.value, actor.team_id, None)
    else:
        metrics.labelled(
            metrics.AUTHENTICATIONS, "failure", authentication.failure or "unknown"
        ).inc()
        note_credential(None, None, None, authentication.failure)
    if authentication.presented:
        metrics.AUTHENTICATION_SECONDS.observe(seconds)
    if authentication.rate is not None and not authentication.rate.allowed:
        metrics.RATE_LIMIT_REJECTIONS.labels("credential").inc()
