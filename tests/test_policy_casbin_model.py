"""The shipped model and policy decide in plain Casbin exactly as the service decides.

Policy authors try rules in their own tools (plain pycasbin, node-casbin, the Casbin online
editor), with nothing registered. So the model may call built-in functions only, and every
question the service asks must get the same answer there as from the service's snapshot.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import casbin
import pytest
from casbin.model.function import FunctionMap
from hypothesis import given
from hypothesis import strategies as st

from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.rules import parse_policy
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import (
    GATEWAY_ROLE,
    KIND_ROLES,
    OPERATOR_ROLE,
    PERMISSION_DOMAIN,
    Domain,
    is_valid_pattern,
    permission_matches,
)
from tests.nodejs import run_node_json

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_PATH = REPO_ROOT / "casbin_model.conf"
POLICY_PATH = REPO_ROOT / "casbin_policy.csv"
NODE_DECIDE = "casbin_decide.mjs"

Question = tuple[str, str, str]
Answer = tuple[bool, tuple[str, ...]]


@cache
def _service() -> PolicySnapshot:
    return build_snapshot(shipped_model_text(), shipped_policy_text(), version=1)


def _questions() -> list[Question]:
    """Every role the shipped policy mentions x every permission, in its domain and delegate."""
    roles = set()
    for line in parse_policy(POLICY_PATH.read_text()):
        roles |= set(line.values[:2] if line.ptype == "g" else line.values[:1])
    return [
        (role, permission, domain.value)
        for role in sorted(roles)
        for permission, own_domain in PERMISSION_DOMAIN.items()
        for domain in (own_domain, Domain.DELEGATE)
    ]


QUESTIONS = _questions()


def _service_answer(question: Question) -> Answer:
    role, permission, domain = question
    decision = _service().decide(role, permission, Domain(domain))
    return decision.allowed, decision.matched_rule or ()


def _plain_pycasbin(model: Path, policy: Path) -> Any:
    # Nothing registered: what a policy author gets from `pip install pycasbin`.
    return casbin.Enforcer(str(model), str(policy))


def _pycasbin_answer(enforcer: Any, request: tuple[str, ...]) -> Answer:
    allowed, rule = enforcer.enforce_ex(*request)
    return bool(allowed), tuple(rule)


def _node_answers(model: Path, policy: Path, requests: list[tuple[str, ...]]) -> list[Answer]:
    answers = run_node_json(NODE_DECIDE, [str(model), str(policy)], requests)
    errors = [
        (request, a["error"]) for request, a in zip(requests, answers, strict=True) if "error" in a
    ]
    assert errors == []
    return [(a["allowed"], tuple(a["rule"])) for a in answers]


def test_the_questions_cover_every_role_permission_and_domain_of_the_shipped_policy() -> None:
    roles = {role for role, _, _ in QUESTIONS}

    assert roles >= {*_service().presets, OPERATOR_ROLE, GATEWAY_ROLE, *KIND_ROLES.values()}
    assert len(QUESTIONS) == len(roles) * len(PERMISSION_DOMAIN) * 2
    assert sum(_service_answer(question)[0] for question in QUESTIONS) > 80


def test_plain_pycasbin_decides_every_question_as_the_service() -> None:
    enforcer = _plain_pycasbin(MODEL_PATH, POLICY_PATH)

    disagreements = [
        (question, answer, _service_answer(question))
        for question in QUESTIONS
        if (answer := _pycasbin_answer(enforcer, question)) != _service_answer(question)
    ]

    assert disagreements == []


def test_node_casbin_decides_every_question_as_the_service() -> None:
    answers = _node_answers(MODEL_PATH, POLICY_PATH, list(QUESTIONS))

    disagreements = [
        (question, answer, _service_answer(question))
        for question, answer in zip(QUESTIONS, answers, strict=True)
        if answer != _service_answer(question)
    ]
    assert disagreements == []


# ---------------------------------------------------------------------------------------------
# The requests the model file documents for the online editor answer as documented
# ---------------------------------------------------------------------------------------------

_DOCUMENTED = re.compile(r"^#\s+(\S+), (\S+), (\S+)\s+->\s+(true|false)\s*$", re.MULTILINE)


def _documented_requests() -> list[tuple[Question, bool]]:
    found = _DOCUMENTED.findall(MODEL_PATH.read_text())
    return [((sub, perm, dom), answer == "true") for sub, perm, dom, answer in found]


DOCUMENTED = _documented_requests()


def test_the_model_file_documents_example_requests_with_both_answers() -> None:
    assert {expected for _, expected in DOCUMENTED} == {True, False}
    assert (("root:readonly", "key.read", "team"), True) in DOCUMENTED


@pytest.mark.parametrize(("question", "expected"), DOCUMENTED, ids=[str(q) for q, _ in DOCUMENTED])
def test_documented_request_answers_as_documented(question: Question, expected: bool) -> None:
    enforcer = _plain_pycasbin(MODEL_PATH, POLICY_PATH)

    assert enforcer.enforce(*question) is expected
    assert _service_answer(question)[0] is expected


def test_documented_requests_answer_as_documented_in_node_casbin() -> None:
    answers = _node_answers(MODEL_PATH, POLICY_PATH, [question for question, _ in DOCUMENTED])

    assert [allowed for allowed, _ in answers] == [expected for _, expected in DOCUMENTED]


# ---------------------------------------------------------------------------------------------
# Casbin's globMatch and the validator's permission_matches agree on every pattern shape
# ---------------------------------------------------------------------------------------------

_GLOB_MATCH = FunctionMap.load_function_map().get_functions()["globMatch"]
_WORDS = sorted({word for permission in PERMISSION_DOMAIN for word in permission.split(".")})


def _groupings(segments: list[str]) -> Iterator[list[str]]:
    """Every way to cut `segments` into consecutive groups, each group joined by dots."""
    for cuts in itertools.product((False, True), repeat=len(segments) - 1):
        groups, start = [], 0
        for end, cut in enumerate(cuts, start=1):
            if cut:
                groups.append(".".join(segments[start:end]))
                start = end
        groups.append(".".join(segments[start:]))
        yield groups


def _pattern_shapes() -> list[str]:
    """Patterns of every shape the validator accepts, built from the vocabulary.

    Each permission with any run of its segments replaced by one `*` (`key.*`, `*.read`,
    `*.admin.*`, `platform.*.update`, ...), `*` repeated one to five times, and every word alone,
    with a `*` before, after or both.
    """
    shapes = set()
    for permission in PERMISSION_DOMAIN:
        for groups in _groupings(permission.split(".")):
            for stars in itertools.product((False, True), repeat=len(groups)):
                shapes.add(
                    ".".join("*" if star else g for g, star in zip(groups, stars, strict=True))
                )
    shapes |= {".".join(["*"] * n) for n in range(1, 6)}
    for word in [*_WORDS, "nothing"]:
        shapes |= {word, f"{word}.*", f"*.{word}", f"*.{word}.*"}
    return sorted(shapes)


PATTERNS = _pattern_shapes()
PAIRS = [(permission, pattern) for pattern in PATTERNS for permission in PERMISSION_DOMAIN]


def test_every_pattern_shape_is_one_the_validator_accepts() -> None:
    assert all(is_valid_pattern(pattern) for pattern in PATTERNS)
    assert len(PATTERNS) > 200
    assert sum(permission_matches(*pair) for pair in PAIRS) > 300


def test_pycasbin_glob_match_agrees_with_permission_matches_on_every_shape() -> None:
    disagreements = [pair for pair in PAIRS if _GLOB_MATCH(*pair) != permission_matches(*pair)]

    assert disagreements == []


_SEGMENT = st.sampled_from([*_WORDS, "*", "x"])


@given(st.lists(_SEGMENT, min_size=1, max_size=6).map(".".join))
def test_pycasbin_glob_match_agrees_with_permission_matches_on_any_pattern(pattern: str) -> None:
    assert is_valid_pattern(pattern)
    for permission in PERMISSION_DOMAIN:
        assert _GLOB_MATCH(permission, pattern) == permission_matches(permission, pattern)


_GLOB_ONLY_MODEL = """\
[request_definition]
r = perm, pattern

[policy_definition]
p = sub

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = globMatch(r.perm, r.pattern)
"""


def test_node_casbin_glob_match_agrees_with_permission_matches_on_every_shape(
    tmp_path: Path,
) -> None:
    # One policy line whose matcher is the built-in alone: each request asks globMatch once.
    model, policy = tmp_path / "glob.conf", tmp_path / "glob.csv"
    model.write_text(_GLOB_ONLY_MODEL)
    policy.write_text("p, anyone\n")

    answers = _node_answers(model, policy, list(PAIRS))

    disagreements = [
        pair
        for pair, (allowed, _) in zip(PAIRS, answers, strict=True)
        if allowed != permission_matches(*pair)
    ]
    assert disagreements == []
