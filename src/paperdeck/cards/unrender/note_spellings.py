r"""The note's own spelling of what Anki shows, and Anki's edit carried onto it.

A formula, embed or link that is as it was is written back as the note wrote it
(``\text{one\_hot}``, ``![[fig.png|300]]``, ``[[Note|label]]``), and an edit is made to the
note's own text (a fixed typo changes that typo only): the note changes where Anki's card
did, nowhere else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from paperdeck.cards.render import split_link, without_comments
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import El, Math, Node
from paperdeck.cards.unrender.tex import normal_tex

_ATOM_SOURCE_RE = re.compile(
    r"\$\$.+?\$\$"
    r"|\$(?=\S)(?:\\.|[^$\\])*?(?<=\S)\$(?![0-9])"
    r"|!?\[\[[^\n]*?\]\]"
    r"|!\[[^\]\n]*\]\((?:<[^>\n]*>|[^)\s]*)\)",
    re.DOTALL,
)


@dataclass
class NoteSpellings:
    """How the note wrote each formula, embed and link that renders to a given node."""

    source: dict[Node, str] = field(default_factory=dict)
    link_targets: dict[str, str] = field(default_factory=dict)
    """A wikilink's URL -> the target the note wrote for it."""
    image_targets: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """A media name -> (the target as the note wrote it, Markdown-style ``![..](..)``)."""
    formulas: list[tuple[Math, str]] = field(default_factory=list)
    """Every formula of the note and how it was written, to find the one Anki edited."""


def note_spellings(source: str, structure: Callable[[str], tuple[El, ...]]) -> NoteSpellings:
    """Render every formula, embed and link of the note alone (``structure`` renders and
    reads Markdown), to know how it wrote the node each one renders to."""
    spellings = NoteSpellings()
    candidates = list(
        dict.fromkeys(m.group(0) for m in _ATOM_SOURCE_RE.finditer(without_comments(source)))
    )
    if not candidates:
        return spellings
    try:
        together = structure("\n\n".join(candidates))
    except LossyError:
        together = ()
    if len(together) != len(candidates):
        together = tuple(_alone(c, structure) for c in candidates)
    for text, block in zip(candidates, together, strict=True):
        if block.tag != "p" or len(block.children) != 1:
            continue
        node = block.children[0]
        if isinstance(node, str):
            continue
        spellings.source.setdefault(node, text)
        if isinstance(node, Math):
            spellings.formulas.append((node, text))
        if isinstance(node, El) and node.tag == "wikilink" and node.attr("href"):
            target = split_link(text.removeprefix("!")[2:-2])[0]
            spellings.link_targets.setdefault(node.attr("href") or "", target)
        if isinstance(node, El) and node.tag == "img":
            src = node.attr("src") or ""
            if text.startswith("![["):
                spellings.image_targets.setdefault(src, (split_link(text[3:-2])[0], False))
            else:
                destination = text[text.index("](") + 2 : -1]
                spellings.image_targets.setdefault(src, (destination, True))
    return spellings


def _alone(text: str, structure: Callable[[str], tuple[El, ...]]) -> El:
    try:
        blocks = structure(text)
    except LossyError:
        return El("#")
    return blocks[0] if len(blocks) == 1 else El("#")


def edited_formula(math: Math, spellings: NoteSpellings, cloze: bool) -> str | None:
    """The note's most similar formula with Anki's edit made to its own TeX, so that a
    fixed typo changes that typo only (``\\text{one\\_hot}`` stays as written)."""
    best: tuple[Math, str] | None = None
    best_ratio = 0.6
    for node, written in spellings.formulas:
        if node.display == math.display:
            ratio = difflib.SequenceMatcher(None, node.tex, math.tex, autojunk=False).ratio()
            if ratio > best_ratio:
                best, best_ratio = (node, written), ratio
    if best is None:
        return None
    node, written = best
    parts = re.fullmatch(r"(\$\$?\s*)(.*?)(\s*\$\$?)", written, re.DOTALL)
    if parts is None:
        return None
    edited = apply_edit(parts.group(2), node.tex, math.tex)
    if edited is None or normal_tex(edited, cloze) != math.tex:
        return None
    return parts.group(1) + edited + parts.group(3)


def apply_edit(written: str, rendered: str, edited: str) -> str | None:
    """The change from ``rendered`` to ``edited`` made to ``written`` (which renders to
    ``rendered``), where each changed stretch maps onto ``written``; else ``None``."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    alignment = difflib.SequenceMatcher(None, written, rendered, autojunk=False)
    for a, b, size in alignment.get_matching_blocks():
        for k in range(size):
            starts[b + k] = a + k
            ends[b + k + 1] = a + k + 1
    out: list[str] = []
    done = 0
    changes = difflib.SequenceMatcher(None, rendered, edited, autojunk=False)
    for tag, i1, i2, j1, j2 in changes.get_opcodes():
        if tag == "equal":
            continue
        low = starts.get(i1, ends.get(i1)) if i1 < i2 else ends.get(i1, starts.get(i1))
        high = ends.get(i2, starts.get(i2)) if i1 < i2 else low
        if low is None or high is None or low < done or high < low:
            return None
        out.append(written[done:low] + edited[j1:j2])
        done = high
    out.append(written[done:])
    return "".join(out)
