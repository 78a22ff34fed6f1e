"""Small text helpers shared by the commands and the figures."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """``1 card``, ``2 cards``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
