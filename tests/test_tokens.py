"""Token format properties (docs/credentials.md): round trips, checksums, display forms, hashing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailkeys.tokens import (
    APP_PREFIXES,
    BASE62,
    CHECKSUM_LENGTH,
    INFRASTRUCTURE_PREFIX,
    KEY_ID_LENGTH,
    MAILBOX_PREFIX,
    PREFIXES,
    SECRET_LENGTH,
    IssuedToken,
    ParsedToken,
    SecretHasher,
    checksum,
    display_form,
    is_app_token,
    issue_app_token,
    issue_token,
    parse_app_token,
    parse_token,
)

prefixes = st.sampled_from(PREFIXES)
base62_chars = st.sampled_from(BASE62)
key_ids = st.text(alphabet=BASE62, min_size=KEY_ID_LENGTH, max_size=KEY_ID_LENGTH)
secrets_ = st.text(alphabet=BASE62, min_size=SECRET_LENGTH, max_size=SECRET_LENGTH)
checksums = st.text(alphabet=BASE62, min_size=CHECKSUM_LENGTH, max_size=CHECKSUM_LENGTH)


@st.composite
def issued_tokens(draw: st.DrawFn) -> IssuedToken:
    """A freshly issued token, with a random or a drawn key id."""
    prefix = draw(prefixes)
    key_id = draw(st.none() | key_ids)
    return issue_token(prefix, key_id)


def secret_of(token: str) -> str:
    parsed = parse_token(token)
    assert parsed is not None
    return parsed.secret


# ---------------------------------------------------------------------------------------------
# Round trip and shape
# ---------------------------------------------------------------------------------------------


@given(prefix=prefixes, key_id=st.none() | key_ids)
def test_issued_token_round_trips(prefix: str, key_id: str | None) -> None:
    issued = issue_token(prefix, key_id)

    parsed = parse_token(issued.token)

    assert parsed is not None
    assert parsed.prefix == prefix
    assert parsed.key_id == issued.key_id
    if key_id is not None:
        assert parsed.key_id == key_id


@pytest.mark.parametrize("prefix", [INFRASTRUCTURE_PREFIX, MAILBOX_PREFIX])
def test_token_has_the_documented_shape(prefix: str) -> None:
    issued = issue_token(prefix)
    token = issued.token
    body_length = len(prefix) + KEY_ID_LENGTH + 1 + SECRET_LENGTH

    assert token.startswith(prefix)
    assert len(token) == body_length + CHECKSUM_LENGTH
    assert token[len(prefix) : len(prefix) + KEY_ID_LENGTH] == issued.key_id
    assert token[len(prefix) + KEY_ID_LENGTH] == "_"
    assert token[-CHECKSUM_LENGTH:] == checksum(token[:-CHECKSUM_LENGTH])
    assert set(token[len(prefix) :]) <= set(BASE62) | {"_"}


def test_prefixes_are_the_spec_prefixes() -> None:
    assert INFRASTRUCTURE_PREFIX == "smx_root_"
    assert MAILBOX_PREFIX == "smx_mbx_"


def test_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        issue_token("ghp_")


@given(issued=issued_tokens())
def test_secret_has_at_least_128_bits(issued: IssuedToken) -> None:
    secret = secret_of(issued.token)

    assert len(secret) == SECRET_LENGTH == 32
    assert set(secret) <= set(BASE62)
    assert len(secret) * math.log2(len(BASE62)) >= 128


@given(prefix=prefixes)
def test_two_issued_tokens_differ(prefix: str) -> None:
    first, second = issue_token(prefix), issue_token(prefix)

    assert first.token != second.token
    assert first.key_id != second.key_id
    assert secret_of(first.token) != secret_of(second.token)


@given(prefix=prefixes, key_id=key_ids)
def test_rotation_with_the_same_key_id_gets_a_new_secret(prefix: str, key_id: str) -> None:
    first, second = issue_token(prefix, key_id), issue_token(prefix, key_id)

    assert first.key_id == second.key_id == key_id
    assert secret_of(first.token) != secret_of(second.token)


def test_secrets_use_the_whole_alphabet() -> None:
    # 200 secrets x 32 characters: every one of the 62 characters appears (a CSPRNG over
    # the full alphabet misses one with probability about 62 * (61/62)**6400, i.e. never)
    seen = set()
    for _ in range(200):
        seen |= set(secret_of(issue_token(MAILBOX_PREFIX).token))
    assert seen == set(BASE62)


# ---------------------------------------------------------------------------------------------
# The checksum rejects any one-character change and random strings
# ---------------------------------------------------------------------------------------------


@given(issued=issued_tokens(), data=st.data())
def test_any_one_character_substitution_is_rejected(
    issued: IssuedToken, data: st.DataObject
) -> None:
    token = issued.token
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(base62_chars.filter(lambda c: c != token[position]), label="char")

    changed = token[:position] + replacement + token[position + 1 :]

    assert parse_token(changed) is None


@pytest.mark.parametrize("prefix", [INFRASTRUCTURE_PREFIX, MAILBOX_PREFIX])
def test_every_substitution_at_every_position_is_rejected(prefix: str) -> None:
    # exhaustive for one token of each prefix: every position x every other base62 character
    token = issue_token(prefix).token
    for position, original in enumerate(token):
        for replacement in BASE62:
            if replacement == original:
                continue
            changed = token[:position] + replacement + token[position + 1 :]
            assert parse_token(changed) is None, (position, replacement)


@given(issued=issued_tokens(), data=st.data())
def test_any_one_character_deletion_is_rejected(issued: IssuedToken, data: st.DataObject) -> None:
    token = issued.token
    position = data.draw(st.integers(0, len(token) - 1), label="position")

    assert parse_token(token[:position] + token[position + 1 :]) is None


@given(issued=issued_tokens(), data=st.data())
def test_any_one_character_insertion_is_rejected(issued: IssuedToken, data: st.DataObject) -> None:
    token = issued.token
    position = data.draw(st.integers(0, len(token)), label="position")
    inserted = data.draw(base62_chars | st.just("_"), label="char")

    assert parse_token(token[:position] + inserted + token[position:]) is None


@given(issued=issued_tokens(), data=st.data())
def test_swapping_two_adjacent_characters_is_rejected(
    issued: IssuedToken, data: st.DataObject
) -> None:
    token = issued.token
    position = data.draw(st.integers(0, len(token) - 2), label="position")
    if token[position] == token[position + 1]:
        return
    swapped = token[:position] + token[position + 1] + token[position] + token[position + 2 :]

    assert parse_token(swapped) is None


@given(text=st.text())
def test_random_text_is_rejected(text: str) -> None:
    assert parse_token(text) is None


@given(prefix=prefixes, key_id=key_ids, secret=secrets_, check=checksums)
def test_well_shaped_string_with_a_wrong_checksum_is_rejected(
    prefix: str, key_id: str, secret: str, check: str
) -> None:
    body = f"{prefix}{key_id}_{secret}"
    parsed = parse_token(body + check)

    if check == checksum(body):
        assert parsed is not None
    else:
        assert parsed is None


@given(issued=issued_tokens(), suffix=st.sampled_from(["\n", " ", "\t", "\x00", "."]))
def test_surrounding_characters_are_rejected(issued: IssuedToken, suffix: str) -> None:
    assert parse_token(issued.token + suffix) is None
    assert parse_token(suffix + issued.token) is None


@given(issued=issued_tokens())
def test_case_change_is_rejected(issued: IssuedToken) -> None:
    assert parse_token(issued.token.upper()) is None
    assert parse_token(issued.token.swapcase()) is None


@given(issued=issued_tokens())
def test_token_with_another_prefix_is_rejected(issued: IssuedToken) -> None:
    parsed = parse_token(issued.token)
    assert parsed is not None
    other = MAILBOX_PREFIX if parsed.prefix == INFRASTRUCTURE_PREFIX else INFRASTRUCTURE_PREFIX

    assert parse_token(other + issued.token[len(parsed.prefix) :]) is None


# ---------------------------------------------------------------------------------------------
# Display form and repr never show the secret
# ---------------------------------------------------------------------------------------------


@given(issued=issued_tokens())
def test_display_form_shows_prefix_key_id_and_last_four(issued: IssuedToken) -> None:
    parsed = parse_token(issued.token)
    assert parsed is not None

    display = display_form(issued.token)

    assert display == f"{parsed.prefix}{issued.key_id}_…{issued.token[-4:]}"
    assert issued.display == display


@given(issued=issued_tokens())
def test_display_form_never_shows_the_secret(issued: IssuedToken) -> None:
    secret = secret_of(issued.token)
    display = issued.display

    assert secret not in display
    assert issued.token not in display
    # no 8-character run of the secret survives, so it cannot be pieced together either
    assert not any(secret[i : i + 8] in display for i in range(len(secret) - 7))


@given(text=st.text().filter(lambda t: "smx_" not in t))
def test_display_form_of_a_non_token_shows_only_its_last_four(text: str) -> None:
    assert display_form(text) == f"…{text[-4:]}"


@given(issued=issued_tokens())
def test_repr_never_contains_the_secret(issued: IssuedToken) -> None:
    parsed = parse_token(issued.token)
    assert parsed is not None

    for shown in (repr(parsed), str(parsed), f"{parsed!r}", repr(issued), str(issued)):
        assert parsed.secret not in shown
        assert issued.token not in shown
    assert issued.key_id in repr(issued)
    assert parsed.key_id in repr(parsed)


@given(issued=issued_tokens())
def test_repr_in_containers_never_contains_the_secret(issued: IssuedToken) -> None:
    parsed = parse_token(issued.token)
    assert parsed is not None

    shown = repr([parsed, issued, {"token": parsed, "issued": issued}])

    assert parsed.secret not in shown


def test_parsed_token_repr_is_its_own() -> None:
    parsed = ParsedToken(prefix=MAILBOX_PREFIX, key_id="k" * 16, secret="s" * 32)
    assert "s" * 32 not in repr(parsed)


# ---------------------------------------------------------------------------------------------
# argon2id hashing, with the cheapest profile (never a fake hasher)
# ---------------------------------------------------------------------------------------------

CHEAP = SecretHasher(time_cost=1, memory_cost_kib=8, parallelism=1)


@settings(max_examples=20, deadline=None)
@given(issued=issued_tokens())
def test_hash_verify_round_trip(issued: IssuedToken) -> None:
    secret = secret_of(issued.token)

    secret_hash = CHEAP.hash(secret)

    assert secret_hash.startswith("$argon2id$")
    assert secret not in secret_hash
    assert CHEAP.verify(secret_hash, secret)


@settings(max_examples=20, deadline=None)
@given(issued=issued_tokens(), data=st.data())
def test_verify_fails_on_a_one_character_change(issued: IssuedToken, data: st.DataObject) -> None:
    secret = secret_of(issued.token)
    secret_hash = CHEAP.hash(secret)
    position = data.draw(st.integers(0, len(secret) - 1), label="position")
    replacement = data.draw(base62_chars.filter(lambda c: c != secret[position]), label="char")

    changed = secret[:position] + replacement + secret[position + 1 :]

    assert not CHEAP.verify(secret_hash, changed)
    assert not CHEAP.verify(secret_hash, secret[:-1])
    assert not CHEAP.verify(secret_hash, secret + "0")


def test_hashes_of_the_same_secret_are_salted() -> None:
    secret = secret_of(issue_token(MAILBOX_PREFIX).token)

    first, second = CHEAP.hash(secret), CHEAP.hash(secret)

    assert first != second
    assert CHEAP.verify(first, secret)
    assert CHEAP.verify(second, secret)


def test_hash_records_the_configured_parameters() -> None:
    secret_hash = CHEAP.hash("x" * 32)
    assert "m=8,t=1,p=1" in secret_hash


@pytest.mark.parametrize("garbage", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$broken"])
def test_verify_against_a_malformed_hash_is_false(garbage: str) -> None:
    assert not CHEAP.verify(garbage, "x" * 32)


@given(prefix=st.sampled_from(APP_PREFIXES), data=st.data())
def test_app_tokens_round_trip_and_are_never_keys(prefix: str, data: st.DataObject) -> None:
    issued = issue_app_token(prefix)
    parsed = parse_app_token(issued.token)
    assert parsed is not None
    assert (parsed.prefix, parsed.key_id) == (prefix, issued.key_id)
    assert is_app_token(issued.token)
    assert parse_token(issued.token) is None  # an app token never passes for a key
    position = data.draw(st.integers(min_value=len(prefix), max_value=len(issued.token) - 1))
    replacement = data.draw(st.sampled_from(BASE62).filter(lambda c: c != issued.token[position]))
    changed = issued.token[:position] + replacement + issued.token[position + 1 :]
    assert parse_app_token(changed) is None


@pytest.mark.parametrize("prefix", PREFIXES)
def test_key_tokens_are_never_app_tokens(prefix: str) -> None:
    token = issue_token(prefix).token
    assert parse_app_token(token) is None
    assert not is_app_token(token)
