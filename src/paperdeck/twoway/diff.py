"""What a dry run shows: every planned change in both directions, as unified diffs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def note_diff(path: str, before: str, after: str) -> str:
    """A note's text before and after taking Anki's edits (``a/`` is the file now)."""
    return _diff(before, after, f"a/{path}", f"b/{path}")


def fields_diff(
    label: str, names: Sequence[str], before: Sequence[str], after: Sequence[str]
) -> str:
    """An Anki note's fields now and as the sync will write them, one field per section
    (a field has no last line break to speak of: none is shown missing)."""
    parts = [
        _diff(old + "\n", new + "\n", f"anki/{label}/{name}", f"sync/{label}/{name}")
        for name, old, new in zip(names, before, after, strict=True)
        if old != new
    ]
    return "".join(parts)


def _diff(before: str, after: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        _lines(before), _lines(after), fromfile=old_label, tofile=new_label, lineterm="\n"
    )
    return "".join(lines)


def _lines(text: str) -> list[str]:
    """Lines with their endings (``\\r`` shown, so a changed ending is visible); the last
    one is given one, as ``diff`` says ``\\ No newline at end of file``."""
    lines: Iterable[str] = text.replace("\r\n", "\u240d\n").splitlines(keepends=True)
    out = list(lines)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n\\ No newline at end of file\n"
    return out
