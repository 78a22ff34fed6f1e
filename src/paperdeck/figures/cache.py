"""Render a figure only when its spec or the figure code changed.

Each rendered PNG's key (a hash of its kind, parameters and the figure code's source) is
kept in ``<figures>/.paperdeck-figures.json``. A figure whose PNG exists and whose key is
unchanged is reused as it is: same bytes, same mtime, and torch and matplotlib are never
imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from paperdeck.diagnostics import PaperdeckError
from paperdeck.figures.spec import FigureSpec
from paperdeck.fileio import atomic_write_bytes

MANIFEST = ".paperdeck-figures.json"
# The modules whose source decides what a figure looks like.
_CODE_MODULES = ("paperdeck.figures.draw", "paperdeck.figures.display", "paperdeck.gumbel")

Progress = Callable[[str, int, int, str], None]
"""Called as ``progress(stage, done, total, item)`` as long work goes on; ``item`` is empty
when the stage is finished."""


@cache
def code_version() -> str:
    """A hash of the figure code's source, read from disk without importing it."""
    digest = hashlib.sha256()
    for module in _CODE_MODULES:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise PaperdeckError(f"figure code {module} is missing from this installation")
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


def spec_key(spec: FigureSpec) -> str:
    """What a figure's pixels depend on: kind, parameters and code version."""
    payload = {"kind": spec.kind, "params": dict(spec.params), "code": code_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def read_manifest(figures_dir: Path) -> dict[str, str]:
    """Figure name to the key it was rendered with; empty when absent or unreadable."""
    try:
        data = json.loads((figures_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def stale(specs: Sequence[FigureSpec], figures_dir: Path) -> list[FigureSpec]:
    """The specs whose PNG is missing or was rendered from another spec or code."""
    manifest = read_manifest(figures_dir)
    return [
        s
        for s in specs
        if manifest.get(s.name) != spec_key(s) or not (figures_dir / s.name).is_file()
    ]


def render(
    specs: Sequence[FigureSpec],
    figures_dir: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> list[FigureSpec]:
    """Render the stale figures (all with ``force``); return the ones rendered."""
    todo = list(specs) if force else stale(specs, figures_dir)
    if not todo:
        return []
    try:
        from paperdeck.figures.draw import DRAWERS, save_figure
    except ImportError as exc:  # the [figures] extra is not installed
        raise PaperdeckError(
            f"rendering figures needs torch and matplotlib ({exc.name} is missing): "
            "pip install 'paperdeck[figures]'"
        ) from exc
    figures_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(figures_dir)
    for done, spec in enumerate(todo):
        if progress is not None:
            progress("Rendering figures", done, len(todo), spec.name)
        figure = DRAWERS[spec.kind](**spec.params)
        save_figure(figure, figures_dir / spec.name)
        manifest[spec.name] = spec_key(spec)
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(figures_dir / MANIFEST, text.encode())
    if progress is not None:
        progress("Rendering figures", len(todo), len(todo), "")
    return todo
