"""`mailkeys policy export|import|test` as a user runs them: output and exit codes."""

from __future__ import annotations

from pathlib import Path

from mailkeys.policy.files import shipped_policy_text, shipped_table_text
from mailkeys.policy.tables import parse_table
from tests.cli import Cli

# How many cases the shipped decision table holds (policy_tests/shipped.csv).
SHIPPED_CASES = len(parse_table(shipped_table_text(), "shipped").cases)


REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TABLE = REPO_ROOT / "policy_tests" / "shipped.csv"
SHIPPED = shipped_policy_text()
READONLY_CREATES = "p, root:readonly, key.create, team\n"


def write(workdir: Path, name: str, text: str) -> str:
    (workdir / name).write_text(text)
    return name


def test_export_writes_the_live_rules(tmp_path: Path, cli: Cli) -> None:
    printed = cli("policy", "export")
    written = cli("policy", "export", "--output", "live.csv")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == SHIPPED
    assert "policy version 1" in printed.stderr
    assert written.returncode == 0
    assert (tmp_path / "live.csv").read_text() == SHIPPED


def test_the_shipped_table_passes_against_the_live_policy(cli: Cli) -> None:
    result = cli("policy", "test", str(SHIPPED_TABLE))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{SHIPPED_CASES} passed, 0 failed, against live policy version 1" in result.stdout


def test_a_table_run_against_proposed_rules_prints_each_mismatch(tmp_path: Path, cli: Cli) -> None:
    rules = write(tmp_path, "proposed.csv", SHIPPED + READONLY_CREATES)

    result = cli("policy", "test", "--rules", rules, str(SHIPPED_TABLE))

    assert result.returncode == 1
    mismatches = [line for line in result.stdout.splitlines() if "expected" in line]
    assert len(mismatches) == 2
    assert mismatches[0].startswith(f"{SHIPPED_TABLE}:")
    assert (
        "infrastructure root:readonly: key.create on team: expected deny, got allow"
        in (mismatches[0])
    )
    assert f"{SHIPPED_CASES - 2} passed, 2 failed, against proposed.csv" in result.stdout


def test_invalid_proposed_rules_name_their_line(tmp_path: Path, cli: Cli) -> None:
    rules = write(tmp_path, "bad.csv", SHIPPED + "p, root:readonly, key.destroy, team\n")
    line = len(SHIPPED.splitlines()) + 1

    tested = cli("policy", "test", "--rules", rules, str(SHIPPED_TABLE))
    imported = cli("policy", "import", rules)

    for result in (tested, imported):
        assert result.returncode == 1
        assert f"bad.csv:{line}: 'key.destroy' names no known team permission" in result.stderr
    assert cli("policy", "export").stdout == SHIPPED


def test_unreadable_files_exit_2(tmp_path: Path, cli: Cli) -> None:
    table = write(tmp_path, "table.csv", "credential,who\n")

    assert cli("policy", "test", "missing.csv").returncode == 2
    assert cli("policy", "import", "missing.csv").returncode == 2
    broken = cli("policy", "test", table)
    assert broken.returncode == 2
    assert "table.csv:1: the header must be" in broken.stderr


def test_import_that_breaks_the_shipped_table_needs_force(tmp_path: Path, cli: Cli) -> None:
    rules = write(tmp_path, "proposed.csv", SHIPPED + READONLY_CREATES)

    refused = cli("policy", "import", rules)
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    assert cli("policy", "export").stdout == SHIPPED

    forced = cli("policy", "import", rules, "--force", "--message", "readers create keys")
    assert forced.returncode == 0, forced.stderr
    assert "stored policy version 2 (+1 / -0 rules, forced)" in forced.stdout
    assert "+ p, root:readonly, key.create, team" in forced.stdout

    exported = cli("policy", "export")
    assert exported.stdout == SHIPPED + READONLY_CREATES
    assert "policy version 2" in exported.stderr
    assert cli("policy", "test", str(SHIPPED_TABLE)).returncode == 1


def test_import_refuses_when_the_live_version_moved(tmp_path: Path, cli: Cli) -> None:
    key_admin = "p2, root:key_admin, Key Admin\np, root:key_admin, key.*, team\n"
    first = write(tmp_path, "first.csv", SHIPPED + key_admin)
    assert cli("policy", "import", first).returncode == 0

    stale = cli("policy", "import", "--expected-version", "1", first)

    assert stale.returncode == 1
    assert "live policy is version 2, not 1" in stale.stderr


def test_dry_run_plans_without_applying(tmp_path: Path, cli: Cli) -> None:
    rules = write(tmp_path, "proposed.csv", SHIPPED + READONLY_CREATES)

    planned = cli("policy", "import", "--dry-run", rules)

    assert planned.returncode == 1  # it would break the shipped table
    assert "(nothing applied)" in planned.stdout
    assert f"{SHIPPED_CASES - 2}/{SHIPPED_CASES} cases as expected" in planned.stdout
    assert "impact: 0 of 0 credentials" in planned.stdout
    assert cli("policy", "export").stdout == SHIPPED
