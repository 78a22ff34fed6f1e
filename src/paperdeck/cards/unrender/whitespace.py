r"""White space and emphasis in a line as a browser shows them: what a reader sees is all
that two spellings of a card must share.

``a  b``, ``a&nbsp;b`` and ``a\nb`` show one space; ``<b>word </b>`` shows as
``<b>word</b> ``; ``</b><b>`` and an empty ``<b></b>`` show nothing. A line is tidied into
that one form, so Anki's editor's spellings are not edits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from paperdeck.cards.unrender.structure import (
    BR,
    RAW_INLINE_TAGS,
    WHITE_SPACE,
    WHITE_SPACE_RE,
    El,
    Math,
    Node,
)

_CONTAINERS = frozenset({"strong", "em", "s", "mark", "a", *RAW_INLINE_TAGS})
_SPACED_OUT = frozenset({"strong", "em", "s", "mark"})

_Token = tuple[str, object]


def tidy(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """One line run as a browser shows it: white space collapsed and trimmed at line ends,
    spaces moved out of emphasis, empty emphasis dropped and touching emphasis merged.

    Beside display math a line break is kept as ``"\\n"`` (paperdeck renders the note's
    line break there as a newline, not ``<br>``, and a space as a space), so the note's
    ``text\\n$$x$$`` and ``text $$x$$`` stay apart; a ``<br>`` there counts as that newline.
    """
    tokens = _flatten(nodes, [])
    for i, token in enumerate(tokens):
        if token == ("atom", BR):
            before = next((t for t in reversed(tokens[:i]) if not _blank_text(t)), None)
            after = next((t for t in tokens[i + 1 :] if not _blank_text(t)), None)
            if (before and _is_display(before)) or (after and _is_display(after)):
                tokens[i] = ("text", "\n")
    tokens = _merge(tokens)
    for i, token in enumerate(tokens):
        if token[0] == "text":
            follows = i > 0 and _is_display(tokens[i - 1])
            precedes = i + 1 < len(tokens) and _is_display(tokens[i + 1])
            tokens[i] = ("text", _collapse(_text(token), follows, precedes))
    while (moved := _space_out(tokens)) is not None:
        tokens = _merge(moved)
    return _rebuild(_merge(_trim(_merge(tokens))))


def _flatten(nodes: Sequence[Node], out: list[_Token]) -> list[_Token]:
    for node in nodes:
        if isinstance(node, str):
            out.append(("text", node))
        elif isinstance(node, El) and node.tag in _CONTAINERS:
            out.append(("open", El(node.tag, node.attrs)))
            _flatten(node.children, out)
            out.append(("close", node.tag))
        else:
            out.append(("atom", node))
    return out


def _is_display(token: _Token) -> bool:
    return token[0] == "atom" and isinstance(token[1], Math) and token[1].display


def _text(token: _Token) -> str:
    value = token[1]
    assert isinstance(value, str)
    return value


def _blank_text(token: _Token) -> bool:
    return token[0] == "text" and not _text(token).strip(WHITE_SPACE)


def _collapse(text: str, after_display: bool, before_display: bool) -> str:
    """White space as one space, or as one newline where it has one beside display math."""

    def one(run: str) -> str:
        return "\n" if "\n" in run else " "

    if not text.strip(WHITE_SPACE):
        return one(text) if after_display or before_display else " " if text else ""
    head = re.match(f"[{WHITE_SPACE}]*", text)
    tail = re.search(f"[{WHITE_SPACE}]*$", text)
    assert head and tail
    start, end = head.end(), tail.start()
    middle = WHITE_SPACE_RE.sub(" ", text[start:end])
    lead = (one(head.group(0)) if after_display else " ") if start else ""
    trail = (one(tail.group(0)) if before_display else " ") if end < len(text) else ""
    return lead + middle + trail


def _space_out(tokens: list[_Token]) -> list[_Token] | None:
    """One space at the inner edge of emphasis moved outside it (``None``: there is none)."""
    for i, (kind, value) in enumerate(tokens):
        if kind == "open" and isinstance(value, El) and value.tag in _SPACED_OUT:
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if after and after[0] == "text" and _text(after).startswith(" "):
                rest = ("text", _text(after)[1:])
                return [*tokens[:i], ("text", " "), tokens[i], rest, *tokens[i + 2 :]]
        if kind == "close" and value in _SPACED_OUT and i:
            before = tokens[i - 1]
            if before[0] == "text" and _text(before).endswith(" "):
                rest = ("text", _text(before)[:-1])
                return [*tokens[: i - 1], rest, tokens[i], ("text", " "), *tokens[i + 1 :]]
    return None


def _merge(tokens: list[_Token]) -> list[_Token]:
    """Adjacent texts joined, empty emphasis dropped, ``</b><b>`` joined, until stable."""
    while True:
        out: list[_Token] = []
        for token in tokens:
            if token == ("text", ""):
                continue
            last = out[-1] if out else None
            if last and last[0] == "text" and token[0] == "text":
                out[-1] = ("text", _text(last) + _text(token))
            elif (
                last
                and last[0] == "open"
                and token[0] == "close"
                and isinstance(last[1], El)
                and last[1].tag != "a"
            ) or (
                last
                and last[0] == "close"
                and token[0] == "open"
                and isinstance(token[1], El)
                and _open_before(out) == token[1]
            ):
                out.pop()
            else:
                out.append(token)
        if out == tokens:
            return out
        tokens = out


def _open_before(out: list[_Token]) -> object:
    """The element whose close tag ends ``out``."""
    depth = 0
    for token in reversed(out):
        if token[0] == "close":
            depth += 1
        elif token[0] == "open":
            depth -= 1
            if depth == 0:
                return token[1]
    return None


def _trim(tokens: list[_Token]) -> list[_Token]:
    """Collapse spaces across tags and drop them at the start and end of every line."""
    out: list[_Token] = []
    space_before = True

    def strip_trailing() -> None:
        for k in range(len(out) - 1, -1, -1):
            if out[k][0] == "text":
                out[k] = ("text", _text(out[k]).rstrip(" \n"))
                return
            if out[k][0] == "atom":
                return

    for token in tokens:
        if token[0] == "text":
            value = _text(token)
            if space_before:
                value = value.lstrip(" \n")
            if value:
                out.append(("text", value))
                space_before = value.endswith((" ", "\n"))
        elif token == ("atom", BR):
            strip_trailing()
            out.append(token)
            space_before = True
        else:
            out.append(token)
            if token[0] == "atom":
                space_before = False
    strip_trailing()
    return out


def _rebuild(tokens: list[_Token]) -> tuple[Node, ...]:
    stack: list[tuple[El, list[Node]]] = [(El("#"), [])]
    for kind, value in tokens:
        if kind == "text" and isinstance(value, str):
            if value:
                stack[-1][1].append(value)
        elif kind == "open" and isinstance(value, El):
            stack.append((value, []))
        elif kind == "close":
            element, children = stack.pop()
            stack[-1][1].append(El(element.tag, element.attrs, tuple(children)))
        elif isinstance(value, Node):
            stack[-1][1].append(value)
    return tuple(stack[0][1])
