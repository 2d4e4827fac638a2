"""Secret tags: a short peppered HMAC of each secret, stored beside its argon2 hash.

A key id or a password id is public, so anyone can send well-formed guesses for it. argon2
would make each guess cost the server about 20 ms, and a budget of failures per id would let
a guesser lock the owner out. The tag rules a wrong secret out in microseconds instead, with
no argon2 and no budget charged: HMAC-SHA256 under the installation's pepper, truncated to
128 bits (a guess matches by chance with probability 2**-128), compared in constant time.
argon2 still verifies every secret whose tag matches before it is trusted, so the tag only
ever refuses.

A stored tag reads `<pepper id>:<tag>`, the pepper id being a short HMAC of a fixed label
under the pepper. A row tagged under another pepper (the pepper was changed) is treated as
untagged: argon2 decides, and a secret that passes is tagged again under the new pepper.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from enum import Enum

from mailkeys.models.secret_tags import installation_secret

PEPPER_NAME = "secret_pepper"
TAG_BYTES = 16
_TAG_LABEL = b"mailkeys secret tag v1\x00"
_ID_LABEL = b"mailkeys pepper id v1"


class TagCheck(Enum):
    """What a stored tag says about a presented secret."""

    MATCH = "match"  # argon2 decides (or the verified-token cache)
    MISMATCH = "mismatch"  # wrong secret: refuse now
    UNKNOWN = "unknown"  # no tag under this pepper: argon2 decides, then tag the row


class Pepper:
    """A loaded pepper: computes and checks tags."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.id = hmac.new(key, _ID_LABEL, hashlib.sha256).hexdigest()[:8]
        self._prefix = f"{self.id}:"
        # A stored tag no secret has (not hex): checking against it costs what a wrong
        # secret costs, for a credential that is not there.
        self.unmatchable = self._prefix + "-" * (2 * TAG_BYTES)

    def tag(self, secret: str) -> str:
        """The tag to store for `secret`."""
        digest = hmac.new(self._key, _TAG_LABEL + secret.encode(), hashlib.sha256).digest()
        return self._prefix + digest[:TAG_BYTES].hex()

    def is_current(self, stored: str | None) -> bool:
        """True if `stored` is a tag under this pepper."""
        return stored is not None and stored.startswith(self._prefix)

    def check(self, stored: str | None, secret: str) -> TagCheck:
        """Compare `secret` with a row's stored tag, in constant time."""
        if stored is None or not self.is_current(stored):
            return TagCheck.UNKNOWN
        if hmac.compare_digest(stored, self.tag(secret)):
            return TagCheck.MATCH
        return TagCheck.MISMATCH

    def __repr__(self) -> str:
        return f"Pepper(id={self.id!r})"


class SecretTags:
    """The pepper of this process: the configured one, or the installation's, read once.

    The installation's pepper is read (or created) on first use rather than at startup, so
    commands and tests that never run the app's lifespan get it too; the first use is
    always outside a transaction (secrets are hashed before one opens).
    """

    def __init__(self, configured: str | None) -> None:
        self._pepper = Pepper(configured.encode()) if configured else None
        self._loading = asyncio.Lock()

    async def pepper(self) -> Pepper:
        """The pepper, reading or creating the installation's the first time."""
        if self._pepper is not None:
            return self._pepper
        async with self._loading:
            if self._pepper is None:
                value = await installation_secret(PEPPER_NAME, lambda: secrets.token_hex(32))
                self._pepper = Pepper(bytes.fromhex(value))
        return self._pepper
