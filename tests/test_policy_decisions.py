"""`evaluate` explains what `authorize` decides, and denials are logged with the request id."""

from __future__ import annotations

import logging

import pytest

from mailkeys import policy
from mailkeys.errors import PermissionDeniedError
from mailkeys.policy import Actor, CredentialKind, Outcome, Resource, evaluate
from mailkeys.telemetry.logs import request_id_var

TEAM = "team_A"


def key(preset: str | None) -> Actor:
    return Actor(
        kind=CredentialKind.INFRASTRUCTURE, credential_id="key_1", team_id=TEAM, preset=preset
    )


def sending(permissions: set[str], mailboxes: set[str] | None) -> Actor:
    return Actor(
        kind=CredentialKind.SENDING,
        credential_id="key_2",
        team_id=TEAM,
        permissions=frozenset(permissions),
        mailbox_ids=None if mailboxes is None else frozenset(mailboxes),
    )


@pytest.mark.parametrize(
    ("actor", "permission", "resource", "outcome"),
    [
        (key("root:readonly"), "key.read", Resource(TEAM), Outcome.ALLOWED),
        (key("root:readonly"), "key.read", Resource("team_B"), Outcome.NOT_FOUND),
        (key(None), "key.read", Resource(TEAM), Outcome.NO_ROLE),
        (key("root:readonly"), "key.create", Resource(TEAM), Outcome.POLICY_DENIES),
        (sending({"email.send"}, None), "mailbox.read", Resource(TEAM, "m1"), Outcome.NOT_LISTED),
        (sending({"email.send"}, {"m1"}), "email.send", Resource(TEAM, "m2"), Outcome.NOT_BOUND),
        (sending({"email.send"}, {"m1"}), "email.send", Resource(TEAM, "m1"), Outcome.ALLOWED),
    ],
)
def test_evaluate_names_why(
    actor: Actor, permission: str, resource: Resource, outcome: Outcome
) -> None:
    evaluation = evaluate(actor, permission, resource)

    assert evaluation.outcome is outcome
    assert evaluation.allowed is (outcome is Outcome.ALLOWED)
    if outcome is not Outcome.NOT_FOUND:  # authorize raises NotFoundError for those
        assert policy.is_allowed(actor, permission, resource) is evaluation.allowed
    assert evaluation.policy_version == policy.current().version


def test_evaluate_carries_the_matched_rule() -> None:
    evaluation = evaluate(key("root:readonly"), "billing.read", Resource(TEAM))

    assert evaluation.role == "root:readonly"
    assert evaluation.decision.matched_rule == ("root:readonly", "*.read", "team")


def test_denial_is_logged_with_request_id_and_policy_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = request_id_var.set("req-0123456789")
    try:
        with (
            caplog.at_level(logging.INFO, logger="mailkeys.decisions"),
            pytest.raises(PermissionDeniedError),
        ):
            policy.authorize(key("root:readonly"), "key.create")
    finally:
        request_id_var.reset(token)

    [record] = [r for r in caplog.records if r.name == "mailkeys.decisions"]
    assert record.__dict__["request_id"] == "req-0123456789"
    assert record.__dict__["credential_id"] == "key_1"
    assert record.__dict__["permission"] == "key.create"
    assert record.__dict__["policy_version"] == policy.current().version
    assert record.__dict__["outcome"] == "policy_denies"
    # the message is one word; the structured log line renders the fields above
    assert record.getMessage() == "denied"


def test_allowed_decisions_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mailkeys.decisions"):
        policy.authorize(key("root:readonly"), "key.read")

    assert not [r for r in caplog.records if r.name == "mailkeys.decisions"]
