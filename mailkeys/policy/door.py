"""The one door: (actor, permission, resource id) -> the row, loaded and allowed, or the error.

Every operation on an existing resource goes through `load_for`. Team isolation is decided
here (and in `decide._judge`, for resources named without a row): a principal other than
the operator reads only rows of the team it acts in, and another team's row is "not found",
exactly like a missing one. Permissions that do not depend on the row (team and platform
permissions) are checked before the row is read; mailbox permissions, which depend on the
mailbox the row belongs to, after. An id that cannot be one of ours is "not found" without a
query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from tortoise.models import Model

from mailkeys.errors import NotFoundError
from mailkeys.models import Mailbox
from mailkeys.models.scoped import owner_field, team_row
from mailkeys.policy.actor import Actor, Resource
from mailkeys.policy.decide import authorize, authorize_any
from mailkeys.policy.vocabulary import PERMISSION_DOMAIN, Domain
from mailkeys.validation import is_resource_id

RowT = TypeVar("RowT", bound=Model)


def depends_on_row(permissions: Sequence[str]) -> bool:
    """True if deciding needs the row: mailbox permissions depend on which mailbox it is."""
    return any(PERMISSION_DOMAIN[permission] is Domain.MAILBOX for permission in permissions)


def resource_of(row: Model) -> Resource:
    """The team (and mailbox) a row belongs to, as a decision sees it."""
    team_id = str(getattr(row, owner_field(type(row))))
    if isinstance(row, Mailbox):
        return Resource(team_id=team_id, mailbox_id=row.id)
    return Resource(team_id=team_id, mailbox_id=getattr(row, "mailbox_id", None))


async def load_for(
    actor: Actor,
    permissions: str | Sequence[str],
    model: type[RowT],
    row_id: str,
    related: Sequence[str] = (),
) -> RowT:
    """The row of `model` with `row_id`, if `actor` may see it and do one of `permissions`.

    Args:
        actor: the authenticated principal.
        permissions: the permission the operation needs, or several, broadest first, any
            of which allows it (`("mailbox.admin.read", "mailbox.read")`).
        model: a team-owned model; its class name is the kind a NotFoundError names.
        row_id: the id the client sent.
        related: relations to fetch with the row.

    Raises:
        NotFoundError: no such row in the actor's team (or not an id at all).
        PermissionDeniedError: the policy refuses every one of `permissions`.
    """
    wanted = (permissions,) if isinstance(permissions, str) else tuple(permissions)
    row_decides = depends_on_row(wanted)
    if not row_decides:
        authorize_any(actor, wanted)
    kind = model.__name__
    if not is_resource_id(row_id):
        raise NotFoundError(kind)
    scope = None if actor.is_operator else actor.own_team(wanted[-1])
    row = await team_row(model, row_id, scope, related)
    if row is None:
        raise NotFoundError(kind)
    if row_decides:
        authorize_any(actor, wanted, resource_of(row))
    return row


def team_for(actor: Actor, permission: str) -> str:
    """The team in which `actor` may do `permission` (its own), or the refusal.

    For operations on a team as a whole (lists, creations), where no row is loaded.
    """
    authorize(actor, permission)
    return actor.own_team(permission)
