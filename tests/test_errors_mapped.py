"""Everything is mapped: every domain error has a code, and every documented code is reachable."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry

import mailkeys
from mailkeys.errors import (
    ConflictError,
    InvalidInputError,
    LimitExceededError,
    MailkeysError,
    NoProviderAvailableError,
    NotFoundError,
    PermissionDeniedError,
    PolicyConfigurationError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthenticatedError,
)
from mailkeys.schema import MailkeysSchema, build_schema
from mailkeys.schema.errors import (
    CODES,
    INTERNAL,
    ErrorCode,
    code_for,
    status_wins,
)
from mailkeys.schema.execution import Limits
from tests.conftest import test_settings

# The error codes of docs/api.md: code -> HTTP status (None: the GraphQL envelope's 200)
DOCUMENTED_CODES: dict[str, int | None] = {
    "UNAUTHENTICATED": 401,
    "RATE_LIMITED": 429,
    "FORBIDDEN": None,
    "NOT_FOUND": None,
    "LIMIT_EXCEEDED": None,
    "BAD_USER_INPUT": None,
    "CONFLICT": None,
    "INTERNAL_SERVER_ERROR": None,
    # The scale-out engines' outage answer (database restarting).
    "UNAVAILABLE": 503,
}
RETRYABLE_CODES = frozenset({"RATE_LIMITED", "UNAVAILABLE"})

# One instance of each domain error, as a resolver would raise it, and the code docs/api.md gives it
SAMPLES: dict[str, tuple[MailkeysError, str]] = {
    "unauthenticated": (UnauthenticatedError(), "UNAUTHENTICATED"),
    "rate_limited": (RateLimitedError(17), "RATE_LIMITED"),
    "forbidden": (PermissionDeniedError("key.create"), "FORBIDDEN"),
    "not_found": (NotFoundError("ApiKey"), "NOT_FOUND"),
    "limit_exceeded": (LimitExceededError("credentials", 100), "LIMIT_EXCEEDED"),
    "bad_user_input": (InvalidInputError("name", "Name is too long."), "BAD_USER_INPUT"),
    "conflict": (ConflictError("The key is revoked."), "CONFLICT"),
    "unavailable": (ServiceUnavailableError(), "UNAVAILABLE"),
}
UNEXPECTED: dict[str, Exception] = {
    "runtime": RuntimeError("database exploded at /var/lib/secret"),
    "policy_configuration": PolicyConfigurationError("casbin failed to evaluate the policy"),
    "bare_domain_base": MailkeysError("a base error nobody should raise"),
    "key_error": KeyError("smx_root_secret"),
}


def _import_every_module() -> None:
    """Import the whole package, so that `__subclasses__` sees errors defined anywhere in it."""
    for module in pkgutil.walk_packages(mailkeys.__path__, prefix="mailkeys."):
        importlib.import_module(module.name)


def _all_subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _all_subclasses(sub)
    return found


def _service_classes(base: type[BaseException]) -> list[type[BaseException]]:
    _import_every_module()
    return sorted(
        (cls for cls in _all_subclasses(base) if cls.__module__.startswith("mailkeys")),
        key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
    )


DOMAIN_ERRORS = _service_classes(MailkeysError)
ALL_SERVICE_ERRORS = [
    MailkeysError,
    NoProviderAvailableError,
    *DOMAIN_ERRORS,
    PolicyConfigurationError,
    *_service_classes(PolicyConfigurationError),
]


def _name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------------------------------
# Every domain error has a code
# ---------------------------------------------------------------------------------------------


def test_discovery_finds_every_known_domain_error() -> None:
    assert {
        UnauthenticatedError,
        RateLimitedError,
        PermissionDeniedError,
        NotFoundError,
        LimitExceededError,
        InvalidInputError,
        ConflictError,
    } <= set(DOMAIN_ERRORS)


@pytest.mark.parametrize("error_class", DOMAIN_ERRORS, ids=_name)
def test_every_domain_error_has_a_code(error_class: type[MailkeysError]) -> None:
    # built without its constructor: the mapping depends on the class alone
    error = error_class.__new__(error_class)
    mapped = code_for(error)
    assert mapped is not None, f"{_name(error_class)} has no code in mailkeys.schema.errors.CODES"
    assert mapped.code in DOCUMENTED_CODES


@pytest.mark.parametrize(("name", "sample"), SAMPLES.items(), ids=list(SAMPLES))
def test_each_domain_error_has_its_spec_code(name: str, sample: tuple[MailkeysError, str]) -> None:
    error, expected = sample
    mapped = code_for(error)
    assert mapped is not None
    assert mapped.code == expected


def test_every_mapped_class_is_a_domain_error() -> None:
    for cls in CODES:
        assert issubclass(cls, MailkeysError)


def _base_codes() -> dict[type[MailkeysError], ErrorCode]:
    """The mapping of each condition itself; refinements (subclasses) may share its code."""
    return {cls: mapped for cls, mapped in CODES.items() if cls.__bases__ == (MailkeysError,)}


def test_codes_are_distinct_per_condition() -> None:
    codes = [mapped.code for mapped in _base_codes().values()]
    assert len(codes) == len(set(codes))
    assert INTERNAL.code not in codes


def test_refinements_keep_their_conditions_code() -> None:
    for cls, mapped in CODES.items():
        base = next(b for b in cls.__mro__ if b in _base_codes())
        assert mapped.code == CODES[base].code, cls


def test_code_lookup_walks_the_mro() -> None:
    class MailboxNotFoundError(NotFoundError):
        """Raised when a test needs a subclass nobody mapped."""

    mapped = code_for(MailboxNotFoundError("Mailbox"))
    assert mapped is not None
    assert mapped.code == "NOT_FOUND"


@pytest.mark.parametrize(("name", "error"), UNEXPECTED.items(), ids=list(UNEXPECTED))
def test_anything_else_has_no_domain_code(name: str, error: Exception) -> None:
    assert code_for(error) is None


def test_internal_code_is_the_spec_code() -> None:
    assert INTERNAL.code == "INTERNAL_SERVER_ERROR"
    assert not INTERNAL.retryable
    assert INTERNAL.http_status is None


# ---------------------------------------------------------------------------------------------
# Every docs/api.md code is reachable, with its status and retryability
# ---------------------------------------------------------------------------------------------


def test_every_spec_code_is_reachable() -> None:
    reachable = {mapped.code for mapped in CODES.values()} | {INTERNAL.code}
    assert reachable == set(DOCUMENTED_CODES)


@pytest.mark.parametrize("code", sorted(DOCUMENTED_CODES))
def test_http_status_and_retryable_follow_the_spec(code: str) -> None:
    candidates = [mapped for mapped in (*_base_codes().values(), INTERNAL) if mapped.code == code]
    assert candidates, code
    for mapped in candidates:
        assert mapped.http_status == DOCUMENTED_CODES[code]
        assert mapped.retryable is (code in RETRYABLE_CODES)


def test_only_rate_limits_and_an_empty_provider_pool_are_retryable() -> None:
    retryable = {cls for cls, mapped in CODES.items() if mapped.retryable}
    assert retryable == {RateLimitedError, NoProviderAvailableError, ServiceUnavailableError}
    assert not INTERNAL.retryable


def test_unauthenticated_status_wins_over_rate_limited() -> None:
    assert status_wins(None, 429)
    assert status_wins(None, 401)
    assert status_wins(429, 401)
    assert not status_wins(401, 429)
    assert not status_wins(401, 401)


# The codes as a client sees them: through the one mapping extension of a real schema


@dataclass
class FakeContext:
    """What the mapping extension reads from the request context."""

    request_id: str = "req-test-1"
    statuses: list[tuple[int, int | None]] = field(default_factory=list)

    def escalate_status(self, status: int, retry_after: int | None) -> None:
        self.statuses.append((status, retry_after))


ALL_RAISED: dict[str, Exception] = {
    **{name: error for name, (error, _) in SAMPLES.items()},
    **UNEXPECTED,
}


@strawberry.type
class Query:
    @strawberry.field
    def fail(self, name: str) -> str | None:
        # nullable, so that several failing fields in one document each report their error;
        # the shared instances start each raise with a fresh traceback
        raise ALL_RAISED[name].with_traceback(None)

    @strawberry.field
    def fine(self) -> str:
        return "ok"


SCHEMA = MailkeysSchema(query=Query, limits=Limits.of(test_settings()))


async def _run(query: str, variables: dict[str, Any] | None = None) -> tuple[Any, FakeContext]:
    context = FakeContext()
    result = await SCHEMA.execute(query, variable_values=variables, context_value=context)
    return result, context


@pytest.mark.parametrize(("name", "sample"), SAMPLES.items(), ids=list(SAMPLES))
async def test_domain_error_reaches_the_client_with_its_code(
    name: str, sample: tuple[MailkeysError, str]
) -> None:
    error, expected = sample

    result, context = await _run("query($n: String!) { fail(name: $n) }", {"n": name})

    assert result.errors is not None
    assert len(result.errors) == 1
    extensions = result.errors[0].extensions
    assert extensions["code"] == expected
    assert extensions["retryable"] is (expected in RETRYABLE_CODES)
    assert extensions["requestId"] == "req-test-1"
    status = DOCUMENTED_CODES[expected]
    if status is None:
        assert context.statuses == []
    else:
        retry_after = getattr(error, "retry_after", None)
        assert context.statuses == [(status, retry_after)]


async def test_extra_extensions_name_field_limit_and_retry_after() -> None:
    result, _ = await _run(
        '{ a: fail(name: "bad_user_input") b: fail(name: "limit_exceeded") '
        'c: fail(name: "rate_limited") }'
    )
    assert result.errors is not None
    by_path = {error.path[0]: error.extensions for error in result.errors}
    assert by_path["a"]["field"] == "name"
    assert by_path["b"]["resource"] == "credentials"
    assert by_path["b"]["limit"] == 100
    assert by_path["c"]["retryAfter"] == 17


@pytest.mark.parametrize(("name", "error"), UNEXPECTED.items(), ids=list(UNEXPECTED))
async def test_unexpected_error_is_masked_as_internal(name: str, error: Exception) -> None:
    result, context = await _run("query($n: String!) { fail(name: $n) }", {"n": name})

    assert result.errors is not None
    assert len(result.errors) == 1
    mapped = result.errors[0]
    assert mapped.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert mapped.extensions["retryable"] is False
    assert mapped.message == "Internal server error."
    assert str(error) not in mapped.message
    assert mapped.original_error is None
    assert context.statuses == []


async def test_invalid_document_is_bad_user_input() -> None:
    result, _ = await _run("{ noSuchField }")

    assert result.errors is not None
    assert [error.extensions["code"] for error in result.errors] == ["BAD_USER_INPUT"]


async def test_success_has_no_errors() -> None:
    result, context = await _run("{ fine }")

    assert result.errors is None
    assert result.data == {"fine": "ok"}
    assert context.statuses == []


# ---------------------------------------------------------------------------------------------
# Each error class says in one line when it is raised (names)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error_class", ALL_SERVICE_ERRORS, ids=_name)
def test_each_error_class_has_a_one_line_docstring(error_class: type[BaseException]) -> None:
    doc = error_class.__dict__.get("__doc__")
    assert isinstance(doc, str), f"{_name(error_class)} has no docstring of its own"
    assert doc.strip(), _name(error_class)
    assert "\n" not in doc.strip(), f"{_name(error_class)}: docstring is not one line"


@pytest.mark.parametrize(
    "error_class", [cls for cls in ALL_SERVICE_ERRORS if cls is not MailkeysError], ids=_name
)
def test_each_concrete_error_says_when_it_is_raised(error_class: type[BaseException]) -> None:
    doc = error_class.__dict__.get("__doc__")
    assert isinstance(doc, str)
    assert doc.startswith("Raised when"), f"{_name(error_class)}: {doc!r}"


@pytest.mark.parametrize("error_class", ALL_SERVICE_ERRORS, ids=_name)
def test_each_error_class_is_named_after_its_condition(error_class: type[BaseException]) -> None:
    assert error_class.__name__.endswith("Error")


async def test_our_schema_answers_a_syntax_error_with_its_code() -> None:
    schema = build_schema(test_settings())
    for _ in range(2):  # the second time the parsed text comes from the cache
        result = await schema.execute("{ viewer")
        assert result.errors is not None
        assert result.errors[0].extensions == {
            "code": "BAD_USER_INPUT",
            "retryable": False,
            "requestId": None,
        }
