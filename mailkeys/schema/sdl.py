"""The schema as SDL: what `schema.graphql` holds and `mailkeys schema export` writes."""

from __future__ import annotations

from mailkeys.schema import build_schema
from mailkeys.settings import Settings


def schema_sdl() -> str:
    """The live schema in SDL, ending in one newline (the settings do not change it)."""
    return build_schema(Settings()).as_str().rstrip("\n") + "\n"
