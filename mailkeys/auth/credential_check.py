"""The mail gateways' question: may this secret act for this address over this protocol?

Every failure gives the same answer, whatever went wrong (unknown address, suspended
mailbox, wrong secret, revoked credential, missing permission, an address on a domain its
team does not hold); failures are counted per
address, and an address that failed too often in a minute is refused without looking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mailkeys import clock
from mailkeys.auth.budget import FailureBudget
from mailkeys.auth.keys import Authenticator
from mailkeys.auth.last_used import LastUsedRecorder
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.errors import InvalidInputError
from mailkeys.models import KeyStatus, KeyType, MailboxPassword, MailboxStatus
from mailkeys.models.domain_claims import may_use_address
from mailkeys.models.key_facts import (
    MailboxFacts,
    PasswordFacts,
    fetch_key_facts,
    fetch_mailbox_and_password,
    fetch_mailbox_by_address,
)
from mailkeys.models.keys import derive_status
from mailkeys.policy import Actor, CredentialKind, Resource, authorize, is_allowed
from mailkeys.settings import Settings
from mailkeys.telemetry import metrics
from mailkeys.tokens import MAILBOX_PREFIX, parse_token, password_id_of
from mailkeys.validation import domain_name, email_address


class CheckProtocol(StrEnum):
    """How the credential is about to be used."""

    SMTP = "smtp"
    IMAP = "imap"
    API = "api"


# The permission a protocol needs; API callers get the list and decide per call.
REQUIRED: dict[CheckProtocol, str | None] = {
    CheckProtocol.SMTP: "email.send",
    CheckProtocol.IMAP: "email.receive",
    CheckProtocol.API: None,
}


@dataclass(frozen=True)
class CheckResult:
    """The answer: allowed or not, for which mailbox, with which permissions."""

    allowed: bool
    mailbox_id: str | None = None
    permissions: tuple[str, ...] = ()


DENIED = CheckResult(allowed=False)


@dataclass(frozen=True)
class _Candidate:
    """A credential found for the address, before its secret is verified."""

    kind: CredentialKind
    credential_id: str
    secret_hash: str
    permissions: list[str]
    last_used_at: datetime | None


class CredentialChecker:
    """Answers credential checks; one per process, sharing the authenticator's cache."""

    def __init__(
        self, settings: Settings, authenticator: Authenticator, limiter: RateLimiter
    ) -> None:
        self._settings = settings
        self._authenticator = authenticator
        self._limiter = limiter
        self._shared_domain = domain_name("MAILKEYS_SHARED_DOMAIN", settings.shared_domain)
        self.password_last_used = LastUsedRecorder(
            MailboxPassword, settings.last_used_precision_seconds
        )

    async def check(
        self, actor: Actor, address: str, secret: str, protocol: CheckProtocol
    ) -> CheckResult:
        """The gateway's check; only gateways (and the operator) may ask."""
        authorize(actor, "platform.credential.check")
        try:
            address = email_address("address", address)
        except InvalidInputError:  # an unparseable address is just another failure
            return DENIED
        budget = FailureBudget(
            self._limiter,
            f"check-failures:{address}",
            self._settings.check_failures_per_minute,
            "check_failures",
        )
        if await budget.spent():
            metrics.RATE_LIMIT_REJECTIONS.labels("check_failures").inc()
            metrics.CREDENTIAL_CHECKS.labels(protocol.value, "denied").inc()
            return DENIED
        result = await self._check(address, secret, protocol, budget)
        if not result.allowed and not budget.charged:
            await budget.charge()
        metrics.CREDENTIAL_CHECKS.labels(
            protocol.value, "allowed" if result.allowed else "denied"
        ).inc()
        return result

    async def _check(
        self, address: str, secret: str, protocol: CheckProtocol, budget: FailureBudget
    ) -> CheckResult:
        now = clock.now()
        password_id = password_id_of(secret)
        if password_id is not None:  # a mailbox password: mailbox and password in one read
            mailbox, password = await fetch_mailbox_and_password(address, password_id)
            candidate = _password_candidate(mailbox, password)
        else:
            mailbox = await fetch_mailbox_by_address(address)
            candidate = await _key_candidate(mailbox, secret, now) if mailbox else None
        if mailbox is None or mailbox.status is not MailboxStatus.ACTIVE:
            return DENIED
        if candidate is None or not await self._authenticator.verifier.verify(
            secret, candidate.secret_hash, budget
        ):
            return DENIED
        holder = Actor(
            kind=candidate.kind,
            credential_id=candidate.credential_id,
            team_id=mailbox.team_id,
            permissions=frozenset(candidate.permissions),
            mailbox_ids=frozenset({mailbox.id}),
        )
        resource = Resource(team_id=mailbox.team_id, mailbox_id=mailbox.id)
        usable = tuple(sorted(p for p in candidate.permissions if is_allowed(holder, p, resource)))
        required = REQUIRED[protocol]
        if not usable or (required is not None and required not in usable):
            return DENIED
        # Asked last, once the secret matched: a guess costs no extra query.
        if not await may_use_address(mailbox.team_id, address, self._shared_domain):
            return DENIED
        recorder = (
            self.password_last_used
            if candidate.kind is CredentialKind.PASSWORD
            else self._authenticator.last_used
        )
        recorder.touch(candidate.credential_id, candidate.last_used_at, now)
        return CheckResult(allowed=True, mailbox_id=mailbox.id, permissions=usable)


async def _key_candidate(mailbox: MailboxFacts, secret: str, now: datetime) -> _Candidate | None:
    """The mailbox or sending key the token names, if it may act for `mailbox`."""
    parsed = parse_token(secret)
    if parsed is None or parsed.prefix != MAILBOX_PREFIX:
        return None
    key = await fetch_key_facts(parsed.key_id)
    if key is None or key.team_id != mailbox.team_id:
        return None
    if derive_status(now, key.revoked_at, key.expires_at, None) is not KeyStatus.ACTIVE:
        return None
    if key.type is KeyType.MAILBOX and key.mailbox_id != mailbox.id:
        return None
    if key.type is KeyType.SENDING and not (
        key.mailbox_ids is None or mailbox.id in key.mailbox_ids
    ):
        return None
    if key.type is KeyType.INFRASTRUCTURE:
        return None
    kind = CredentialKind.MAILBOX if key.type is KeyType.MAILBOX else CredentialKind.SENDING
    return _Candidate(kind, key.id, key.secret_hash, list(key.permissions), key.last_used_at)


def _password_candidate(
    mailbox: MailboxFacts | None, password: PasswordFacts | None
) -> _Candidate | None:
    """The password, if it belongs to `mailbox` and is not revoked."""
    if mailbox is None or password is None or password.revoked_at is not None:
        return None
    if password.mailbox_id != mailbox.id:
        return None
    return _Candidate(
        CredentialKind.PASSWORD,
        password.id,
        password.secret_hash,
        list(password.permissions),
        password.last_used_at,
    )
