"""The mail gateways' question: may this secret act for this address over this protocol?

Every failure gives the same answer, whatever went wrong (unknown address, suspended
mailbox, wrong secret, revoked credential, missing permission); failures are counted per
address, and an address that failed too often in a minute is refused without looking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from mailkeys import metrics
from mailkeys.errors import InvalidInputError
from mailkeys.models import ApiKey, KeyStatus, KeyType, Mailbox, MailboxPassword, MailboxStatus
from mailkeys.policy import Actor, CredentialKind, Resource, authorize, is_allowed
from mailkeys.ratelimit import RateLimiter
from mailkeys.resolvers.authentication import Authenticator, LastUsedRecorder
from mailkeys.resolvers.validation import email_address
from mailkeys.settings import Settings
from mailkeys.tokens import MAILBOX_PREFIX, parse_token, password_id_of


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
        budget = _FailureBudget(self._limiter, address, self._settings.check_failures_per_minute)
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
        self, address: str, secret: str, protocol: CheckProtocol, budget: _FailureBudget
    ) -> CheckResult:
        mailbox = await Mailbox.filter(address=address).first()
        if mailbox is None or mailbox.status is not MailboxStatus.ACTIVE:
            return DENIED
        now = datetime.now(UTC)
        candidate = await _find_candidate(mailbox, secret, now)
        if candidate is None or not await self._verify(secret, candidate.secret_hash, budget):
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
        recorder = (
            self.password_last_used
            if candidate.kind is CredentialKind.PASSWORD
            else self._authenticator.last_used
        )
        recorder.touch(candidate.credential_id, candidate.last_used_at, now)
        return CheckResult(allowed=True, mailbox_id=mailbox.id, permissions=usable)

    async def _verify(self, secret: str, secret_hash: str, budget: _FailureBudget) -> bool:
        """Verify the secret; a guess (anything not verified recently) is paid for up front.

        Reserving a failure before argon2 runs means guesses arriving at once cannot all
        pass the gate before the first failure is counted; a right secret gives the slot
        back, and a recently verified one never touches the budget.
        """
        if self._authenticator.recently_verified(secret, secret_hash):
            return True
        if not await budget.charge():
            metrics.RATE_LIMIT_REJECTIONS.labels("check_failures").inc()
            return False
        ok = await self._authenticator.verify(secret, secret_hash)
        if ok:
            await budget.refund()
        return ok


class _FailureBudget:
    """Failed checks allowed per address per minute, shared by every worker."""

    def __init__(self, limiter: RateLimiter, address: str, per_minute: int) -> None:
        self._limiter = limiter
        self._key = f"check-failures:{address}"
        self._per_minute = per_minute
        self.charged = False

    async def spent(self) -> bool:
        return await self._limiter.exceeded(self._key, self._per_minute)

    async def charge(self) -> bool:
        """Count one failure; False if the budget was already spent."""
        self.charged = True
        return (await self._limiter.hit(self._key, self._per_minute)).allowed

    async def refund(self) -> None:
        self.charged = False
        await self._limiter.release(self._key)


async def _find_candidate(mailbox: Mailbox, secret: str, now: datetime) -> _Candidate | None:
    """The one credential the secret names (by its public id), if it may act for `mailbox`."""
    parsed = parse_token(secret)
    if parsed is not None:
        if parsed.prefix != MAILBOX_PREFIX:
            return None
        key = await ApiKey.filter(id=parsed.key_id, team_id=mailbox.team_id).first()
        if key is None or key.status_at(now, None) is not KeyStatus.ACTIVE:
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
    password_id = password_id_of(secret)
    if password_id is None:
        return None
    row = await MailboxPassword.filter(id=password_id, mailbox_id=mailbox.id).first()
    if row is None or row.revoked_at is not None:
        return None
    return _Candidate(
        CredentialKind.PASSWORD, row.id, row.secret_hash, list(row.permissions), row.last_used_at
    )
