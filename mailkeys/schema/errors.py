"""The one place that turns domain errors into `extensions.code` and HTTP statuses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, VariableDefinitionNode
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

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
from mailkeys.schema.coercion import document_field, is_about_values, variable_problems
from mailkeys.telemetry.traces import error_name, redacted_traceback

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


class ErrorMapping:
    """Maps domain errors to codes, masks anything else, and sets the HTTP status: the last
    step of every operation (`schema/execution.py`)."""

    def __init__(self, execution_context: ExecutionContext) -> None:
        self.execution_context = execution_context

    def map_all(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        """The errors as the client sees them: codes, masked faults, one per value problem."""
        mapped: list[GraphQLError] = []
        described: set[str] = set()
        for error in errors:
            definition = error.nodes[0] if error.nodes else None
            if error.path is None and isinstance(definition, VariableDefinitionNode):
                # One answer per problem in the variable's value, however graphql-core split it.
                name = definition.variable.name.value
                if name not in described:
                    described.add(name)
                    mapped += [
                        self._input_error(error, problem.message, problem.field, nodes=False)
                        for problem in variable_problems(
                            self.execution_context.schema._schema,
                            definition,
                            self.execution_context.variables,
                        )
                    ]
                continue
            mapped.append(self._map(error))
        return mapped

    def _input_error(
        self, error: GraphQLError, message: str, field: str | None, *, nodes: bool = True
    ) -> GraphQLError:
        extensions: dict[str, Any] = {} if field is None else {"field": field}
        extensions.update(
            code=INVALID_DOCUMENT.code,
            retryable=INVALID_DOCUMENT.retryable,
            requestId=getattr(self.execution_context.context, "request_id", None),
        )
        return GraphQLError(
            message=message,
            nodes=error.nodes if nodes else None,
            source=error.source,
            positions=error.positions,
            path=None,
            original_error=None,
            extensions=extensions,
        )

    def _map(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        original = error.original_error
        if original is None or is_about_values(error):
            # The document, or a value written in it: the client's to fix.
            field = document_field(error, self.execution_context.graphql_document)
            return self._input_error(error, error.message, field)
        extensions: dict[str, Any]
        if isinstance(original, MailkeysError) and (mapped := code_for(original)):
            code, message = mapped, str(original)
            extensions = _extra_extensions(original)
        elif is_unavailable(original):
            log.warning("database unavailable", extra={"request_id": request_id})
            unavailable = ServiceUnavailableError()
            code, message, extensions = CODES[ServiceUnavailableError], str(unavailable), {}
            original = unavailable
        else:
            log_unexpected(original, _field_name(error), request_id)
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


def _field_name(error: GraphQLError) -> str:
    """The schema field that failed: its name, never the client's alias for it."""
    node = error.nodes[0] if error.nodes else None
    return node.name.value if isinstance(node, FieldNode) else "(no field)"


def log_unexpected(error: BaseException, where: str, request_id: str | None) -> None:
    """Log a fault once: its type and frames, never its message (it may quote input)."""
    log.error(
        "unexpected error in %s: %s\n%s",
        where,
        error_name(error),
        redacted_traceback(error),
        extra={"request_id": request_id},
    )


def error_outside_execution(
    error: BaseException, request_id: str | None
) -> tuple[dict[str, Any], ErrorCode]:
    """An error met outside GraphQL execution (a malformed request, a spent budget, a fault):
    the one GraphQL error that says it, and the code it maps to (anything but a domain error
    is masked, like a fault inside execution)."""
    mapped = code_for(error) if isinstance(error, MailkeysError) else None
    if mapped is None or not isinstance(error, MailkeysError):
        mapped, message, extensions = INTERNAL, "Internal server error.", {}
    else:
        message, extensions = str(error), _extra_extensions(error)
    extensions.update(code=mapped.code, retryable=mapped.retryable, requestId=request_id)
    return {"message": message, "extensions": extensions}, mapped


def status_wins(current: int | None, candidate: int) -> bool:
    """True if `candidate` should replace the response status `current`."""
    if current is None:
        return True
    return _STATUS_PRECEDENCE.index(candidate) < _STATUS_PRECEDENCE.index(current)
