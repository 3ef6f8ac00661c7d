"""Small parsing of user-given text, shared by the command line and the scripts."""

from __future__ import annotations


def split_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
