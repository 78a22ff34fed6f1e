r"""Backslashes in new text: marked before every character that might need one, then kept
only where rendering shows it does (``1\. not a list``, ``\*not em\*``).

A person writes ``a * b``, not ``a \* b``: a needless backslash is noise in the note, and
whether one is needed depends on the whole block, so only rendering can tell.
"""

from __future__ import annotations

from collections.abc import Callable

from paperdeck.cards.unrender.structure import ESCAPE_MARK

# Characters that may need a backslash in text; each gets one only where rendering shows
# it matters. (``{``/``}`` never do: clozes are text; ``%`` does, for ``%%comments%%``.)
_SPECIAL = frozenset("\\`*_[]<>()#+-.!|~=$&%")
_PAIRED = frozenset("*_~`[]=$")
"""Delimiters that come in pairs: escaped all alike (``\\*a\\*``, never ``*a\\*``)."""
_MAX_SINGLE_TRIALS = 200
"""Escapes tried one by one (beyond, a needless backslash is kept: correct, a bit ugly)."""


def mark_specials(text: str) -> str:
    """``text`` with :data:`ESCAPE_MARK` before each character that may need a backslash."""
    return "".join(ESCAPE_MARK + c if c in _SPECIAL else c for c in text)


def settle(marked: str, same_card: Callable[[str], bool]) -> str | None:
    """``marked`` with each optional backslash kept only where rendering needs it
    (``None``: even with all of them it is not the same card)."""
    positions = [i for i, c in enumerate(marked) if c == ESCAPE_MARK]

    def build(keep: set[int]) -> str:
        return "".join(
            ("\\" if i in keep else "") if c == ESCAPE_MARK else c for i, c in enumerate(marked)
        )

    if same_card(build(set())):
        return build(set())
    keep = set(positions)
    if not same_card(build(keep)):
        return None
    for char in sorted({marked[i + 1] for i in positions}):
        trial = {i for i in keep if marked[i + 1] != char}
        if same_card(build(trial)):
            keep = trial
    singles = [i for i in sorted(keep) if marked[i + 1] not in _PAIRED]
    for i in singles[:_MAX_SINGLE_TRIALS]:
        trial = keep - {i}
        if same_card(build(trial)):
            keep = trial
    return build(keep)
