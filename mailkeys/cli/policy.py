"""`mailkeys policy ...`: export, import and test the live policy from a shell.

These commands talk to the configured database directly, as the operator (like `mailkeys
team create`); running servers pick up an imported version within a second.

Exit codes: 0 success; 1 the policy or a table case was refused or did not match (invalid
rules, a broken shipped table without --force, a moved version, mismatches); 2 a file
could not be read or written, or the environment is unusable (see `failures`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mailkeys.cli.database import command_database
from mailkeys.cli.failures import OK, REFUSED, CommandError, read_file, write_file
from mailkeys.errors import (
    DecisionTableBrokenError,
    DecisionTableError,
    PolicyRulesError,
    PolicyVersionConflictError,
)
from mailkeys.policy import OPERATOR, PolicySnapshot, current
from mailkeys.policy.compile import compile_policy
from mailkeys.policy.tables import TableRun, parse_table, run_table
from mailkeys.resolvers import policy_changes, policy_plans, policy_versions
from mailkeys.settings import Settings

T = TypeVar("T")


async def _with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` against the configured database, with the live policy loaded."""
    async with command_database(settings):
        return await work()


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def export(args: argparse.Namespace) -> int:
    """Write the live rules in Casbin's CSV form."""
    settings = Settings.from_env()

    async def live() -> tuple[int, str]:
        row = (await policy_versions.read_policy(OPERATOR)).version
        return row.version, row.rules

    version, text = asyncio.run(_with_database(settings, live))
    if args.output:
        write_file(args.output, text)
        _err(f"mailkeys: wrote policy version {version} to {args.output}")
    else:
        sys.stdout.write(text)
        _err(f"mailkeys: policy version {version}")
    return OK


def _print_rules_problems(path: str, error: PolicyRulesError) -> None:
    for line, reason in error.problems:
        _err(f"{path}:{line}: {reason}")


def _print_mismatches(path: str, run: TableRun) -> None:
    for result in run.mismatches:
        print(f"{path}:{result.case.line_number}: {result.case.describe()}: {result.verdict()}")


def import_(args: argparse.Namespace) -> int:
    """Propose a rules file as the next version (same checks as `policyApply`)."""
    settings = Settings.from_env()
    text = read_file(args.file)

    async def plan() -> policy_plans.Plan:
        return await policy_plans.plan_policy(OPERATOR, settings, rules=text)

    async def store() -> policy_changes.AppliedPolicy:
        return await policy_changes.import_policy(
            OPERATOR,
            settings,
            rules=text,
            source_name=args.file,
            message=args.message,
            expected_version=args.expected_version,
            force=args.force,
        )

    if args.dry_run:
        planned = asyncio.run(_with_database(settings, plan))
        return _report_plan(args.file, planned)
    try:
        applied = asyncio.run(_with_database(settings, store))
    except PolicyRulesError as error:
        _print_rules_problems(args.file, error)
        _err("mailkeys: refused: the rules do not fit; nothing was changed")
        return REFUSED
    except DecisionTableBrokenError as error:
        for mismatch in error.mismatches:
            _err(f"shipped table: {mismatch}")
        _err(
            f"mailkeys: refused: {len(error.mismatches)} expected decision(s) of the shipped "
            "table would change; pass --force to import anyway"
        )
        return REFUSED
    except PolicyVersionConflictError as error:
        _err(f"mailkeys: refused: {error}")
        return REFUSED
    row = applied.version
    print(
        f"mailkeys: stored policy version {row.version} "
        f"(+{len(row.added)} / -{len(row.removed)} rules{', forced' if row.forced else ''})"
    )
    for rule in row.added:
        print(f"  + {rule}")
    for rule in row.removed:
        print(f"  - {rule}")
    return OK


def _report_plan(path: str, planned: policy_plans.Plan) -> int:
    if not planned.valid:
        for problem in planned.problems:
            _err(f"{path}:{problem.line}: {problem.reason}")
        return REFUSED
    print(f"mailkeys: plan {planned.id} against version {planned.base_version} (nothing applied)")
    for rule in planned.added:
        print(f"  + {rule}")
    for rule in planned.removed:
        print(f"  - {rule}")
    for run in planned.tables:
        print(f"{run.name}: {run.passed}/{len(run.results)} cases as expected")
        _print_mismatches(run.name, run)
    impact = planned.impact
    if impact is not None:
        print(
            f"impact: {impact.credentials_affected} of {impact.credentials_considered} "
            f"credentials in {impact.teams_affected} team(s) change"
        )
        for change in impact.permissions:
            print(f"  {change.permission}: +{change.gained_by} / -{change.lost_by}")
    return REFUSED if planned.breaks_guard_table else OK


def test(args: argparse.Namespace) -> int:
    """Run a decision table against the live policy or a rules file; 1 on any mismatch."""
    settings = Settings.from_env()
    table_text = read_file(args.table)
    try:
        table = parse_table(table_text, args.table)
    except DecisionTableError as error:
        raise CommandError(str(error)) from error
    if args.rules is not None:
        rules = read_file(args.rules)
        model_text = policy_versions.model_text_for(settings)
        snapshot, problems = compile_policy(model_text, rules, version=0)
        if snapshot is None:
            for problem in problems:
                _err(f"{args.rules}:{problem.line_number}: {problem.reason}")
            return REFUSED
        against = args.rules
    else:

        async def live() -> PolicySnapshot:
            return current()

        snapshot = asyncio.run(_with_database(settings, live))
        against = f"live policy version {snapshot.version}"
    run = run_table(table, snapshot)
    _print_mismatches(args.table, run)
    failed = len(run.mismatches)
    print(f"{args.table}: {run.passed} passed, {failed} failed, against {against}")
    return REFUSED if failed else OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `mailkeys policy export|import|test`."""
    parser = commands.add_parser(
        "policy",
        help="export, import and test the Casbin policy",
        description="Policy authoring from a shell. Configuration (database, model, shipped "
        "table) comes from MAILKEYS_* variables. Exit codes: 0 ok, 1 refused or mismatches, "
        "2 an unreadable file or an unusable environment.",
    )
    policy_commands = parser.add_subparsers(dest="policy_command", required=True)

    export_parser = policy_commands.add_parser(
        "export", help="write the live rules (Casbin CSV)", description=export.__doc__
    )
    export_parser.add_argument("-o", "--output", help="write to this file (default: stdout)")
    export_parser.set_defaults(handler=export)

    import_parser = policy_commands.add_parser(
        "import",
        help="propose a rules file as the next version",
        description="Store FILE as the next policy version, with the checks of policyApply: "
        "every line must fit, the shipped decision table must hold (or --force), and the "
        "live version must be the expected one.",
    )
    import_parser.add_argument("file", help="Casbin CSV rules")
    import_parser.add_argument("-m", "--message", help="why (default: 'Imported from FILE')")
    import_parser.add_argument(
        "--expected-version", type=int, help="refuse unless this is the live version"
    )
    import_parser.add_argument(
        "--force", action="store_true", help="store it even if the shipped table breaks"
    )
    import_parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only plan: print problems, table results and impact; change nothing",
    )
    import_parser.set_defaults(handler=import_)

    test_parser = policy_commands.add_parser(
        "test",
        help="run a decision table",
        description="Run a decision table (CSV, see policy_tests/shipped.csv) against the "
        "live policy, or against a rules file with --rules. Exit 1 on any mismatch.",
    )
    test_parser.add_argument("table", help="decision table (CSV)")
    test_parser.add_argument("--rules", help="a proposed rules file instead of the live policy")
    test_parser.set_defaults(handler=test)
