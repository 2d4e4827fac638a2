"""The policy snapshot this process decides with, replaced whole on every change."""

from __future__ import annotations

from mailkeys.errors import PolicyConfigurationError
from mailkeys.policy.snapshot import PolicySnapshot


class _Installed:
    """The snapshot in use; replaced whole, so a decision never sees a half-loaded policy."""

    snapshot: PolicySnapshot | None = None


def install(snapshot: PolicySnapshot) -> None:
    """Make `snapshot` the policy every following decision uses."""
    _Installed.snapshot = snapshot


def install_newer(snapshot: PolicySnapshot) -> bool:
    """Install `snapshot` unless a snapshot of the same or a later version is installed.

    Versions only grow (a rollback is a new version), so a reload that read the database
    before a concurrent apply cannot put the older policy back.
    """
    installed = _Installed.snapshot
    if installed is not None and installed.version >= snapshot.version:
        return False
    _Installed.snapshot = snapshot
    return True


def current() -> PolicySnapshot:
    """The policy in use; an unloaded policy is a configuration fault, never a silent deny."""
    snapshot = _Installed.snapshot
    if snapshot is None:
        raise PolicyConfigurationError("the policy is not loaded")
    return snapshot
