"""The per-process collaborators every request shares, built once by the app."""

from __future__ import annotations

from dataclasses import dataclass

from mailkeys.auth.credential_check import CredentialChecker
from mailkeys.auth.hashing import BoundedHasher
from mailkeys.auth.keys import Authenticator
from mailkeys.auth.ratelimit import RateLimiter
from mailkeys.settings import Settings


@dataclass
class Services:
    """Long-lived collaborators, built once per process (see `mailkeys.http.app`)."""

    settings: Settings
    hasher: BoundedHasher
    authenticator: Authenticator
    checker: CredentialChecker
    limiter: RateLimiter
