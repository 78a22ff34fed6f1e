"""``paperdeck report``'s page in Chromium, at a phone's width and a desktop's: nothing wider
than the screen, every plot loaded and shown whole at the width it was drawn for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from study_history import ADAM, ATTENTION, BATCHNORM, studied_collection

from .conftest import shots_folder
from conftest import cli_ok

MEASURE = """
async () => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  await Promise.all([...document.images].map(i => i.decode()));
  const width = window.innerWidth;
  const outside = [...document.querySelectorAll('body *')].filter(e => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && (box.left < -0.5 || box.right > width + 0.5);
  }).map(e => `${e.tagName}.${e.className}`);
  const fonts = [...document.querySelectorAll('body *')]
    .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(e => parseFloat(getComputedStyle(e).fontSize));
  return {
    width,
    documentWidth: document.documentElement.scrollWidth,
    outside,
    smallestFont: Math.min(...fonts),
    images: [...document.images].map(i => {
      const box = i.getBoundingClientRect();
      return {natural: i.naturalWidth, drawnFor: +i.getAttribute('width'),
              left: box.left, right: box.right, shown: box.width};
    }),
    leechLinks: [...document.querySelectorAll('ul.leeches a')].map(a => a.href),
    leechPlaces: [...document.querySelectorAll('ul.leeches .where')].map(e => e.textContent),
  };
}
"""


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a collection with 60 days of reviews, written by the CLI."""
    work = tmp_path_factory.mktemp("report-page")
    _, collection = studied_collection(work)
    page = work / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        cli_ok("report", "notes", "--collection", str(collection), "-o", str(page), "--no-open")
    return page


@pytest.mark.parametrize("width", [390, 1280])
def test_the_report_fits_the_screen_and_shows_its_plots_whole(
    browser: Any, report_page: Path, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(report_page.as_uri())
        shown = page.evaluate(MEASURE)
        shots = shots_folder()
        if shots is not None:
            (shots / "report").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=shots / "report" / f"report-{width}.png", full_page=True)
    finally:
        page.close()
    assert errors == []
    assert shown["documentWidth"] == shown["width"] == width  # no sideways scrolling
    assert shown["outside"] == []
    assert shown["smallestFont"] >= 14
    assert len(shown["images"]) == 3
    for image in shown["images"]:
        assert image["natural"] == 691  # loaded: 3.6 in at 192 dpi
        assert image["left"] >= 0 and image["right"] <= width
        # Shown at the width it was drawn for (346 px), so its 11-pt text is 11 pt here.
        assert image["shown"] == image["drawnFor"] == 346
    assert shown["leechPlaces"] == [
        f"notes/{ATTENTION}:13",
        f"notes/{BATCHNORM}:13",
        f"notes/{ADAM}:20",
    ]
    assert shown["leechLinks"] == [
        "obsidian://open?vault=notes&file=Attention%20is%20all%20you%20need",
        "obsidian://open?vault=notes&file=Batch%20normalization%20%26%20friends",
        "obsidian://open?vault=notes&file=papers%2FAdam",
    ]
