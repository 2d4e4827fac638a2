"""Explaining access: why a credential may or may not do something, and who may.

An answer has two parts. The policy's: the decision `authorize` makes, with the role asked,
the role chain and the matched rule (`mailkeys.policy.explain`). And the gates outside the
policy that a request also passes: the credential is not revoked or expired, its own mailbox
is not suspended, the target mailbox is within its binding, a sending mailbox is active,
and a send has a provider in scope. Allowed means the policy allows and every gate passes.

Team admins (`key.read`) ask about their own team's credentials, and about its mailbox
passwords only if they may list them (`mailbox.admin.read`); the operator about any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailkeys import clock
from mailkeys.auth.keys import actor_for_key
from mailkeys.errors import InvalidInputError, NotFoundError
from mailkeys.models import (
    ApiKey,
    KeyType,
    Mailbox,
    MailboxPassword,
    MailboxStatus,
    SendScopeMode,
    Team,
)
from mailkeys.models.keys import live_key_filter
from mailkeys.pages import Page, decode_cursor, encode_cursor, page_size
from mailkeys.policy import Actor, CredentialKind, Resource, authorize, current, is_allowed
from mailkeys.policy.explain import PolicyExplanation, explain_decision
from mailkeys.policy.vocabulary import PERMISSION_DOMAIN, Domain
from mailkeys.resolvers.sending import Scope, eligible_providers
from mailkeys.validation import is_resource_id

SEND = "email.send"


@dataclass(frozen=True)
class Gate:
    """A check outside the policy that the request must also pass."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Credential:
    """A key or mailbox password, with what decisions need to know about it."""

    id: str
    credential_type: str
    name: str
    display: str
    team_id: str
    holder: Actor
    preset: str | None
    permissions: list[str]
    mailbox: Mailbox | None
    revoked_at: datetime | None
    expires_at: datetime | None
    scope: Scope | None

    @classmethod
    def of_key(cls, key: ApiKey) -> Credential:
        """A key, fetched with its mailbox."""
        scope = None
        if key.type is not KeyType.INFRASTRUCTURE:
            mode = SendScopeMode(key.send_scope_mode or SendScopeMode.ALL)
            scope = Scope(mode, list(key.send_scope_ids))
        return cls(
            id=key.id,
            credential_type=KeyType(key.type).value,
            name=key.name,
            display=key.display_token,
            team_id=str(key.team_id),
            holder=actor_for_key(key),
            preset=key.preset,
            permissions=list(key.permissions),
            mailbox=key.mailbox,
            revoked_at=key.revoked_at,
            expires_at=key.expires_at,
            scope=scope,
        )

    @classmethod
    def of_password(cls, row: MailboxPassword, mailbox: Mailbox) -> Credential:
        """A mailbox password and its mailbox."""
        holder = Actor(
            kind=CredentialKind.PASSWORD,
            credential_id=row.id,
            team_id=row.team_id,
            permissions=frozenset(row.permissions),
            mailbox_ids=frozenset({mailbox.id}),
        )
        return cls(
            id=row.id,
            credential_type="password",
            name=row.app_name,
            display=row.display,
            team_id=row.team_id,
            holder=holder,
            preset=None,
            permissions=list(row.permissions),
            mailbox=mailbox,
            revoked_at=row.revoked_at,
            expires_at=None,
            scope=None,  # passwords send through the SMTP gateway, which routes on its own
        )


@dataclass(frozen=True)
class AccessExplanation:
    """Why a credential may or may not exercise a permission on a resource."""

    credential: Credential
    permission: str
    resource: Resource
    allowed: bool
    policy: PolicyExplanation
    gates: list[Gate]


@dataclass(frozen=True)
class WhoCanAnswer:
    """A page of the credentials that would be allowed, and the policy version asked."""

    policy_version: int
    page: Page[tuple[Credential, PolicyExplanation]]


def _authorize_viewer(actor: Actor) -> None:
    """Team admins need `key.read`; the operator `platform.policy.read`."""
    authorize(actor, "key.read" if actor.team_id is not None else "platform.policy.read")


def _visible(actor: Actor, team_id: str | None) -> None:
    """Another team's credential or resource is not found for a team admin."""
    if actor.team_id is not None and team_id != actor.team_id:
        raise NotFoundError("Resource")


def _sees_passwords(actor: Actor) -> bool:
    """Mailbox passwords are listed to `mailbox.admin.read` (and the operator), not `key.read`."""
    return actor.team_id is None or is_allowed(actor, "mailbox.admin.read")


def _check_permission(permission: str) -> str:
    if permission not in PERMISSION_DOMAIN:
        raise InvalidInputError("permission", f"'{permission}' is not a permission.")
    return permission


async def _credential(credential_id: str) -> Credential:
    if not is_resource_id(credential_id):
        raise NotFoundError("Credential")
    key = await ApiKey.filter(id=credential_id).select_related("mailbox").first()
    if key is not None:
        return Credential.of_key(key)
    row = await MailboxPassword.filter(id=credential_id).select_related("mailbox").first()
    if row is not None:
        return Credential.of_password(row, row.mailbox)
    raise NotFoundError("Credential")


async def _resource(team_id: str, resource_id: str | None) -> tuple[Resource, Mailbox | None]:
    """`resource_id` names a mailbox or a team; absent, the credential's team."""
    if resource_id is None or resource_id == team_id:
        return Resource(team_id=team_id), None
    if not is_resource_id(resource_id):
        raise NotFoundError("Resource")
    mailbox = await Mailbox.filter(id=resource_id).first()
    if mailbox is not None:
        return Resource(team_id=mailbox.team_id, mailbox_id=mailbox.id), mailbox
    if await Team.filter(id=resource_id).exists():
        return Resource(team_id=resource_id), None
    raise NotFoundError("Resource")


async def _gates(
    credential: Credential,
    permission: str,
    resource: Resource,
    target: Mailbox | None,
    now: datetime,
) -> list[Gate]:
    gates = []
    revoked_at = credential.revoked_at
    if revoked_at is None:
        gates.append(Gate("revoked", True, "not revoked"))
    elif revoked_at <= now:
        gates.append(Gate("revoked", False, f"revoked at {revoked_at.isoformat()}"))
    else:
        detail = f"will be revoked at {revoked_at.isoformat()} (end of a rotation grace period)"
        gates.append(Gate("revoked", True, detail))
    if credential.credential_type != "password":
        expired = credential.expires_at is not None and credential.expires_at <= now
        gates.append(
            Gate(
                "expired",
                not expired,
                "no expiry"
                if credential.expires_at is None
                else f"expire{'d' if expired else 's'} at {credential.expires_at.isoformat()}",
            )
        )
    own = credential.mailbox
    if own is not None:
        active = own.status is MailboxStatus.ACTIVE
        gates.append(
            Gate(
                "mailbox_suspended",
                active,
                f"its mailbox {own.id} is {MailboxStatus(own.status).value}",
            )
        )
    if PERMISSION_DOMAIN[permission] is Domain.MAILBOX:
        bound = credential.holder.mailbox_ids
        covered = bound is None or resource.mailbox_id in bound
        gates.append(
            Gate(
                "mailbox_binding",
                covered,
                "bound to every mailbox of its team"
                if bound is None
                else f"bound to {', '.join(sorted(bound)) or 'no mailbox'}",
            )
        )
    if permission == SEND and target is not None:
        active = target.status is MailboxStatus.ACTIVE
        gates.append(
            Gate(
                "sender_mailbox_suspended",
                active,
                f"the sender mailbox {target.id} is {MailboxStatus(target.status).value}",
            )
        )
    if permission == SEND and credential.scope is not None:
        pool = await eligible_providers(credential.team_id, credential.scope, None)
        gates.append(
            Gate(
                "send_scope",
                bool(pool),
                f"{len(pool)} active provider(s) in its {credential.scope.mode.value} send scope",
            )
        )
    return gates


async def explain_access(
    actor: Actor, credential_id: str, permission: str, resource_id: str | None
) -> AccessExplanation:
    """Explain whether a credential may exercise `permission` on a team or mailbox."""
    _authorize_viewer(actor)
    permission = _check_permission(permission)
    credential = await _credential(credential_id)
    _visible(actor, credential.team_id)
    if credential.credential_type == "password" and not _sees_passwords(actor):
        raise NotFoundError("Credential")
    resource, target = await _resource(credential.team_id, resource_id)
    _visible(actor, resource.team_id)
    explanation = explain_decision(credential.holder, permission, resource)
    gates = await _gates(credential, permission, resource, target, clock.now())
    return AccessExplanation(
        credential=credential,
        permission=permission,
        resource=resource,
        allowed=explanation.allowed and all(gate.passed for gate in gates),
        policy=explanation,
        gates=gates,
    )


async def _team_credentials(team_id: str, now: datetime, passwords_too: bool) -> list[Credential]:
    keys = await ApiKey.filter(live_key_filter(now), team_id=team_id).select_related("mailbox")
    passwords = []
    if passwords_too:
        passwords = await MailboxPassword.filter(
            team_id=team_id, revoked_at__isnull=True
        ).select_related("mailbox")
    return [
        *(Credential.of_key(key) for key in keys),
        *(Credential.of_password(row, row.mailbox) for row in passwords),
    ]


async def who_can(
    actor: Actor,
    team_id: str,
    permission: str,
    resource_id: str | None,
    first: int | None,
    after: str | None,
) -> WhoCanAnswer:
    """The team's credentials (keys and mailbox passwords) that would be allowed now."""
    _authorize_viewer(actor)
    permission = _check_permission(permission)
    _visible(actor, team_id)
    if not is_resource_id(team_id) or not await Team.filter(id=team_id).exists():
        raise NotFoundError("Team")
    resource, target = await _resource(team_id, resource_id)
    if resource.team_id != team_id:
        raise NotFoundError("Resource")
    snapshot = current()
    now = clock.now()
    allowed: list[tuple[Credential, PolicyExplanation]] = []
    for credential in sorted(
        await _team_credentials(team_id, now, _sees_passwords(actor)), key=lambda c: c.id
    ):
        explanation = explain_decision(credential.holder, permission, resource, snapshot)
        if not explanation.allowed:
            continue
        gates = await _gates(credential, permission, resource, target, now)
        if all(gate.passed for gate in gates):
            allowed.append((credential, explanation))
    size = page_size(first)
    # The cursor names the last id seen; ids sort, so a credential revoked meanwhile is no hole.
    last = None if after is None else str(decode_cursor(after, ("who",), 1)[1][0])
    start = 0 if last is None else sum(1 for credential, _ in allowed if credential.id <= last)
    items = allowed[start : start + size]
    cursors = [encode_cursor("who", credential.id) for credential, _ in items]
    page = Page(items, cursors, start + size < len(allowed), len(allowed))
    return WhoCanAnswer(policy_version=snapshot.version, page=page)
