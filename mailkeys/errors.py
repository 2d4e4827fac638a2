"""Domain errors. The schema's error extension is the only place that maps them to codes."""

from __future__ import annotations


class MailkeysError(Exception):
    """Base of every error a client may see with its own code."""


class UnauthenticatedError(MailkeysError):
    """Raised when a request has no valid credential; one error for every reason."""

    def __init__(self) -> None:
        super().__init__("Authentication required: send a valid credential as a Bearer token.")


class RateLimitedError(MailkeysError):
    """Raised when the credential's rate limit for the current window is spent."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Rate limit reached; retry after {retry_after} seconds.")
        self.retry_after = retry_after


class PermissionDeniedError(MailkeysError):
    """Raised when the policy denies an authenticated principal an operation."""

    def __init__(self, permission: str) -> None:
        super().__init__(f"This credential may not perform '{permission}'.")
        self.permission = permission


class TeamPausedError(PermissionDeniedError):
    """Raised when a member other than the owner acts in a team waiting for its deletion."""

    def __init__(self) -> None:
        MailkeysError.__init__(
            self, "The team is being deleted: only its owner may act in it (to cancel)."
        )
        self.permission = "*"


class RoleRuleError(PermissionDeniedError):
    """Raised when a change of members breaks a role rule; `rule` names it."""

    def __init__(self, rule: str, message: str) -> None:
        MailkeysError.__init__(self, message)
        self.permission = "member.update"
        self.rule = rule


class NotFoundError(MailkeysError):
    """Raised when a resource does not exist in the caller's team (or at all)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} not found.")
        self.kind = kind


class LimitExceededError(MailkeysError):
    """Raised when a team limit would be exceeded by the operation."""

    def __init__(self, resource: str, limit: int) -> None:
        super().__init__(f"Team limit reached: at most {limit} {resource}.")
        self.resource = resource
        self.limit = limit


class InvalidInputError(MailkeysError):
    """Raised when an input field is invalid; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PolicyRulesError(InvalidInputError):
    """Raised when proposed policy rules do not fit the model or vocabulary, naming each line."""

    def __init__(self, field: str, problems: list[tuple[int, str]]) -> None:
        first_line, first_reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(field, f"line {first_line}: {first_reason}{more}")
        self.problems = problems


class DecisionTableError(InvalidInputError):
    """Raised when a decision table cannot be read; names the table and the line."""

    def __init__(self, table: str, line_number: int, reason: str) -> None:
        super().__init__("decisionTable", f"{table}:{line_number}: {reason}")
        self.table = table
        self.line_number = line_number
        self.reason = reason


class ConflictError(MailkeysError):
    """Raised when the resource's current state forbids the operation."""


class InvitationStateError(ConflictError):
    """Raised when an invitation was accepted, revoked or has expired; `reason` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PolicyVersionConflictError(ConflictError):
    """Raised when the live policy version is not the one a policy change was made against."""

    def __init__(self, expected: int, live: int | None) -> None:
        super().__init__(
            f"The live policy is version {live}, not {expected}: plan the change again "
            "against the live version."
        )
        self.expected = expected
        self.live = live


class DecisionTableBrokenError(ConflictError):
    """Raised when a policy change breaks the shipped decision table and was not forced."""

    def __init__(self, mismatches: list[str]) -> None:
        super().__init__(
            f"The change breaks {len(mismatches)} expected decision(s) of the shipped table "
            f"(first: {mismatches[0]}). Pass force: true to apply it anyway."
        )
        self.mismatches = mismatches


class DependentsConflictError(ConflictError):
    """Raised when deleting a provider or group that keys route through, without `confirm`."""

    def __init__(self, key_ids: list[str]) -> None:
        super().__init__(
            f"{len(key_ids)} key(s) route through this: {', '.join(key_ids)}. Pass "
            "confirm: true to delete it and drop it from their send scope."
        )
        self.key_ids = key_ids


class NoProviderAvailableError(ConflictError):
    """Raised when no active provider is in the sender's scope; retry once one is active."""

    def __init__(self) -> None:
        super().__init__("No active providers in this key's send scope.")


class DomainRecordMissingError(ConflictError):
    """Raised when a domain's verification TXT record is not published (or holds another value)."""

    def __init__(self, record_name: str) -> None:
        super().__init__(
            f"The TXT record at {record_name} does not hold this domain's verification value "
            "yet: publish it, then verify again."
        )


class DomainUnavailableError(ConflictError):
    """Raised when a domain cannot be claimed (another team holds it); names nobody."""

    def __init__(self) -> None:
        super().__init__("This domain cannot be claimed.")


class AddressUnavailableError(ConflictError):
    """Raised when a mailbox address is already taken; says by whom to nobody."""

    def __init__(self) -> None:
        super().__init__("That address is not available.")


class SenderDomainNotVerifiedError(ConflictError):
    """Raised when a mailbox's domain is neither verified by its team nor the shared domain."""

    def __init__(self) -> None:
        super().__init__(
            "The sender's domain is not verified by this team: verify it before sending."
        )


class ServiceUnavailableError(MailkeysError):
    """Raised when the database does not answer (restart, failover); the request may be retried."""

    def __init__(self, message: str = "The service is briefly unavailable; retry shortly.") -> None:
        super().__init__(message)
        self.retry_after = 1


class DnsUnavailableError(ServiceUnavailableError):
    """Raised when the DNS resolver does not answer in time; the verification may be retried."""

    def __init__(self) -> None:
        super().__init__("The DNS resolver did not answer; retry shortly.")


class PolicyConfigurationError(Exception):
    """Raised when the Casbin model or policy cannot be loaded or evaluated (an internal fault)."""
