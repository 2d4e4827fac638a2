"""The mail gateways' question: may this secret act for this address over this protocol?

Every failure gives the same answer, whatever went wrong (unknown address, suspended
mailbox, wrong secret, revoked credential, missing permission, a client outside the
credential's allowlist, an address on a domain its team does not hold), and takes the same
path: one statement reads the mailbox and the credential the secret names, and a wrong
secret is ruled out by its tag, without argon2, with the same work as an absent credential
costs (the tag computed and compared). A right
secret is judged for the protocol and the client's address after that. Only what its tag
cannot rule out (a row stored before tags) reaches argon2, charged to that credential's
failure budget; wrong guesses never lock the address or its other credentials out. The
reason of a denial is kept server-side, in the request log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mailkeys import clock
from mailkeys.auth.allowlist import IpAddress, admits, client_ip_input
from mailkeys.auth.apps import actor_for_connection
from mailkeys.auth.budget import FailureBudget
from mailkeys.auth.keys import Authenticator, upgrade_tag
from mailkeys.auth.last_used import LastUsedRecorder
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.errors import InvalidInputError
from mailkeys.models import ApiKey, KeyStatus, KeyType, MailboxPassword, MailboxStatus
from mailkeys.models.domain_claims import may_use_address
from mailkeys.models.key_facts import (
    KeyFacts,
    MailboxFacts,
    PasswordFacts,
    fetch_mailbox_and_key,
    fetch_mailbox_and_password,
)
from mailkeys.models.keys import derive_status
from mailkeys.policy import Actor, CredentialKind, Resource, authorize, is_allowed
from mailkeys.policy.vocabulary import PERMISSION_DOMAIN, Domain
from mailkeys.settings import Settings
from mailkeys.telemetry import metrics
from mailkeys.telemetry.logs import note_check_failure
from mailkeys.tokens import MAILBOX_PREFIX, is_app_token, parse_token, password_id_of
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
    secret_tag: str | None
    allowed_ips: list[str] | None
    permissions: list[str]
    last_used_at: datetime | None

    @property
    def model(self) -> type[ApiKey] | type[MailboxPassword]:
        """Where the credential is stored."""
        return MailboxPassword if self.kind is CredentialKind.PASSWORD else ApiKey


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
        self,
        actor: Actor,
        address: str,
        secret: str,
        protocol: CheckProtocol,
        client_ip: str | None = None,
    ) -> CheckResult:
        """The gateway's check for a mail client at `client_ip`; only gateways (and the
        operator) may ask.

        Raises:
            InvalidInputError: `client_ip` is not an IP address (field `clientIp`).
        """
        authorize(actor, "platform.credential.check")
        client = client_ip_input("clientIp", client_ip)
        result, failure = await self._check(address, secret, protocol, client)
        note_check_failure(failure)
        outcome = "allowed" if result.allowed else "denied"
        metrics.labelled(metrics.CREDENTIAL_CHECKS, protocol.value, outcome).inc()
        return result

    async def _check(
        self, address: str, secret: str, protocol: CheckProtocol, client: IpAddress | None
    ) -> tuple[CheckResult, str | None]:
        try:
            address = email_address("address", address)
        except InvalidInputError:  # an unparseable address is just another failure
            return DENIED, "malformed_address"
        if is_app_token(secret):
            return await self._check_app(address, secret, protocol)
        mailbox, candidate, failure = await _find_candidate(address, secret, clock.now())
        verifier = self._authenticator.verifier
        # Everything that needs no secret was judged while finding the candidate; its secret
        # is judged next, for every failure alike: an absent credential costs what a wrong
        # secret costs, and a right secret that may not do this costs nothing to a guesser.
        if mailbox is None or candidate is None:
            await verifier.refuse_absent(secret)
            return DENIED, failure
        budget = FailureBudget(
            self._limiter,
            f"check-failures:{candidate.kind.value}:{candidate.credential_id}",
            self._settings.check_failures_per_minute,
            "check_failures",
        )
        verification = await verifier.verify(
            secret, candidate.secret_hash, candidate.secret_tag, budget
        )
        if not verification.ok:
            return DENIED, "bad_secret"
        await upgrade_tag(
            candidate.model,
            candidate.credential_id,
            candidate.secret_hash,
            candidate.secret_tag,
            verification,
        )
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
            return DENIED, "missing_permission"
        if not admits(candidate.allowed_ips, client):
            return DENIED, "ip_not_allowed"
        # Asked last, once the secret matched: a guess costs no extra query.
        if not await may_use_address(mailbox.team_id, address, self._shared_domain):
            return DENIED, "address_not_usable"
        recorder = (
            self.password_last_used
            if candidate.kind is CredentialKind.PASSWORD
            else self._authenticator.last_used
        )
        recorder.touch(candidate.credential_id, candidate.last_used_at, clock.now())
        return CheckResult(allowed=True, mailbox_id=mailbox.id, permissions=usable), None

    async def _check_app(
        self, address: str, token: str, protocol: CheckProtocol
    ) -> tuple[CheckResult, str | None]:
        """A connected app's access token: its Mailbox and Sending lines, on its mailbox set.

        The token is judged first (by its tag: no argon2 to spend on guesses), then the
        mailbox, as a key's would be."""
        apps = self._authenticator.apps
        facts, failure = await apps.verify(token, clock.now())
        if facts is None:
            return DENIED, failure
        mailbox, _ = await fetch_mailbox_and_password(address, "")
        if mailbox is None:
            return DENIED, "unknown_address"
        if mailbox.status is not MailboxStatus.ACTIVE:
            return DENIED, "suspended"
        if mailbox.team_paused or facts.team_paused:
            return DENIED, "team_paused"
        holder = actor_for_connection(facts)
        resource = Resource(team_id=mailbox.team_id, mailbox_id=mailbox.id)
        usable = tuple(
            sorted(
                permission
                for permission in facts.permissions
                if PERMISSION_DOMAIN[permission] is Domain.MAILBOX
                and is_allowed(holder, permission, resource)
            )
        )
        required = REQUIRED[protocol]
        if not usable or (required is not None and required not in usable):
            return DENIED, "missing_permission"
        if not await may_use_address(mailbox.team_id, address, self._shared_domain):
            return DENIED, "address_not_usable"
        apps.usage.touch(facts.connection_id)
        return CheckResult(allowed=True, mailbox_id=mailbox.id, permissions=usable), None


async def _find_candidate(
    address: str, secret: str, now: datetime
) -> tuple[MailboxFacts | None, _Candidate | None, str | None]:
    """The mailbox and the credential the secret names, in one statement, or why not.

    A secret shaped like neither a password nor a mailbox key still costs the statement
    (with an id that names nothing), so its answer takes as long as any other's.
    """
    password_id = password_id_of(secret)
    if password_id is not None:
        mailbox, password = await fetch_mailbox_and_password(address, password_id)
        candidate, failure = _password_candidate(password)
    else:
        parsed = parse_token(secret)
        key_id = parsed.key_id if parsed is not None and parsed.prefix == MAILBOX_PREFIX else ""
        mailbox, key = await fetch_mailbox_and_key(address, key_id)
        candidate, failure = _key_candidate(mailbox, key, now) if mailbox else (None, None)
    if mailbox is None:
        return None, None, "unknown_address"
    if mailbox.status is not MailboxStatus.ACTIVE:
        return None, None, "suspended"
    if mailbox.team_paused:
        return None, None, "team_paused"
    return mailbox, candidate, failure


def _key_candidate(
    mailbox: MailboxFacts, key: KeyFacts | None, now: datetime
) -> tuple[_Candidate | None, str | None]:
    """The mailbox or sending key the token names, if it may act for `mailbox`."""
    if key is None:
        return None, "unknown_credential"
    if key.team_id != mailbox.team_id or key.type is KeyType.INFRASTRUCTURE:
        return None, "other_mailbox"
    status = derive_status(now, key.revoked_at, key.expires_at, None)
    if status is not KeyStatus.ACTIVE:
        return None, status.value
    if key.type is KeyType.MAILBOX and key.mailbox_id != mailbox.id:
        return None, "other_mailbox"
    if key.type is KeyType.SENDING and not (
        key.mailbox_ids is None or mailbox.id in key.mailbox_ids
    ):
        return None, "other_mailbox"
    kind = CredentialKind.MAILBOX if key.type is KeyType.MAILBOX else CredentialKind.SENDING
    candidate = _Candidate(
        kind,
        key.id,
        key.secret_hash,
        key.secret_tag,
        key.allowed_ips,
        list(key.permissions),
        key.last_used_at,
    )
    return candidate, None


def _password_candidate(password: PasswordFacts | None) -> tuple[_Candidate | None, str | None]:
    """The password, if it is not revoked (the statement found it only on its own mailbox)."""
    if password is None:
        return None, "unknown_credential"
    if password.revoked_at is not None:
        return None, "revoked"
    candidate = _Candidate(
        CredentialKind.PASSWORD,
        password.id,
        password.secret_hash,
        password.secret_tag,
        password.allowed_ips,
        list(password.permissions),
        password.last_used_at,
    )
    return candidate, None
