"""Loading YAML from notes (front matter, figure specs) in bounded time and memory.

``yaml.safe_load`` alone is not enough for text anyone can write: aliases expand into
billion-laughs bombs, deep nesting overflows the recursive composer, and a long number
becomes an int that Python refuses to print. Every such input is refused here as a
:class:`RefusedYaml` (a ``yaml.YAMLError`` with a mark), so callers handle it like any
other YAML error.
"""

from __future__ import annotations

from typing import Any

import yaml

from paperdeck.diagnostics import clip

MAX_DEPTH = 32
"""Nesting deeper than this is refused; no note needs more than a few levels."""
MAX_NUMBER_CHARS = 100
"""Longer integers are refused: Python will not print one over 4300 digits."""


class RefusedYaml(yaml.MarkedYAMLError):
    """Valid YAML that paperdeck will not load (an alias, deep nesting, a huge number)."""


def _refuse(problem: str, mark: Any) -> RefusedYaml:
    return RefusedYaml(problem=problem, problem_mark=mark)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_NUMBER_CHARS:
        raise _refuse(f"number longer than {MAX_NUMBER_CHARS} characters", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)  # type: ignore[arg-type]


class _Loader(yaml.SafeLoader):
    """The safe loader, with construction failures (a bad date, ...) reported at their node."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise _refuse(f"cannot read value: {clip(str(exc))}", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def check_events(text: str) -> None:
    """Refuse aliases and deep nesting, reading events only as far as the first offence.

    Runs before anything is composed, so neither an alias bomb nor 20,000 brackets ever
    reach the (recursive, expanding) composer.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            alias = clip(f"*{event.anchor}")
            raise _refuse(f"aliases ({alias}) are not allowed", event.start_mark)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def compose(text: str) -> yaml.Node | None:
    """The node tree of a single-document text (``None`` when empty); raises ``YAMLError``."""
    check_events(text)
    return yaml.compose(text, Loader=_Loader)


def construct(node: yaml.Node) -> Any:
    """The Python value of a node from :func:`compose`; raises ``YAMLError``."""
    return _Loader("").construct_document(node)


def load(text: str) -> Any:
    """``yaml.safe_load`` within bounds; raises ``YAMLError`` (:class:`RefusedYaml` included)."""
    node = compose(text)
    return None if node is None else construct(node)


def describe(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """Where a YAML error is (0-based line in the text, if known) and a short problem."""
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "not valid YAML"
    return (mark.line if mark is not None else None), clip(str(problem))
