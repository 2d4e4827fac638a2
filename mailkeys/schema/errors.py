"""The one place that turns domain errors into `extensions.code` and HTTP statuses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension

from mailkeys.errors import (
    ConflictError,
    DecisionTableBrokenError,
    DecisionTableError,
    DependentsConflictError,
    DnsUnavailableError,
    DomainRecordMissingError,
    DomainUnavailableError,
    InvalidInputError,
    InvitationStateError,
    LimitExceededError,
    MailkeysError,
    NoProviderAvailableError,
    NotFoundError,
    PermissionDeniedError,
    PolicyRulesError,
    PolicyVersionConflictError,
    RateLimitedError,
    RoleRuleError,
    SenderDomainNotVerifiedError,
    ServiceUnavailableError,
    TeamPausedError,
    UnauthenticatedError,
)
from mailkeys.outages import is_unavailable

log = logging.getLogger("mailkeys.errors")


@dataclass(frozen=True)
class ErrorCode:
    """How one kind of domain error reaches the client."""

    code: str
    retryable: bool = False
    http_status: int | None = None


CODES: dict[type[MailkeysError], ErrorCode] = {
    UnauthenticatedError: ErrorCode("UNAUTHENTICATED", http_status=401),
    RateLimitedError: ErrorCode("RATE_LIMITED", retryable=True, http_status=429),
    PermissionDeniedError: ErrorCode("FORBIDDEN"),
    NotFoundError: ErrorCode("NOT_FOUND"),
    LimitExceededError: ErrorCode("LIMIT_EXCEEDED"),
    InvalidInputError: ErrorCode("BAD_USER_INPUT"),
    ConflictError: ErrorCode("CONFLICT"),
    # The pool may refill (a provider activated): the same send can succeed later.
    NoProviderAvailableError: ErrorCode("CONFLICT", retryable=True),
    ServiceUnavailableError: ErrorCode("UNAVAILABLE", retryable=True, http_status=503),
}
INTERNAL = ErrorCode("INTERNAL_SERVER_ERROR")
INVALID_DOCUMENT = ErrorCode("BAD_USER_INPUT")
# When several errors want a status, the most fundamental wins.
_STATUS_PRECEDENCE = (503, 401, 429)


def code_for(error: BaseException) -> ErrorCode | None:
    """The code of a domain error, found along its MRO as Starlette's handlers are."""
    for cls in type(error).__mro__:
        if cls in CODES:
            return CODES[cls]
    return None


def _extra_extensions(error: MailkeysError) -> dict[str, Any]:
    if isinstance(error, PolicyRulesError):
        return {
            "field": error.field,
            "line": error.problems[0][0],
            "problems": [{"line": line, "reason": reason} for line, reason in error.problems],
        }
    if isinstance(error, DecisionTableError):
        return {"field": error.field, "table": error.table, "line": error.line_number}
    if isinstance(error, PolicyVersionConflictError):
        return {
            "reason": "POLICY_VERSION_MOVED",
            "expectedVersion": error.expected,
            "liveVersion": error.live,
        }
    if isinstance(error, DecisionTableBrokenError):
        return {
            "reason": "DECISION_TABLE_BROKEN",
            "mismatchCount": len(error.mismatches),
            "mismatches": error.mismatches[:20],
        }
    if isinstance(error, InvalidInputError):
        return {"field": error.field}
    if isinstance(error, LimitExceededError):
        return {"resource": error.resource, "limit": error.limit}
    if isinstance(error, RateLimitedError):
        return {"retryAfter": error.retry_after}
    if isinstance(error, InvitationStateError):
        return {"reason": error.reason}
    if isinstance(error, TeamPausedError):
        return {"reason": "TEAM_DELETION_PENDING"}
    if isinstance(error, RoleRuleError):
        return {"reason": "ROLE_RULE", "rule": error.rule}
    if isinstance(error, DependentsConflictError):
        return {"dependentKeyIds": error.key_ids}
    return {"reason": reason} if (reason := _REASONS.get(type(error))) else {}


# Conflicts (and outages) a client may want to tell apart without reading the message.
_REASONS: dict[type[MailkeysError], str] = {
    NoProviderAvailableError: "NO_ACTIVE_PROVIDERS",
    DomainRecordMissingError: "DNS_RECORD_NOT_FOUND",
    DomainUnavailableError: "DOMAIN_UNAVAILABLE",
    SenderDomainNotVerifiedError: "DOMAIN_NOT_VERIFIED",
    DnsUnavailableError: "DNS_UNAVAILABLE",
}


class ErrorMapping(SchemaExtension):
    """Maps domain errors to codes, masks anything else, and sets the HTTP status."""

    def on_operation(self) -> Iterator[None]:
        yield
        # Any result shape (executed, or refused while parsing/validating) carries `errors`.
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [self._map(error) for error in errors]

    def _map(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        original = error.original_error
        extensions: dict[str, Any]
        if original is None:
            # A parse or validation error of the document itself: the client's to fix.
            code, message = INVALID_DOCUMENT, error.message
            extensions = {}
        elif isinstance(original, MailkeysError) and (mapped := code_for(original)):
            code, message = mapped, str(original)
            extensions = _extra_extensions(original)
        elif is_unavailable(original):
            log.warning("database unavailable", extra={"request_id": request_id})
            unavailable = ServiceUnavailableError()
            code, message, extensions = CODES[ServiceUnavailableError], str(unavailable), {}
            original = unavailable
        else:
            log.error(
                "unexpected error in %s",
                ".".join(str(p) for p in error.path or ()),
                exc_info=(type(original), original, original.__traceback__),
                extra={"request_id": request_id},
            )
            code, message, extensions = INTERNAL, "Internal server error.", {}
        if code.http_status is not None and hasattr(context, "escalate_status"):
            retry_after = getattr(original, "retry_after", None)
            context.escalate_status(code.http_status, retry_after)
        extensions.update(code=code.code, retryable=code.retryable, requestId=request_id)
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )


def status_wins(current: int | None, candidate: int) -> bool:
    """True if `candidate` should replace the response status `current`."""
    if current is None:
        return True
    return _STATUS_PRECEDENCE.index(candidate) < _STATUS_PRECEDENCE.index(current)
