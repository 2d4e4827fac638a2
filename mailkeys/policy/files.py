"""The files shipped with the package: the Casbin model, the policy, the shipped decision table.

At the repository root they are `casbin_model.conf`, `casbin_policy.csv` and
`policy_tests/shipped.csv`; the package carries them as links under `mailkeys/data/`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_TABLE_NAME = "policy_tests/shipped.csv"


def _data(name: str) -> str:
    return resources.files("mailkeys").joinpath(f"data/{name}").read_text()


def shipped_model_text() -> str:
    """The shipped Casbin model (`casbin_model.conf`)."""
    return _data("casbin_model.conf")


def shipped_policy_text() -> str:
    """The shipped policy (`casbin_policy.csv`)."""
    return _data("casbin_policy.csv")


def shipped_table_text() -> str:
    """The shipped presets' decision table (`policy_tests/shipped.csv`)."""
    return _data("policy_table_shipped.csv")


def read_text(path: Path | None, fallback: str) -> str:
    """The file's text if a path is configured, else the shipped text."""
    return path.read_text() if path is not None else fallback
