"""The `mailkeys` command: one module per command group, `main` the entry point."""

from mailkeys.cli.main import main

__all__ = ["main"]
