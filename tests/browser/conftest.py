"""Cards in a real browser: each vault's ``paperdeck preview``, every card side measured in
Chromium at a phone's and a desktop's width, light and night.

One Chromium for the whole session (Playwright, driving the system's Chromium). Each vault
is previewed once (a real build, imported into a real Anki collection), then every card
document of the preview is opened at each width and measured by ``measure.js`` once it has
typeset its math and decoded its images: the tests only judge the numbers. Screenshots of
every view go to ``$PAPERDECK_SHOTS`` (default: ``<temp>/paperdeck-shots``; empty: none).

The tests skip, saying why, only where Chromium or Anki's web assets (the ``aqt`` wheel,
installed with ``--no-deps``) cannot be had.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from paperdeck.config import load_config
from paperdeck.diagnostics import has_errors
from paperdeck.preview.assets import anki_version, find_anki_assets, install_command
from paperdeck.preview.cards import CardView
from paperdeck.preview.make import PreviewResult, make_preview
from paperdeck.preview.page import DESKTOP, PHONE, SCREEN_HEIGHT, SIDES, document_name

from conftest import REPO

FIXTURE_VAULT = REPO / "tests" / "fixtures" / "hard_cards"
VAULTS = {"notes": REPO / "notes", "hard_cards": FIXTURE_VAULT}
WIDTHS = (PHONE, DESKTOP)
MEASURE = (Path(__file__).parent / "measure.js").read_text(encoding="utf-8")


def chromium_path() -> str | None:
    """``$PAPERDECK_CHROMIUM``, else the system's Chromium (Debian's package puts it on PATH)."""
    named = os.environ.get("PAPERDECK_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def shots_folder() -> Path | None:
    value = os.environ.get("PAPERDECK_SHOTS")
    if value == "":
        return None
    return Path(value) if value else Path(tempfile.gettempdir()) / "paperdeck-shots"


@dataclass
class View:
    """One side of one card, laid out at one width in light or night mode, as measured."""

    vault: str
    index: int
    card: CardView
    side: str
    width: int
    night: bool
    data: dict[str, Any]
    page_errors: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        mode = "night" if self.night else "light"
        title = self.card.title if len(self.card.title) <= 40 else self.card.title[:37] + "..."
        where = self.card.place or self.vault
        return f"{where} [{self.card.template}] {title!r} {self.side} {self.width}px {mode}"


@dataclass
class Measured:
    """A vault's preview and every view of every card in it."""

    name: str
    preview: PreviewResult
    figures: frozenset[str]
    """Media names of the figures paperdeck drew (byte for byte a file of the figures folder)."""
    views: list[View]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The system's Chromium, driven by Playwright: one for the whole session."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "Chromium not found: install it (apt-get install -y chromium) or set "
            "PAPERDECK_CHROMIUM to its path"
        )
    if find_anki_assets() is None:
        pytest.skip(
            f"Anki's MathJax and reviewer CSS are not installed: {install_command(anki_version())}"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def previews(
    seed_figures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], PreviewResult]:
    """Each vault previewed by paperdeck once per session (a real build, imported into a real
    Anki collection), in a copy of its own."""
    done: dict[str, PreviewResult] = {}

    def preview(name: str) -> PreviewResult:
        if name not in done:
            work = tmp_path_factory.mktemp(f"preview-{name}")
            shutil.copytree(VAULTS[name], work / name)
            if name == "notes":
                shutil.copytree(seed_figures, work / "figures")  # drawn once per session
            with pytest.MonkeyPatch.context() as patch:
                patch.chdir(work)
                page = work / "preview" / f"{name}.html"
                done[name] = make_preview(Path(name), page, load_config(Path(name)))
            assert done[name].written, done[name].diagnostics
            assert not has_errors(done[name].diagnostics), done[name].diagnostics
        return done[name]

    return preview


@pytest.fixture(scope="session", params=sorted(VAULTS))
def measured(
    request: pytest.FixtureRequest, browser: Any, previews: Callable[[str], PreviewResult]
) -> Measured:
    """A vault's preview, and each card side measured in every view."""
    name: str = request.param
    preview = previews(name)
    assert preview.anki_assets
    shots = shots_folder()
    if shots is not None:
        shutil.rmtree(shots / name, ignore_errors=True)
        (shots / name).mkdir(parents=True)
    page = browser.new_page()
    errors: list[str] = []
    failed: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: failed.append(f"{req.url}: {req.failure}"))
    views: list[View] = []
    try:
        for index, card in enumerate(preview.cards):
            for side in SIDES:
                for night in (False, True):
                    url = (preview.files / document_name(index, side, night)).as_uri()
                    for width in WIDTHS:
                        errors.clear()
                        failed.clear()
                        page.set_viewport_size({"width": width, "height": SCREEN_HEIGHT})
                        page.goto(url)
                        data = page.evaluate(MEASURE)
                        view = View(
                            name, index, card, side, width, night, data, [*errors], [*failed]
                        )
                        views.append(view)
                        if shots is not None:
                            mode = "night" if night else "light"
                            shot = shots / name / f"card{index:02d}-{side}-{width}-{mode}.png"
                            page.screenshot(path=shot, full_page=True)
    finally:
        page.close()
    figures = _figure_media(preview.files, preview.page.parent.parent / "figures")
    return Measured(name, preview, figures, views)


def _figure_media(media: Path, figures: Path) -> frozenset[str]:
    drawn = {_digest(p) for p in figures.glob("*.png")}
    return frozenset(p.name for p in media.glob("*.png") if _digest(p) in drawn)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
