"""Token format, identifiers, and argon2id hashing of secrets (docs/credentials.md).

A key token reads `smx_root_<key id>_<secret><checksum>`:

- `smx_root_` (infrastructure keys) or `smx_mbx_` (sending and mailbox keys);
- a public key id of 16 base62 characters, which is how the key row is found;
- a secret of 32 base62 characters from the OS CSPRNG (about 190 bits);
- a checksum of 6 base62 characters: CRC32 of everything before it, as GitHub tokens do,
  so that a scanner (and our own hot path) rejects a mistyped or random string offline.

Connected apps' tokens have the same shape under their own prefixes: `smx_app_` (access
tokens) and `smx_apr_` (refresh tokens).
"""

from __future__ import annotations

import hmac
import re
import secrets
import zlib
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
INFRASTRUCTURE_PREFIX: Final = "smx_root_"
MAILBOX_PREFIX: Final = "smx_mbx_"
PREFIXES: Final = (INFRASTRUCTURE_PREFIX, MAILBOX_PREFIX)
APP_ACCESS_PREFIX: Final = "smx_app_"
APP_REFRESH_PREFIX: Final = "smx_apr_"
APP_PREFIXES: Final = (APP_ACCESS_PREFIX, APP_REFRESH_PREFIX)
KEY_ID_LENGTH: Final = 16
SECRET_LENGTH: Final = 32
CHECKSUM_LENGTH: Final = 6
_TOKEN_RE: Final = re.compile(
    r"(smx_root_|smx_mbx_)([0-9A-Za-z]{16})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})"
)
_APP_TOKEN_RE: Final = re.compile(
    r"(smx_app_|smx_apr_)([0-9A-Za-z]{16})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})"
)


def random_base62(length: int) -> str:
    """Return `length` characters drawn uniformly from the CSPRNG."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_id(prefix: str) -> str:
    """Return a fresh public identifier such as `team_4fZ...` (16 base62 characters)."""
    return f"{prefix}_{random_base62(KEY_ID_LENGTH)}"


def encode_base62(number: int, width: int) -> str:
    """Encode a non-negative integer in base62, left-padded with zeros to `width`."""
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, BASE62[0])


def checksum(body: str) -> str:
    """CRC32 of the token body in six base62 characters (62**6 > 2**32)."""
    return encode_base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


@dataclass(frozen=True)
class ParsedToken:
    """The parts of a well-formed key token whose checksum matched."""

    prefix: str
    key_id: str
    secret: str = ""

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        return f"ParsedToken(prefix={self.prefix!r}, key_id={self.key_id!r})"


@dataclass(frozen=True)
class IssuedToken:
    """A freshly generated token: shown once, then only its hash and display form are kept."""

    token: str
    key_id: str

    def __repr__(self) -> str:
        return f"IssuedToken(key_id={self.key_id!r})"

    @property
    def display(self) -> str:
        """The display form: prefix, key id and the last 4 characters."""
        return display_form(self.token)


def issue_token(prefix: str, key_id: str | None = None) -> IssuedToken:
    """Generate a token with `prefix` for a new (or given) key id."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown token prefix {prefix!r}")
    key_id = key_id or random_base62(KEY_ID_LENGTH)
    body = f"{prefix}{key_id}_{random_base62(SECRET_LENGTH)}"
    return IssuedToken(token=body + checksum(body), key_id=key_id)


def issue_app_token(prefix: str) -> IssuedToken:
    """Generate a connected app's access (`smx_app_`) or refresh (`smx_apr_`) token."""
    if prefix not in APP_PREFIXES:
        raise ValueError(f"unknown app token prefix {prefix!r}")
    key_id = random_base62(KEY_ID_LENGTH)
    body = f"{prefix}{key_id}_{random_base62(SECRET_LENGTH)}"
    return IssuedToken(token=body + checksum(body), key_id=key_id)


def parse_token(token: str) -> ParsedToken | None:
    """Split a token into its parts, or return None if it is malformed or its checksum is wrong.

    Pure CPU work: a token refused here never costs a database query.
    """
    return _parse(_TOKEN_RE, token)


def parse_app_token(token: str) -> ParsedToken | None:
    """`parse_token` for connected apps' access and refresh tokens."""
    return _parse(_APP_TOKEN_RE, token)


def is_app_token(token: str) -> bool:
    """True if `token` carries a connected app's prefix (checked further by parsing)."""
    return token.startswith(APP_PREFIXES)


def _parse(pattern: re.Pattern[str], token: str) -> ParsedToken | None:
    match = pattern.fullmatch(token)
    if match is None:
        return None
    prefix, key_id, secret, check = match.groups()
    if not hmac.compare_digest(checksum(token[:-CHECKSUM_LENGTH]), check):
        return None
    return ParsedToken(prefix=prefix, key_id=key_id, secret=secret)


PASSWORD_ID_LENGTH: Final = 10
PASSWORD_SECRET_LENGTH: Final = 30
_PASSWORD_RE: Final = re.compile(r"[0-9A-Za-z]{40}")


@dataclass(frozen=True)
class IssuedPassword:
    """A mailbox password: 40 base62 characters, the first 10 of which are its public id.

    The id lets the check find one row and verify one hash instead of trying every
    password of the mailbox; the other 30 characters are the secret (about 178 bits).
    """

    password: str
    password_id: str

    def __repr__(self) -> str:
        return f"IssuedPassword(password_id={self.password_id!r})"


def issue_password() -> IssuedPassword:
    """Generate a mailbox password."""
    password = random_base62(PASSWORD_ID_LENGTH + PASSWORD_SECRET_LENGTH)
    return IssuedPassword(password=password, password_id=password[:PASSWORD_ID_LENGTH])


def password_id_of(secret: str) -> str | None:
    """The public id of something shaped like a mailbox password, else None."""
    if _PASSWORD_RE.fullmatch(secret) is None:
        return None
    return secret[:PASSWORD_ID_LENGTH]


def display_form(token: str) -> str:
    """`smx_root_<key id>_…<last 4>`: enough to recognise a key, useless to an attacker."""
    parsed = _TOKEN_RE.fullmatch(token)
    if parsed is None:
        return f"…{token[-4:]}"
    return f"{parsed.group(1)}{parsed.group(2)}_…{token[-4:]}"


class SecretHasher:
    """argon2id hashing and verification of secrets; CPU-bound, so callers use a thread."""

    def __init__(self, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )

    def hash(self, secret: str) -> str:
        """Return the argon2id hash string of `secret`."""
        return self._hasher.hash(secret)

    def verify(self, secret_hash: str, secret: str) -> bool:
        """True if `secret` matches `secret_hash` (argon2 compares in constant time)."""
        try:
            return self._hasher.verify(secret_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
