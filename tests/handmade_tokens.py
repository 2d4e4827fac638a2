"""Access tokens made by hand, each wrong in one way, for the tests that must refuse them.

The keys are joserfc keys; `OidcProvider` (tests/oidc.py) holds its own signing keys, so a
hand-made token can be signed exactly as the provider would sign it, and then spoiled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any, Literal, get_args

from joserfc import jwt
from joserfc.jwk import ECKey, KeyParameters, OKPKey, RSAKey

BadToken = Literal[
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "alg_none",
    "hmac_with_public_key",
    "unknown_kid",
    "forged_signature",
    "embedded_jwk",
    "tampered_payload",
]
BAD_TOKENS: tuple[BadToken, ...] = get_args(BadToken)
# The key types a provider signs with (never a shared secret).
SigningKey = RSAKey | ECKey | OKPKey
# JWT access tokens (RFC 9068) say so in their header, as oidc-provider's do.
ACCESS_TOKEN_TYPE = "at+jwt"
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


class Default(Enum):
    """`sign(kid=Default.KEY_KID)`: the signing key's own `kid` (None leaves `kid` out)."""

    KEY_KID = "the key's kid"


def new_signing_key(alg: str = "RS256") -> SigningKey:
    """A fresh private key for `alg` with a random `kid`, as a provider's JWKS holds it."""
    parameters: KeyParameters = {"kid": secrets.token_hex(8), "alg": alg, "use": "sig"}
    if alg.startswith(("RS", "PS")):
        return RSAKey.generate_key(2048, parameters=parameters, private=True)
    curves = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
    if alg in curves:
        return ECKey.generate_key(curves[alg], parameters=parameters, private=True)
    if alg == "Ed25519":
        return OKPKey.generate_key("Ed25519", parameters=parameters, private=True)
    raise ValueError(f"no key type for {alg}")


@cache
def _attackers_key(alg: str) -> SigningKey:
    """A key the provider never had (one per algorithm: RSA keys take ~0.1 s to make)."""
    return new_signing_key(alg)


def person_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    email: str,
    now: datetime | float,
    ttl_seconds: int,
) -> dict[str, Any]:
    """The claims of a person's access token issued at `now`, shaped as oidc-provider's."""
    issued = int(now.timestamp() if isinstance(now, datetime) else now)
    return {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": "mailkeys-tests",
        "scope": "openid email",
        "jti": secrets.token_urlsafe(16),
        "iat": issued,
        "exp": issued + ttl_seconds,
        "email": email,
        "email_verified": not email.startswith("unverified+"),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _header(alg: str, kid: str | None, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"alg": alg, "typ": ACCESS_TOKEN_TYPE}
    if kid is not None:
        fields["kid"] = kid
    return fields | dict(extra or {})


def sign(
    claims: Mapping[str, Any],
    *,
    key: SigningKey | bytes,
    alg: str | None = None,
    kid: str | Default | None = Default.KEY_KID,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS of `claims`.

    `key` is a joserfc private key, or raw bytes used as an HMAC secret (`alg` HS256 by
    default), which is how the "public key as HMAC secret" confusion is made. `alg="none"`
    gives an unsigned token. `header` adds or replaces header fields.
    """
    if isinstance(key, bytes):
        alg = alg or "HS256"
        fields = _header(alg, None if kid is Default.KEY_KID else kid, header)
        signing_input = f"{_b64(_json(fields))}.{_b64(_json(claims))}"
        mac = hmac.new(key, signing_input.encode("ascii"), _HMAC[alg]).digest()
        return f"{signing_input}.{_b64(mac)}"
    alg = alg or str(key.alg or "RS256")
    fields = _header(alg, key.kid if kid is Default.KEY_KID else kid, header)
    if alg == "none":
        return f"{_b64(_json(fields))}.{_b64(_json(claims))}."
    if key.alg not in (None, alg):  # joserfc holds a key to its declared alg
        key = type(key).import_key(
            {k: v for k, v in key.as_dict(private=True).items() if k != "alg"}
        )
    return jwt.encode(fields, dict(claims), key, algorithms=[alg])


def bad_token(kind: BadToken, claims: Mapping[str, Any], key: SigningKey) -> str:
    """`claims` signed by the provider's `key`, and then made wrong in the way `kind` names."""
    good = dict(claims)
    issued, lifetime = int(good["iat"]), int(good["exp"]) - int(good["iat"])
    alg = str(key.alg or "RS256")
    attacker = _attackers_key(alg)
    if kind == "expired":
        return sign({**good, "iat": issued - lifetime - 120, "exp": issued - 120}, key=key)
    if kind == "not_yet_valid":
        later = issued + int(timedelta(minutes=10).total_seconds())
        return sign({**good, "nbf": later, "exp": later + lifetime}, key=key)
    if kind == "wrong_issuer":
        return sign({**good, "iss": "http://127.0.0.1:9/not-the-issuer"}, key=key)
    if kind == "wrong_audience":
        return sign({**good, "aud": "not-mailkeys"}, key=key)
    if kind == "alg_none":
        return sign(good, key=key, alg="none")
    if kind == "hmac_with_public_key":
        pem = key.as_pem(private=False)
        return sign(good, key=pem, alg="HS256", kid=key.kid)
    if kind == "unknown_kid":
        return sign(good, key=attacker)
    if kind == "forged_signature":  # the provider's kid, someone else's key
        return sign(good, key=attacker, kid=key.kid)
    if kind == "embedded_jwk":  # a key of the token's own choosing, in its header
        return sign(good, key=attacker, header={"jwk": attacker.as_dict(private=False)})
    if kind == "tampered_payload":
        header, _, signature = sign(good, key=key).split(".")
        changed = {**good, "email": "mallory@example.com", "email_verified": True}
        return f"{header}.{_b64(_json(changed))}.{signature}"
    raise ValueError(kind)


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, read without checking anything."""
    header, payload = token.split(".")[:2]

    def decode(part: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))

    return decode(header), decode(payload)
