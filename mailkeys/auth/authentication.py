"""What authenticating a request yields: an actor, or why there is none (kept server-side)."""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.auth.ratelimit import RateDecision
from mailkeys.models.key_facts import KeyFacts
from mailkeys.policy import Actor
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import note_credential


@dataclass(frozen=True, slots=True)
class Authentication:
    """The outcome for one request: an actor, or why there is none (kept server-side)."""

    actor: Actor | None
    failure: str | None = None
    rate: RateDecision | None = None
    # The authenticated key as read for this request, so resolvers need not read it again.
    key: KeyFacts | None = None

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
        metrics.AUTHENTICATIONS.labels("success", actor.kind.value).inc()
        note_credential(actor.credential_id, actor.kind.value, actor.team_id, None)
    else:
        metrics.AUTHENTICATIONS.labels("failure", authentication.failure or "unknown").inc()
        note_credential(None, None, None, authentication.failure)
    if authentication.presented:
        metrics.AUTHENTICATION_SECONDS.observe(seconds)
    if authentication.rate is not None and not authentication.rate.allowed:
        metrics.RATE_LIMIT_REJECTIONS.labels("credential").inc()
