"""Regex note styles: Obsidian_to_Anki's "custom regexps", each a regex whose capture groups
are the fields of one note type, and the plugin's documented presets as named styles.

A style is checked when the configuration is read: a regex that does not compile, has no
group, matches empty text, or repeats a repeated part with nothing to tell the turns apart
(``(a+)+``, which can take exponential time) is refused there, naming the style.
"""

from __future__ import annotations

import re
import string
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paperdeck.notes.fields import known_fields

with warnings.catch_warnings():  # the stable spelling of re's parser until 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as _sc
    import sre_parse as _sp

_PARAGRAPH_LINE = r"(?:^.{1,3}$|^.{4}(?<!<!--).*)"
# name -> (regex, note type); ``None`` for the two presets that paperdeck's own reader
# covers better than a regex would (it knows fences, IDs and where a card ends).
PRESETS: dict[str, tuple[str, str] | None] = {
    "question-answer": None,
    "cloze-paragraph": None,
    "remnote": (r"^(.*[^\n:]{1}):{2}([^\n:]{1}.*)", "Basic"),
    "header-paragraph": (
        r"^#{1,6}[ \t]+(.+)\n*((?:\n(?:^[^\n#].{0,2}$|^[^\n#].{3}(?<!<!--).*))+)",
        "Basic",
    ),
    "subheader-paragraph": (
        r"^#{2,6}[ \t]+(.+)\n*((?:\n(?:^[^\n#].{0,2}$|^[^\n#].{3}(?<!<!--).*))+)",
        "Basic",
    ),
    "neuracache": (
        r"((?:[^\n][\n]?)+) #flashcard ?\n*((?:\n" + _PARAGRAPH_LINE + r")+)",
        "Basic",
    ),
    "ruled": (r"((?:[^\n][\n]?)+\n)-{3,}((?:\n" + _PARAGRAPH_LINE + r")*)", "Basic"),
    "table": (r"\|([^\n|]+)\|\n\|(?:[^\n|]+)\|\n\|([^\n|]+)\|\n?", "Basic"),
}
TAGS_SUFFIX = r"(Tags: .*)"
"""Appended to a style's regex, as the plugin does: tags right after the match."""


class StyleError(ValueError):
    """A regex style that cannot be used; the message says why."""


@dataclass(frozen=True)
class NoteStyle:
    """One regex style: every match is a card of ``note_type``."""

    name: str
    """The preset's name, or ``custom_styles[N]`` for the N-th of the configuration."""
    regex: str
    note_type: str
    fields: tuple[str, ...]
    """Field names, one per capture group in order (later fields stay empty)."""
    pattern: re.Pattern[str] = field(compare=False, repr=False)
    with_tags: re.Pattern[str] = field(compare=False, repr=False)
    """``regex`` followed by ``Tags: ...``: its last group is the tag list."""


def make_style(
    name: str,
    regex: str,
    note_type: str,
    fields: tuple[str, ...] | None = None,
    note_fields: Mapping[str, tuple[str, ...]] | None = None,
) -> NoteStyle:
    """A checked style; :class:`StyleError` says what is wrong with it."""
    try:
        pattern = re.compile(regex, re.MULTILINE)
        with_tags = re.compile(regex + TAGS_SUFFIX, re.MULTILINE)
    except re.error as exc:
        raise StyleError(f"invalid regex: {exc}") from exc
    except RecursionError as exc:
        raise StyleError("invalid regex: nested too deeply") from exc
    if pattern.groups == 0:
        raise StyleError("regex has no capture group: each (...) group is a field")
    if pattern.search("") is not None or pattern.search("\n") is not None:
        raise StyleError("regex matches empty text, so it would make cards of nothing")
    if (risk := exponential_risk(regex)) is not None:
        raise StyleError(f"regex may take exponential time: {risk}")
    names = fields or known_fields(note_type, note_fields)
    if not names:
        raise StyleError(f"the fields of note type {note_type!r} are not known: give 'fields'")
    if pattern.groups > len(names):
        raise StyleError(
            f"regex has {pattern.groups} groups but {note_type!r} has {len(names)} fields "
            "(use (?:...) for a group that is not a field)"
        )
    return NoteStyle(name, regex, note_type, tuple(names), pattern, with_tags)


def preset(name: str, note_fields: Mapping[str, tuple[str, ...]] | None = None) -> NoteStyle:
    """The preset regex style ``name`` (not the two that paperdeck's reader covers)."""
    spec = PRESETS[name]
    assert spec is not None
    return make_style(name, spec[0], spec[1], None, note_fields)


# --- a guard against catastrophic backtracking ---------------------------------------------

_REPEATS = {_sc.MAX_REPEAT, _sc.MIN_REPEAT, getattr(_sc, "POSSESSIVE_REPEAT", _sc.MAX_REPEAT)}
_SAMPLE = string.printable + "\u00a0\u00e9\u0661\u4e2d\u2028"
_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
CharTest = Callable[[str], bool]


def exponential_risk(regex: str) -> str | None:
    """Why ``regex`` may backtrack exponentially, or ``None`` when it looks safe.

    A heuristic, not a proof: it finds a repeat without an upper bound whose body also
    repeats without a bound, unless every turn of the outer repeat must match a character
    the inner repeats cannot (``(?:.+\\n)*`` is safe: ``.`` never matches a line break).
    """
    try:
        tree = _sp.parse(regex, re.MULTILINE)
    except (re.error, RecursionError):
        return None  # reported by compiling it
    # A scoped ``(?s:...)`` anywhere counts for the whole regex: a safe over-estimate.
    items: list[tuple[Any, Any]] = list(tree.data)
    dotall = bool(tree.state.flags & re.DOTALL) or _scoped_dotall(items)
    return _risk(items, dotall)


def _scoped_dotall(items: list[tuple[Any, Any]]) -> bool:
    for op, av in items:
        if op is _sc.SUBPATTERN and av[1] & re.DOTALL:
            return True
        if any(_scoped_dotall(list(body)) for body in _children(op, av)):
            return True
    return False


def _risk(items: list[tuple[Any, Any]], dotall: bool) -> str | None:
    for op, av in items:
        for body in _children(op, av):
            if op in _REPEATS and av[1] == _sc.MAXREPEAT:
                inner = _inner_chars(list(body), dotall)
                if inner and not _separated(list(body), inner, dotall):
                    return "a repeated part repeats inside with nothing to tell the turns apart"
            if (found := _risk(list(body), dotall)) is not None:
                return found
    return None


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns directly inside one item."""
    if op in _REPEATS:
        return [av[2]]
    if op is _sc.SUBPATTERN:
        return [av[-1]]
    if op is _sc.BRANCH:
        return list(av[1])
    if op in (_sc.ASSERT, _sc.ASSERT_NOT):
        return [av[1]]
    if op is getattr(_sc, "ATOMIC_GROUP", None):
        return [av]
    if op is _sc.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    return []


def _inner_chars(items: list[tuple[Any, Any]], dotall: bool) -> list[CharTest]:
    """Character tests of everything inside unbounded repeats within ``items``."""
    found: list[CharTest] = []
    for op, av in items:
        for body in _children(op, av):
            if op in _REPEATS and av[1] == _sc.MAXREPEAT:
                found.extend(_all_chars(list(body), dotall))
            else:
                found.extend(_inner_chars(list(body), dotall))
    return found


def _all_chars(items: list[tuple[Any, Any]], dotall: bool) -> list[CharTest]:
    found: list[CharTest] = []
    for op, av in items:
        test = _char_test(op, av, dotall)
        if test is not None:
            found.append(test)
        elif op is _sc.GROUPREF:
            found.append(lambda c: True)
        for body in _children(op, av):
            found.extend(_all_chars(list(body), dotall))
    return found


def _separated(items: list[tuple[Any, Any]], inner: list[CharTest], dotall: bool) -> bool:
    """Does every turn of ``items`` match a character that no inner repeat can match?"""
    for op, av in _mandatory(items):
        test = _char_test(op, av, dotall)
        if test is None:
            continue
        if not any(test(c) and other(c) for other in inner for c in _SAMPLE):
            return True
    return False


def _mandatory(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Single items that every match of the sequence ``items`` must go through."""
    found: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is _sc.SUBPATTERN:
            found.extend(_mandatory(list(av[-1])))
        elif op in _REPEATS and av[0] >= 1:
            found.extend(_mandatory(list(av[2])))
        else:
            found.append((op, av))
    return found


def _char_test(op: Any, av: Any, dotall: bool) -> CharTest | None:
    """A test for the one character that ``op`` matches, or ``None`` when it is no single
    character."""
    if op is _sc.LITERAL:
        return lambda c: ord(c) == av
    if op is _sc.NOT_LITERAL:
        return lambda c: ord(c) != av
    if op is _sc.ANY:
        return lambda c: dotall or c != "\n"
    if op is _sc.IN:
        return _set_test(list(av))
    return None


def _set_test(items: list[tuple[Any, Any]]) -> CharTest:
    negate = bool(items) and items[0][0] is _sc.NEGATE
    members = items[1:] if negate else items

    def test(c: str) -> bool:
        return negate != any(_in_member(op, av, c) for op, av in members)

    return test


def _in_member(op: Any, av: Any, c: str) -> bool:
    """Does ``c`` match one member of a ``[...]`` set (unknown kinds: assume it does)?"""
    if op is _sc.LITERAL:
        return bool(ord(c) == av)
    if op is _sc.RANGE:
        return bool(av[0] <= ord(c) <= av[1])
    if op is _sc.CATEGORY and str(av) in _CATEGORIES:
        return re.fullmatch(_CATEGORIES[str(av)], c) is not None
    return True
