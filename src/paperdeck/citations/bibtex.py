"""BibTeX text to entries with bibtexparser (pure: text in, data out).

Reading happens in two steps so that a large library costs little: :func:`read_bibtex`
splits the whole file into entries once per build (fields as written, LaTeX and all),
and :func:`decode_entry` turns the one entry a note cites into Unicode text (accents such
as ``{\\"o}`` and ``\\'{e}``, braces that protect case such as ``{BERT}``, names split into
first and last parts): decoding every entry of a library of thousands takes seconds.

Both steps are bibtexparser's own: its splitter and ``@string`` resolution, its name
splitting (BibTeX's rules: ``von Last, Jr, First``) and its LaTeX decoding (pylatexenc).
A block it cannot read is reported at its line and the rest of the file is still used.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

TEXT_FIELDS = frozenset(
    {"title", "journal", "journaltitle", "booktitle", "publisher", "school", "institution"}
)
"""Fields shown as text, decoded from LaTeX."""

NAME_FIELDS = frozenset({"author", "editor"})
"""Fields that hold a list of names (``A and B and others``)."""

VERBATIM_FIELDS = frozenset(
    {"year", "date", "doi", "eprint", "archiveprefix", "eprinttype", "url", "file", "note"}
)
"""Fields used as written: identifiers, paths and URLs (LaTeX decoding would mangle
Better BibTeX's escaped ``file`` paths such as ``C\\:\\\\Users``)."""

_KEY_OF_RAW_RE = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()]+)\s*,")


@dataclass(frozen=True)
class RawEntry:
    """One entry as the file writes it."""

    key: str
    entry_type: str
    """Lower case: ``article``, ``inproceedings``, ``misc``, ..."""
    line: int
    """1-based line of ``@type{key,``."""
    fields: tuple[tuple[str, str], ...]
    """``(name in lower case, value)`` for the fields paperdeck reads, outer braces or
    quotes removed and ``@string`` macros resolved, LaTeX left as it is."""


@dataclass(frozen=True)
class Problem:
    """A block of the file that cannot be used."""

    line: int
    """1-based line where the block starts."""
    message: str
    key: str | None = None
    """The key the block was meant to define, when it can be read."""


@dataclass(frozen=True)
class BibFile:
    """The entries of one BibTeX file, by key, and the blocks that could not be read."""

    entries: dict[str, RawEntry] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class BibEntry:
    """One entry decoded to Unicode text: what the Source line shows and links to."""

    key: str
    entry_type: str
    title: str | None
    authors: tuple[str, ...]
    """Each name first-name first (``Kurt Gödel``); ``others`` (``and others``) ends it."""
    fields: dict[str, str]
    """Every field read, in lower case: text fields decoded, the others as written."""

    def get(self, name: str) -> str | None:
        """A field's value, ``None`` when absent or empty."""
        return self.fields.get(name) or None


def read_bibtex(text: str) -> BibFile:
    """Split a BibTeX file into entries (first of each key wins) and problems."""
    from bibtexparser.entrypoint import parse_string
    from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock

    with _quiet():
        library = parse_string(text)
    entries: dict[str, RawEntry] = {}
    for entry in library.entries:
        fields = tuple(
            (f.key.lower(), f.value)
            for f in entry.fields
            if isinstance(f.value, str) and f.key.lower() in _READ_FIELDS
        )
        line = (entry.start_line or 0) + 1
        entries.setdefault(entry.key, RawEntry(entry.key, entry.entry_type.lower(), line, fields))
    problems: list[Problem] = []
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            first = entries.get(block.key)
            where = f" (first at line {first.line})" if first is not None else ""
            message = f"duplicate key @{block.key}{where}: the first entry is used"
            problems.append(Problem(line, message))
            continue
        key = _key_of_raw(block.raw or "")
        if isinstance(block, DuplicateFieldKeyBlock):
            twice = ", ".join(sorted(block.duplicate_keys))
            problems.append(Problem(line, f"entry could not be read: {twice} given twice", key))
            continue
        problems.append(Problem(line, f"entry could not be read: {_reason(block.error)}", key))
    return BibFile(entries, tuple(sorted(problems, key=lambda p: p.line)))


_READ_FIELDS = TEXT_FIELDS | NAME_FIELDS | VERBATIM_FIELDS


def _key_of_raw(raw: str) -> str | None:
    """The key a block that could not be read was meant to define (for messages only)."""
    found = _KEY_OF_RAW_RE.match(raw.lstrip())
    return found.group(1) if found else None


def _reason(error: Exception) -> str:
    """bibtexparser's reason, without the line numbers it counts from 0."""
    from bibtexparser.exceptions import BlockAbortedException

    if isinstance(error, BlockAbortedException):
        return error.abort_reason.strip().rstrip(".")
    return (str(error).strip().splitlines() or [type(error).__name__])[-1].strip().rstrip(".")


def decode_entry(raw: RawEntry) -> BibEntry | str:
    """The entry in Unicode text, or why it cannot be (a name BibTeX's rules cannot split,
    LaTeX that cannot be decoded)."""
    from bibtexparser.library import Library
    from bibtexparser.middlewares import (
        LatexDecodingMiddleware,
        MergeNameParts,
        SeparateCoAuthors,
        SplitNameParts,
    )
    from bibtexparser.model import Entry, Field

    wanted = [(k, v) for k, v in raw.fields if k in TEXT_FIELDS or k in NAME_FIELDS]
    names = Library([Entry(raw.entry_type, raw.key, [Field(k, v) for k, v in wanted])])
    with _quiet():
        for step in (SeparateCoAuthors(), SplitNameParts(), MergeNameParts(style="first")):
            names = step.transform(names)
    if names.failed_blocks:
        return _reason(names.failed_blocks[0].error)
    # Each name becomes a text field of its own, so that its LaTeX is decoded as text.
    flat: list[tuple[str, str]] = []
    for f in names.entries[0].fields:
        values = f.value if isinstance(f.value, list) else [f.value]
        flat += [(f"{f.key.lower()}#{i}", str(v)) for i, v in enumerate(values)]
    decoded = Library([Entry(raw.entry_type, raw.key, [Field(k, v) for k, v in flat])])
    with _quiet():
        decoded = LatexDecodingMiddleware(keep_math_mode=False).transform(decoded)
    if decoded.failed_blocks:
        return _reason(decoded.failed_blocks[0].error)
    text: dict[str, list[str]] = {}
    for f in decoded.entries[0].fields:
        text.setdefault(f.key.partition("#")[0], []).append(_tidy(str(f.value)))
    fields = {k: v for k, v in raw.fields if k in VERBATIM_FIELDS}
    fields |= {k: values[0] for k, values in text.items() if k in TEXT_FIELDS}
    authors = tuple(text.get("author", []))
    return BibEntry(raw.key, raw.entry_type, fields.get("title") or None, authors, fields)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """bibtexparser logs each problem it meets; they come back as data and are reported
    as diagnostics instead, so its log stays silent meanwhile."""
    logger = logging.getLogger("bibtexparser")  # its modules' loggers inherit its level
    before = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(before)


def _tidy(text: str) -> str:
    """Line breaks and runs of spaces as one space (a long title spans lines in a file)."""
    return re.sub(r"\s+", " ", text).strip()
