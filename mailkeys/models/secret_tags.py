"""What the secret tags need from storage: the installation's pepper, and tagging old rows.

Without `MAILKEYS_SECRET_PEPPER`, the pepper is a random value made once per installation
and kept here, so that every worker and replica computes the same tags; the first writer
wins, as when the policy is seeded.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise import fields
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.models import Model

from mailkeys import clock


class InstallationSecret(Model):
    """A random value made once for the whole installation, shared by every worker."""

    name = fields.CharField(primary_key=True, max_length=64)
    value = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()

    class Meta:
        table = "installation_secret"

    def __repr__(self) -> str:  # the value is a secret
        return f"InstallationSecret(name={self.name!r})"


async def installation_secret(name: str, make: Callable[[], str]) -> str:
    """The stored value of `name`; stores `make()` first if there is none.

    Safe when several workers start at once: the name is the primary key, so all but one
    insert fail, and those workers read what the winner stored.
    """
    row = await InstallationSecret.filter(name=name).first()
    if row is not None:
        return row.value
    try:
        row = await InstallationSecret.create(name=name, value=make(), created_at=clock.now())
    except (IntegrityError, OperationalError):
        row = await InstallationSecret.filter(name=name).first()
        if row is None:
            raise
    return row.value


async def store_secret_tag(
    model: type[Model], row_id: str, secret_hash: str, stale_tag: str | None, tag: str
) -> bool:
    """Give a row whose secret was just verified by argon2 its tag; True if it was written.

    Only the row as it was read is changed (same hash, same stale tag), so a concurrent
    upgrade by another worker, or a re-hash, is never overwritten.
    """
    rows = model.filter(id=row_id, secret_hash=secret_hash)
    rows = (
        rows.filter(secret_tag__isnull=True)
        if stale_tag is None
        else rows.filter(secret_tag=stale_tag)
    )
    return bool(await rows.update(secret_tag=tag))
