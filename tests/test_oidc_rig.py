"""The OpenID provider the tests use (tests/oidc.py) is what it claims: real flows, real keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError
from joserfc.jwk import JWKRegistry, RSAKey

from tests.handmade_tokens import BAD_TOKENS, BadToken, unverified_parts
from tests.oidc import (
    DASHBOARD_CLIENT_ID,
    MakeOidc,
    OidcProvider,
    subject_of,
)
from tests.oidc_login import TEST_CLIENT_ID, TEST_REDIRECT_URI, OidcFlowError

ASYMMETRIC = ("RS256", "PS256", "ES256", "Ed25519")


def first_failed_check(token: str, provider: OidcProvider, *, now: int | None = None) -> str:
    """What a correct verifier refuses `token` for ("ok" if nothing): the reference checks."""
    header, _ = unverified_parts(token)
    if header.get("alg") not in ASYMMETRIC:
        return "alg"
    published = {key["kid"]: key for key in provider.jwks()["keys"]}
    if header.get("kid") not in published:
        return "kid"
    key = JWKRegistry.import_key(published[header["kid"]])
    try:
        claims = jwt.decode(token, key, algorithms=[header["alg"]]).claims
    except BadSignatureError:
        return "signature"
    registry = jwt.JWTClaimsRegistry(
        now=now,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.audience},
        sub={"essential": True},
        exp={"essential": True},
    )
    try:
        registry.validate(claims)
    except ClaimError as error:
        return error.claim
    return "ok"


def test_discovery_names_the_issuer_and_its_keys(oidc: OidcProvider) -> None:
    discovery = oidc.discovery()

    assert oidc.issuer.startswith("http://127.0.0.1:")
    assert discovery["issuer"] == oidc.issuer
    assert discovery["jwks_uri"] == f"{oidc.issuer}/jwks"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert [key["kid"] for key in oidc.jwks()["keys"]] == [oidc.keys[0].kid]
    assert all("d" not in key for key in oidc.jwks()["keys"])  # public halves only


def test_login_gives_a_jwt_access_token_for_mailkeys(oidc: OidcProvider) -> None:
    before = int(time.time())
    token = oidc.login("Alice@Example.com")

    header, claims = unverified_parts(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in oidc.jwks()["keys"]}
    assert first_failed_check(token, oidc) == "ok"
    assert claims["iss"] == oidc.issuer
    assert claims["aud"] == "mailkeys"
    assert claims["sub"] == subject_of("alice@example.com")
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert claims["client_id"] == "mailkeys-tests"
    assert before - 1 <= claims["iat"] <= time.time() + 1
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_login_tokens_are_cached_per_person(oidc: OidcProvider) -> None:
    alice = oidc.login("alice@example.com")

    assert oidc.login("alice@example.com") == alice
    assert unverified_parts(oidc.login("bob@example.com"))[1]["email"] == "bob@example.com"
    assert subject_of("bob@example.com") != subject_of("alice@example.com")


def test_unverified_addresses_sign_in_with_email_verified_false(oidc: OidcProvider) -> None:
    _, claims = unverified_parts(oidc.login("unverified+carol@example.com"))

    assert claims["email"] == "unverified+carol@example.com"
    assert claims["email_verified"] is False


def test_the_provider_signs_in_email_addresses_only(oidc: OidcProvider) -> None:
    with pytest.raises(OidcFlowError, match="400"):
        oidc.authorization_code_flow("not-an-email")


def test_the_provider_requires_pkce(oidc: OidcProvider) -> None:
    answer = oidc.http.get(
        oidc.discovery()["authorization_endpoint"],
        params={
            "client_id": TEST_CLIENT_ID,
            "response_type": "code",
            "scope": "openid email",
            "redirect_uri": TEST_REDIRECT_URI,
            "state": "s",
        },
    )

    assert answer.is_redirect
    refusal = parse_qs(urlsplit(answer.headers["location"]).query)
    assert refusal["error"] == ["invalid_request"]
    assert "PKCE" in refusal["error_description"][0]


def test_client_credentials_tokens_name_no_person(oidc: OidcProvider) -> None:
    token = oidc.client_credentials_token()

    _, claims = unverified_parts(token)
    assert first_failed_check(token, oidc) == "ok"
    assert claims["sub"] == claims["client_id"] == "mailkeys-tests"
    assert "email" not in claims


def test_token_endpoint_allows_cors_only_from_the_dashboards_origin(oidc: OidcProvider) -> None:
    token_endpoint = oidc.discovery()["token_endpoint"]
    attempt = {"grant_type": "authorization_code", "client_id": DASHBOARD_CLIENT_ID}
    attempt |= {"code": "no-such-code", "code_verifier": "x" * 43}

    dashboard = oidc.http.post(
        token_endpoint, data=attempt, headers={"Origin": "http://127.0.0.1:8765"}
    )
    elsewhere = oidc.http.post(token_endpoint, data=attempt, headers={"Origin": "http://evil.test"})

    assert dashboard.headers["access-control-allow-origin"] == "http://127.0.0.1:8765"
    assert dashboard.json()["error"] == "invalid_grant"  # past CORS, refused for the code
    assert "access-control-allow-origin" not in elsewhere.headers
    assert elsewhere.json()["error"] == "invalid_request"


def test_rotated_keys_sign_new_logins_with_a_new_kid(oidc_private: OidcProvider) -> None:
    old_token = oidc_private.login("alice@example.com")
    old_kid = unverified_parts(old_token)[0]["kid"]
    issuer = oidc_private.issuer

    new_kid = oidc_private.rotate_keys()
    new_token = oidc_private.login("alice@example.com")

    assert new_kid != old_kid
    assert unverified_parts(new_token)[0]["kid"] == new_kid
    assert [key["kid"] for key in oidc_private.jwks()["keys"]] == [new_kid]
    assert oidc_private.issuer == issuer  # the same provider, restarted with new keys
    assert first_failed_check(new_token, oidc_private) == "ok"
    assert first_failed_check(old_token, oidc_private) == "kid"


def test_keys_can_rotate_with_the_previous_key_still_published(
    oidc_private: OidcProvider,
) -> None:
    old_token = oidc_private.login("alice@example.com")

    new_kid = oidc_private.rotate_keys(keep_previous=True)

    published = [key["kid"] for key in oidc_private.jwks()["keys"]]
    assert published == [new_kid, unverified_parts(old_token)[0]["kid"]]
    assert unverified_parts(oidc_private.login("alice@example.com"))[0]["kid"] == new_kid
    assert first_failed_check(old_token, oidc_private) == "ok"


def test_a_stopped_provider_refuses_connections_until_started(
    oidc_private: OidcProvider,
) -> None:
    issuer = oidc_private.issuer

    assert oidc_private.stop() == 0  # SIGTERM ends it cleanly
    with pytest.raises(httpx.ConnectError):
        oidc_private.http.get(f"{issuer}/jwks")
    oidc_private.start()

    assert oidc_private.discovery()["issuer"] == issuer
    assert unverified_parts(oidc_private.login("alice@example.com"))[1]["iss"] == issuer


@pytest.mark.parametrize("alg", ["PS256", "ES256", "Ed25519"])
def test_providers_can_sign_with_other_asymmetric_algorithms(make_oidc: MakeOidc, alg: str) -> None:
    provider = make_oidc(alg=alg)

    token = provider.login("alice@example.com")

    assert unverified_parts(token)[0]["alg"] == alg
    assert first_failed_check(token, provider) == "ok"
    assert first_failed_check(provider.bad_token("forged_signature"), provider) == "signature"


def test_providers_can_issue_short_lived_tokens(make_oidc: MakeOidc) -> None:
    _, claims = unverified_parts(make_oidc(access_token_ttl=60).login("alice@example.com"))

    assert claims["exp"] - claims["iat"] == 60


def test_the_sessions_provider_cannot_be_stopped_or_rotated(oidc: OidcProvider) -> None:
    with pytest.raises(RuntimeError, match="make_oidc"):
        oidc.stop()
    with pytest.raises(RuntimeError, match="make_oidc"):
        oidc.rotate_keys()
    assert oidc.running


def test_handmade_tokens_with_the_providers_key_pass_the_checks(oidc: OidcProvider) -> None:
    token = oidc.sign(oidc.claims_for("alice@example.com"))

    header, claims = unverified_parts(token)
    assert first_failed_check(token, oidc) == "ok"
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": oidc.keys[0].kid}
    assert set(claims) == set(unverified_parts(oidc.login("alice@example.com"))[1])


def test_handmade_tokens_follow_the_given_clock(oidc: OidcProvider) -> None:
    then = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    claims = oidc.claims_for("alice@example.com", now=then)
    token = oidc.bad_token("expired", now=then)

    assert claims["iat"] == int(then.timestamp())
    assert first_failed_check(oidc.sign(claims), oidc, now=int(then.timestamp())) == "ok"
    assert unverified_parts(token)[1]["exp"] < then.timestamp()
    assert oidc.claims_for("alice@example.com", now=then.timestamp())["iat"] == claims["iat"]


EXPECTED_REFUSAL: dict[BadToken, str] = {
    "expired": "exp",
    "not_yet_valid": "nbf",
    "wrong_issuer": "iss",
    "wrong_audience": "aud",
    "alg_none": "alg",
    "hmac_with_public_key": "alg",
    "unknown_kid": "kid",
    "forged_signature": "signature",
    "embedded_jwk": "kid",
    "tampered_payload": "signature",
}


def test_every_bad_token_kind_has_an_expected_refusal() -> None:
    assert set(EXPECTED_REFUSAL) == set(BAD_TOKENS)


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_handmade_bad_tokens_fail_the_check_they_name(oidc: OidcProvider, kind: BadToken) -> None:
    token = oidc.bad_token(kind)

    assert first_failed_check(token, oidc) == EXPECTED_REFUSAL[kind]


def test_bad_tokens_are_otherwise_the_persons_token(oidc: OidcProvider) -> None:
    kid = oidc.keys[0].kid
    headers: dict[str, dict[str, Any]] = {}
    claims: dict[str, dict[str, Any]] = {}
    for kind in BAD_TOKENS:
        headers[kind], claims[kind] = unverified_parts(oidc.bad_token(kind))

    assert {
        kind: c["email"] for kind, c in claims.items() if c["email"] != "alice@example.com"
    } == {"tampered_payload": "mallory@example.com"}
    assert headers["alg_none"]["alg"] == "none"
    assert oidc.bad_token("alg_none").endswith(".")  # no signature at all
    assert headers["hmac_with_public_key"] == {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    assert headers["forged_signature"]["kid"] == kid
    assert headers["tampered_payload"]["kid"] == kid
    assert headers["unknown_kid"]["kid"] != kid
    assert headers["embedded_jwk"]["jwk"]["kid"] == headers["embedded_jwk"]["kid"] != kid
    assert claims["expired"]["exp"] < time.time() < claims["not_yet_valid"]["nbf"]


def test_the_hmac_token_verifies_for_a_verifier_that_trusts_the_header(
    oidc: OidcProvider,
) -> None:
    # The attack: a verifier that takes `alg` from the token and uses the published public key
    # as the HMAC secret accepts this token. mailkeys must allow asymmetric algorithms only.
    token = oidc.bad_token("hmac_with_public_key")
    signing_input, _, signature = token.rpartition(".")
    secret = RSAKey.import_key(oidc.jwks()["keys"][0]).as_pem(private=False)

    expected = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
