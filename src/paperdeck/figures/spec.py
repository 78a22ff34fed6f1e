"""Figure specs in notes: a fenced ``paperdeck-figure`` block of YAML.

    ```paperdeck-figure
    name: gumbel-softmax-simplex.png
    kind: simplex
    pi: [2, 0.5, 1]
    tau: [0, 1/2, 1, 2]
    ```

The note embeds the figure with an ordinary ``![[gumbel-softmax-simplex.png]]``, so it stays
valid Obsidian Markdown. Checking a spec is pure and cheap: it never imports torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from paperdeck import yamlsafe
from paperdeck.diagnostics import Diagnostic, clip, error
from paperdeck.notes.model import Note

FENCE_INFO = "paperdeck-figure"
# Beyond these the densities under- or overflow and a panel shows nothing readable.
MAX_TAU = 1000.0
MAX_PI_RATIO = 1e12
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.png")
# ``0.5``, ``1e-3`` or ``a/b`` of two such; float() reads each part, so ``1e99999999`` is
# inf at once (Fraction would build 10**99999999), and the length cap bounds the rest.
_DECIMAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER_RE = re.compile(rf"\s*({_DECIMAL})\s*(?:/\s*({_DECIMAL})\s*)?")
_MAX_NUMBER_TEXT = 40


class SpecError(ValueError):
    """A parameter that a figure kind cannot draw."""


@dataclass(frozen=True)
class FigureSpec:
    """A checked figure spec: the draw function's keyword arguments, with defaults filled in."""

    name: str
    kind: str
    params: Mapping[str, Any]
    path: str
    line: int
    """1-based line of the opening fence."""


# --- parameter checkers: raw YAML value in, clean value out ------------------------------


def _shown(value: Any) -> str:
    return clip(repr(value))


def _number(value: Any) -> float:
    if isinstance(value, str):
        number = _parse_number(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    else:
        raise SpecError(f"expected a number, got {_shown(value)}")
    if not math.isfinite(number):
        raise SpecError(f"expected a finite number, got {_shown(value)}")
    return number


def _parse_number(text: str) -> float:
    """A number YAML left as text (``1/2``, ``1e-3``); inf when out of range, never slow."""
    m = _NUMBER_RE.fullmatch(text) if len(text) <= _MAX_NUMBER_TEXT else None
    if m is None:
        raise SpecError(f"expected a number, got {_shown(text)}")
    numerator = float(m.group(1))
    if m.group(2) is None:
        return numerator
    denominator = float(m.group(2))
    if denominator == 0:
        raise SpecError(f"division by zero in {_shown(text)}")
    return numerator / denominator


def _numbers(value: Any) -> list[float]:
    items = value if isinstance(value, list) else [value]
    return [_number(v) for v in items]


def probabilities(
    count: Callable[[int], bool], expected: str
) -> Callable[[Any], tuple[float, ...]]:
    """Unnormalised class probabilities: all positive, as many as the kind can draw."""

    def check(value: Any) -> tuple[float, ...]:
        pi = _numbers(value)
        if any(p <= 0 for p in pi):
            raise SpecError(f"probabilities must be positive, got {_shown(pi)}")
        if max(pi) / min(pi) > MAX_PI_RATIO:
            raise SpecError(f"the largest probability is over {MAX_PI_RATIO:g} times the smallest")
        if not count(len(pi)):
            raise SpecError(f"this kind draws {expected} categories, got {len(pi)}")
        return tuple(pi)

    return check


def temperatures(*, allow_zero: bool) -> Callable[[Any], tuple[float, ...]]:
    """One to eight temperatures, each >= 0 (> 0 where a gradient is needed)."""

    def check(value: Any) -> tuple[float, ...]:
        taus = _numbers(value)
        if not 1 <= len(taus) <= 8:
            raise SpecError(f"give 1 to 8 temperatures, got {len(taus)}")
        for tau in taus:
            if tau < 0 or (tau == 0 and not allow_zero):
                bound = ">= 0" if allow_zero else "> 0"
                raise SpecError(f"temperature must be {bound}, got {tau:g}")
            if tau > MAX_TAU:
                raise SpecError(f"temperature must be at most {MAX_TAU:g}, got {tau:g}")
        return tuple(taus)

    return check


def integer(low: int, high: int) -> Callable[[Any], int]:
    """An integer in ``[low, high]``."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SpecError(f"expected an integer from {low} to {high}, got {_shown(value)}")
        return value

    return check


def bounded(low: float, high: float) -> Callable[[Any], float]:
    """A number in ``[low, high]``: beyond it the figure shows nothing readable."""

    def check(value: Any) -> float:
        number = _number(value)
        if not low <= number <= high:
            raise SpecError(f"expected a number from {low:g} to {high:g}, got {number:g}")
        return number

    return check


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: the draw function's keyword, its checker and default."""

    keyword: str
    check: Callable[[Any], Any]
    default: Any


_SEED = Param("seed", integer(0, 2**63 - 1), 0)

KINDS: dict[str, dict[str, Param]] = {
    "simplex": {
        "pi": Param("pi", probabilities(lambda k: k == 3, "exactly 3"), (2.0, 0.5, 1.0)),
        "tau": Param("taus", temperatures(allow_zero=True), (0.0, 0.5, 1.0, 2.0)),
        "samples": Param("samples", integer(0, 200_000), 2000),
        "grid": Param("grid", integer(10, 600), 200),
        "seed": _SEED,
    },
    "segment": {
        "pi": Param("pi", probabilities(lambda k: k == 2, "exactly 2"), (2.0, 1.0)),
        "tau": Param("taus", temperatures(allow_zero=True), (0.0, 0.5, 1.0, 2.0)),
        "samples": Param("samples", integer(0, 1_000_000), 5000),
        "bins": Param("bins", integer(5, 500), 60),
        "seed": _SEED,
    },
    "bars": {
        "pi": Param(
            "pi",
            probabilities(lambda k: 2 <= k <= 20, "2 to 20"),
            (0.1, 0.05, 0.3, 0.35, 0.2),
        ),
        "tau": Param("taus", temperatures(allow_zero=True), (0.1, 0.5, 1.0, 10.0)),
        "samples": Param("samples", integer(1, 1_000_000), 2000),
        "seed": _SEED,
    },
    "gradient-variance": {
        "theta": Param("theta", bounded(-30, 30), 0.0),
        "tau": Param("taus", temperatures(allow_zero=False), (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)),
        "samples": Param("samples", integer(100, 1_000_000), 20000),
        "target": Param("target", bounded(-10, 10), 0.499),
        "seed": _SEED,
    },
}


def read_figure_specs(note: Note) -> tuple[list[FigureSpec], list[Diagnostic]]:
    """Every ``paperdeck-figure`` block of a note, checked; problems name their line."""
    specs: list[FigureSpec] = []
    problems: list[Diagnostic] = []
    for fence in note.fences:
        if fence.info.split()[:1] != [FENCE_INFO]:
            continue
        spec, found = parse_spec(fence.content, path=note.path, fence_line=fence.line)
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    return specs, problems


def parse_spec(
    content: str, *, path: str, fence_line: int
) -> tuple[FigureSpec | None, list[Diagnostic]]:
    """Check one spec block; the content starts on the line after ``fence_line``."""
    first = fence_line + 1
    try:
        root = yamlsafe.compose(content)
    except yaml.YAMLError as exc:
        offset, problem = yamlsafe.describe(exc)
        line = first + offset if offset is not None else fence_line
        return None, [error(path, line, f"invalid figure spec: {problem}")]
    if not isinstance(root, yaml.MappingNode):
        return None, [error(path, fence_line, "figure spec must be a mapping of keys")]
    raw: dict[str, tuple[Any, int]] = {}
    problems: list[Diagnostic] = []
    for key_node, value_node in root.value:
        line = first + key_node.start_mark.line
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(error(path, line, "figure spec keys must be plain names"))
            continue
        try:
            raw[str(key_node.value)] = (yamlsafe.construct(value_node), line)
        except yaml.YAMLError as exc:
            offset, problem = yamlsafe.describe(exc)
            at = first + offset if offset is not None else line
            problems.append(error(path, at, f"invalid figure spec: {problem}"))
    if problems:
        return None, problems
    return _check(raw, path=path, fence_line=fence_line)


def _check(
    raw: Mapping[str, tuple[Any, int]], *, path: str, fence_line: int
) -> tuple[FigureSpec | None, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    name, name_line = raw.get("name", (None, fence_line))
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        message = f"figure 'name' must be a file name ending in .png, got {_shown(name)}"
        problems.append(error(path, name_line, message))
    kind, kind_line = raw.get("kind", (None, fence_line))
    if not isinstance(kind, str) or kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        message = f"unknown figure kind {_shown(kind)}; known: {known}"
        problems.append(error(path, kind_line, message))
        return None, problems
    params = KINDS[kind]
    values: dict[str, Any] = {p.keyword: p.default for p in params.values()}
    for key, (value, line) in raw.items():
        if key in ("name", "kind"):
            continue
        if key not in params:
            known = ", ".join(["name", "kind", *params])
            problems.append(
                error(path, line, f"unknown parameter {_shown(key)} for {kind}; known: {known}")
            )
            continue
        try:
            values[params[key].keyword] = params[key].check(value)
        except SpecError as exc:
            problems.append(error(path, line, f"invalid {key!r}: {exc}"))
    if problems:
        return None, problems
    assert isinstance(name, str)
    return FigureSpec(name, kind, values, path, fence_line), []


def duplicate_name_errors(specs: Sequence[FigureSpec]) -> list[Diagnostic]:
    """Two specs that would write the same file: an error at each."""
    by_name: dict[str, list[FigureSpec]] = {}
    for spec in specs:
        by_name.setdefault(spec.name, []).append(spec)
    found: list[Diagnostic] = []
    for name, same in by_name.items():
        for spec in same if len(same) > 1 else []:
            others = ", ".join(f"{o.path}:{o.line}" for o in same if o is not spec)
            found.append(
                error(spec.path, spec.line, f"figure {name!r} is also defined at {others}")
            )
    return found
