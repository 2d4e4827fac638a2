"""Deleting a team: the Owner confirms with its name, a 7-day grace, then a purge.

During the grace every credential of the team is paused (keys, mailbox passwords, the
gateways' check) and so is every member but the Owner, who may cancel. After it, a purge
removes the team and everything it holds; its audit events stay, as a record. Purges run in
every server worker (`MAILKEYS_PURGE_INTERVAL_SECONDS`) and with `mailkeys team purge`.
"""

from __future__ import annotations

from datetime import timedelta

from mailkeys import clock
from mailkeys.errors import ConflictError, InvalidInputError
from mailkeys.models import Team
from mailkeys.policy import OPERATOR, Actor, load_for
from mailkeys.resolvers.changes import Action, change, record_event

GRACE = timedelta(days=7)
DELETE = Action("team.delete", "team.delete", "team")
CANCEL = Action("team.deletion.cancel", "team.delete", "team")


async def delete_team(actor: Actor, confirm_name: str) -> Team:
    """Schedule the actor's team for deletion; `confirm_name` must be its name, exactly."""
    async with change(actor, DELETE, actor.team_id) as attempt, attempt.locked():
        team = await attempt.load(Team, attempt.team)
        if confirm_name != team.name:
            raise InvalidInputError("confirmName", "Type the team's name to confirm.")
        if team.deleting:
            raise ConflictError("The team is already scheduled for deletion.")
        now = clock.now()
        team.deletion_requested_at, team.purge_after = now, now + GRACE
        await team.save(update_fields=["deletion_requested_at", "purge_after"])
        await attempt.succeeded(team.id, {"purge_after": team.purge_after.isoformat()})
    return team


async def cancel_deletion(actor: Actor) -> Team:
    """Stop a scheduled deletion during its grace: everything works again at once."""
    async with change(actor, CANCEL, actor.team_id) as attempt, attempt.locked():
        team = await attempt.load(Team, attempt.team)
        if not team.deleting:
            raise ConflictError("The team is not scheduled for deletion.")
        team.deletion_requested_at = team.purge_after = None
        await team.save(update_fields=["deletion_requested_at", "purge_after"])
        await attempt.succeeded(team.id)
    return team


async def purge_due_teams(actor: Actor = OPERATOR) -> list[str]:
    """Remove every team whose grace has ended, with all it holds; their ids.

    Safe to run in several workers at once: a team already purged is simply gone.
    """
    due = await Team.filter(purge_after__lte=clock.now()).values_list("id", flat=True)
    purged = []
    for team_id in due:
        team = await load_for(actor, "platform.team.purge", Team, str(team_id))
        deleted = await Team.filter(id=team.id, purge_after__lte=clock.now()).delete()
        if deleted:
            purged.append(team.id)
            await record_event(actor, "team.purge", "team", team.id, team.id)
    return purged
