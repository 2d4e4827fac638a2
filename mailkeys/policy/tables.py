"""Decision tables: expected decisions, written down by policy authors, run against a policy.

A table is CSV with a header row; whole-line `#` comments and blank lines are skipped:

    credential,preset,permissions,mailboxes,operation,resource,expect
    infrastructure,root:readonly,,,key.read,team,allow
    sending,,email.send mailbox.read,mbx_1 mbx_3,email.send,mailbox:mbx_2,deny
    infrastructure,root:full,,,issue:email.send,,allow

- `credential`: infrastructure, sending, mailbox, password, person, app, operator or gateway.
- `preset`: an infrastructure key's preset (empty: a key without one), a person's team
  role (`member:admin`), or a connected app's choices, separated by spaces
  (`app-group:keys:read app-line:sending`): the app holds what the policy gives them.
- `permissions`: the mailbox permissions listed on a sending or mailbox key or a mailbox
  password, separated by spaces.
- `mailboxes`: the mailboxes the credential is bound to, separated by spaces; empty or `*`
  means every mailbox of its team (sending keys only: mailbox keys and passwords name one).
- `operation`: a permission (the request's decision) or `issue:<permission>` (may the
  credential put that permission into a credential it creates).
- `resource`: `team` (the credential's own team), `mailbox:<id>` (one of its mailboxes),
  `other-team` or `other-team/mailbox:<id>` (another team's, which is never allowed);
  empty means `team`.
- `expect`: allow or deny.

Each row is decided by `evaluate`/`can_issue`, the functions every request goes through.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace

from mailkeys.errors import DecisionTableError
from mailkeys.policy.actor import Actor, Resource
from mailkeys.policy.apps import role_grants
from mailkeys.policy.decide import can_issue, evaluate
from mailkeys.policy.snapshot import PolicySnapshot
from mailkeys.policy.vocabulary import APP_ROLES, PERMISSION_DOMAIN, CredentialKind

COLUMNS = ("credential", "preset", "permissions", "mailboxes", "operation", "resource", "expect")
ISSUE_PREFIX = "issue:"
OWN_TEAM = "team"
OTHER_TEAM = "other-team"
_MAILBOX_CLASS = (CredentialKind.SENDING, CredentialKind.MAILBOX, CredentialKind.PASSWORD)
_ROLE_HOLDERS = (CredentialKind.INFRASTRUCTURE, CredentialKind.PERSON)


@dataclass(frozen=True)
class TableCase:
    """One expected decision and the line it was written on."""

    line_number: int
    actor: Actor
    operation: str
    resource: Resource
    resource_label: str
    expect_allowed: bool
    # A connected app's choices (app-group:/app-line: roles); its permissions follow them.
    app_roles: tuple[str, ...] = ()

    def describe(self) -> str:
        """`infrastructure root:readonly: key.create on team` and the like."""
        actor = self.actor
        who = actor.kind.value
        if actor.preset or actor.team_role:
            who += f" {actor.preset or actor.team_role}"
        if self.app_roles:
            who += f" {' '.join(self.app_roles)}"
        if actor.permissions:
            who += f" [{' '.join(sorted(actor.permissions))}]"
        if actor.mailbox_ids is not None:
            who += f" on {' '.join(sorted(actor.mailbox_ids))}"
        if self.operation.startswith(ISSUE_PREFIX):
            return f"{who}: {self.operation}"
        return f"{who}: {self.operation} on {self.resource_label}"


@dataclass(frozen=True)
class DecisionTable:
    """A named list of expected decisions."""

    name: str
    cases: tuple[TableCase, ...]


@dataclass(frozen=True)
class CaseResult:
    """What the policy decided for one case."""

    case: TableCase
    allowed: bool
    outcome: str
    matched_rule: str | None

    @property
    def passed(self) -> bool:
        """True if the decision is the expected one."""
        return self.allowed is self.case.expect_allowed

    def verdict(self) -> str:
        """`expected deny, got allow (matched p, root:readonly, *, team)`."""
        expected = "allow" if self.case.expect_allowed else "deny"
        actual = "allow" if self.allowed else "deny"
        if self.matched_rule is None:
            why = self.outcome
        elif self.allowed:
            why = f"matched {self.matched_rule}"
        else:  # the policy allows the role, a fact about the credential does not
            why = f"{self.outcome}, although {self.matched_rule} matched"
        return f"expected {expected}, got {actual} ({why})"

    def describe(self) -> str:
        """One readable line for a mismatch."""
        return f"line {self.case.line_number}: {self.case.describe()}: {self.verdict()}"


@dataclass(frozen=True)
class TableRun:
    """The results of one table against one policy version."""

    name: str
    policy_version: int
    results: tuple[CaseResult, ...]

    @property
    def mismatches(self) -> list[CaseResult]:
        """The cases the policy decided otherwise than expected."""
        return [result for result in self.results if not result.passed]

    @property
    def passed(self) -> int:
        """How many cases matched."""
        return len(self.results) - len(self.mismatches)


def _words(value: str) -> list[str]:
    return value.split()


def _app_roles(name: str, number: int, row: dict[str, str]) -> tuple[str, ...]:
    if row["credential"] != CredentialKind.APP.value:
        return ()
    roles = tuple(_words(row["preset"]))
    for role in roles:
        if role not in APP_ROLES:
            raise DecisionTableError(name, number, f"unknown connected-app choice '{role}'")
    if row["permissions"]:
        raise DecisionTableError(name, number, "an app holds what its choices give (preset)")
    return roles


def _actor(name: str, number: int, row: dict[str, str]) -> Actor:
    try:
        kind = CredentialKind(row["credential"])
    except ValueError as exc:
        raise DecisionTableError(name, number, f"unknown credential '{row['credential']}'") from exc
    if kind is CredentialKind.APP:
        mailboxes = [] if row["mailboxes"] in ("", "*") else _words(row["mailboxes"])
        return Actor(
            kind=kind,
            credential_id=f"{name}:{number}",
            team_id=OWN_TEAM,
            mailbox_ids=frozenset(mailboxes) if mailboxes else None,
        )
    preset = row["preset"] or None
    permissions = _words(row["permissions"])
    mailboxes = [] if row["mailboxes"] in ("", "*") else _words(row["mailboxes"])
    if preset is not None and kind not in _ROLE_HOLDERS:
        raise DecisionTableError(
            name, number, "only infrastructure keys (a preset) and people (a team role) hold one"
        )
    if kind not in _MAILBOX_CLASS and (permissions or mailboxes):
        raise DecisionTableError(name, number, f"{kind.value} credentials list no permissions")
    for permission in permissions:
        if permission not in PERMISSION_DOMAIN:
            raise DecisionTableError(name, number, f"unknown permission '{permission}'")
    if kind in (CredentialKind.MAILBOX, CredentialKind.PASSWORD) and len(mailboxes) != 1:
        raise DecisionTableError(name, number, f"a {kind.value} credential names one mailbox")
    operator_like = kind in (CredentialKind.OPERATOR, CredentialKind.GATEWAY)
    person = kind is CredentialKind.PERSON
    return Actor(
        kind=kind,
        credential_id=f"{name}:{number}",
        team_id=None if operator_like else OWN_TEAM,
        preset=None if person else preset,
        permissions=frozenset(permissions),
        mailbox_ids=frozenset(mailboxes) if mailboxes else None,
        team_role=preset if person else None,
    )


def _resource(name: str, number: int, label: str) -> Resource:
    team, _, mailbox = label.partition("/")
    if team.startswith("mailbox:"):
        team, mailbox = OWN_TEAM, team
    if team not in (OWN_TEAM, OTHER_TEAM) or (mailbox and not mailbox.startswith("mailbox:")):
        raise DecisionTableError(
            name, number, f"unknown resource '{label}' (team, mailbox:<id>, other-team[/...])"
        )
    mailbox_id = mailbox.removeprefix("mailbox:") or None
    if mailbox and not mailbox_id:
        raise DecisionTableError(name, number, "mailbox: needs a mailbox id")
    return Resource(team_id=team, mailbox_id=mailbox_id)


def _case(name: str, number: int, row: dict[str, str]) -> TableCase:
    actor = _actor(name, number, row)
    operation = row["operation"]
    if operation.removeprefix(ISSUE_PREFIX) not in PERMISSION_DOMAIN:
        raise DecisionTableError(name, number, f"unknown operation '{operation}'")
    label = row["resource"] or OWN_TEAM
    resource = _resource(name, number, label)
    if row["expect"] not in ("allow", "deny"):
        raise DecisionTableError(name, number, "expect must be allow or deny")
    return TableCase(
        line_number=number,
        actor=actor,
        operation=operation,
        resource=resource,
        resource_label=label,
        expect_allowed=row["expect"] == "allow",
        app_roles=_app_roles(name, number, row),
    )


def parse_table(text: str, name: str) -> DecisionTable:
    """Read a decision table; the first problem raises DecisionTableError naming its line."""
    header: list[str] | None = None
    cases = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in next(csv.reader([raw]))]
        if header is None:
            if sorted(cells) != sorted(COLUMNS):
                raise DecisionTableError(name, number, f"the header must be {','.join(COLUMNS)}")
            header = cells
            continue
        if len(cells) != len(header):
            raise DecisionTableError(
                name, number, f"{len(header)} cells expected, got {len(cells)}"
            )
        cases.append(_case(name, number, dict(zip(header, cells, strict=True))))
    if header is None:
        raise DecisionTableError(name, 1, "the table has no header row")
    return DecisionTable(name=name, cases=tuple(cases))


def case_actor(case: TableCase, snapshot: PolicySnapshot | None = None) -> Actor:
    """The row's credential; a connected app holds what the policy gives its choices."""
    if case.actor.kind is not CredentialKind.APP:
        return case.actor
    return replace(case.actor, permissions=role_grants(case.app_roles, snapshot))


def _decide(case: TableCase, snapshot: PolicySnapshot) -> CaseResult:
    actor = case_actor(case, snapshot)
    if case.operation.startswith(ISSUE_PREFIX):
        allowed = can_issue(actor, [case.operation.removeprefix(ISSUE_PREFIX)], snapshot)
        return CaseResult(case, allowed, "may_issue" if allowed else "may_not_issue", None)
    resource = case.resource
    if resource.team_id == OWN_TEAM and case.actor.team_id is None:
        resource = Resource(team_id=None, mailbox_id=resource.mailbox_id)
    evaluation = evaluate(actor, case.operation, resource, snapshot)
    rule = evaluation.decision.matched_rule
    return CaseResult(
        case,
        evaluation.allowed,
        evaluation.outcome.value,
        ", ".join(("p", *rule)) if rule and evaluation.decision.allowed else None,
    )


def run_table(table: DecisionTable, snapshot: PolicySnapshot) -> TableRun:
    """Decide every case of `table` with `snapshot` (no logging: these are not requests)."""
    results = tuple(_decide(case, snapshot) for case in table.cases)
    return TableRun(name=table.name, policy_version=snapshot.version, results=results)
