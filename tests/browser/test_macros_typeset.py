"""Cards that use a vault's macros, as Anki's own MathJax typesets them in Chromium.

paperdeck expands the macros of ``macros.tex`` at build time, so a card needs nothing set
up in any Anki client: every formula of the macros vault typesets with no error and no red
undefined command. The same vault without its macros.tex is the control: the harness does
see the red commands then.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from paperdeck.config import load_config
from paperdeck.diagnostics import has_errors
from paperdeck.preview.make import make_preview
from paperdeck.preview.page import DESKTOP, PHONE, SCREEN_HEIGHT, SIDES, document_name

from .conftest import MEASURE, shots_folder
from conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "macros_vault"


def typeset(browser: Any, vault: Path, label: str) -> list[tuple[str, dict[str, Any]]]:
    """Each card side of the vault's preview, measured at a phone's and a desktop's width
    (screenshots in ``<shots>/macros-<label>``)."""
    preview = make_preview(vault, vault.parent / "preview" / "page.html", load_config(vault))
    assert preview.written and preview.anki_assets
    assert not has_errors(preview.diagnostics), preview.diagnostics
    shots = shots_folder()
    page = browser.new_page()
    views = []
    try:
        for index, card in enumerate(preview.cards):
            for side in SIDES:
                for width in (PHONE, DESKTOP):
                    page.set_viewport_size({"width": width, "height": SCREEN_HEIGHT})
                    page.goto((preview.files / document_name(index, side, False)).as_uri())
                    views.append((f"{card.title[:30]!r} {side} {width}px", page.evaluate(MEASURE)))
                    if shots is not None:
                        folder = shots / f"macros-{label}"
                        folder.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=folder / f"card{index}-{side}-{width}.png")
    finally:
        page.close()
    return views


@pytest.fixture
def vault_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURE, tmp_path / "vault")
    return tmp_path / "vault"


def test_cards_using_macros_typeset_without_errors(browser: Any, vault_copy: Path) -> None:
    views = typeset(browser, vault_copy, "expanded")

    assert len(views) == 3 * 2 * 2
    found = [
        f"{where}: {problem}"
        for where, data in views
        for problem in [
            *(
                [f"MathJax failed: {data['ready']['mathjaxError']}"]
                * bool(data["ready"]["mathjaxError"])
            ),
            *data["errors"],
            *(f"raw delimiter in {text!r}" for text in data["raw"]),
        ]
    ]
    assert not found, "\n".join(found)
    assert all(data["mathCount"] > 0 for _, data in views)


def test_without_the_macros_the_harness_sees_red_commands(browser: Any, vault_copy: Path) -> None:
    (vault_copy / "macros.tex").unlink()
    views = typeset(browser, vault_copy, "none")

    undefined = {
        error.rpartition("undefined control sequence ")[2]
        for _, data in views
        for error in data["errors"]
    }
    assert {"\\norm", "\\Rn", "\\argmax", "\\E", "\\KL", "\\pair", "\\ip", "\\Lp"} <= undefined
