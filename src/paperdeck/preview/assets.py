"""Anki's own web assets, from the ``aqt`` package: its MathJax, MathJax configuration and
reviewer CSS.

A card is only previewed faithfully with the MathJax build and configuration Anki itself
uses (``noerrors`` and ``mathtools`` on, ``textmacros`` off), so these come from the ``aqt``
wheel rather than a CDN. ``aqt`` needs Qt to import, so it is found with
:func:`importlib.util.find_spec` and never imported; installing it with ``--no-deps``
brings the files without Qt.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

WEB = Path("data") / "web"
"""Where the web assets live inside the ``_aqt`` package."""

ASSET_FOLDER = "_anki"
"""The folder the assets are copied to, next to the media: the layout Anki's own media
server gives the reviewer (``/_anki/js/...`` beside the collection's media files)."""

MATHJAX_CONFIG = "js/mathjax.js"
MATHJAX = "js/vendor/mathjax/tex-chtml-full.js"
MATHJAX_FONTS = "js/vendor/mathjax/output"
REVIEWER_CSS = "css/reviewer.css"
WEBVIEW_CSS = "css/webview.css"
_FILES = (MATHJAX_CONFIG, MATHJAX, REVIEWER_CSS, WEBVIEW_CSS)


@dataclass(frozen=True)
class AnkiAssets:
    """The folder of Anki's web assets (``_aqt/data/web``), known to hold every file used."""

    web: Path

    def path(self, relative: str) -> Path:
        """One asset, e.g. ``assets.path(MATHJAX)``."""
        return self.web / relative


def find_anki_assets() -> AnkiAssets | None:
    """Anki's web assets from the installed ``aqt`` package, or None if it is not there."""
    try:
        spec = importlib.util.find_spec("_aqt")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        web = Path(location) / WEB
        if all((web / name).is_file() for name in _FILES) and (web / MATHJAX_FONTS).is_dir():
            return AnkiAssets(web)
    return None


def anki_version() -> str | None:
    """The installed ``anki`` package's version (``aqt`` must match it), if there is one."""
    try:
        from anki.buildinfo import version
    except ImportError:
        return None
    return str(version)


def install_command(version: str | None) -> str:
    """How to get the assets: ``aqt`` at the ``anki`` version, without Qt and its other deps."""
    pinned = f"aqt=={version}" if version else "aqt"
    return f'pip install --no-deps "{pinned}"'


def copy_assets(assets: AnkiAssets, folder: Path) -> None:
    """Copy what a card page loads into ``folder/_anki``, as Anki's media server lays it out.

    Only Anki's MathJax build, its fonts, its configuration and the two stylesheets are
    copied (about 2 MB), so the preview works from any folder a browser may read.
    """
    target = folder / ASSET_FOLDER
    for name in _FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assets.path(name), target / name)
    shutil.copytree(assets.path(MATHJAX_FONTS), target / MATHJAX_FONTS, dirs_exist_ok=True)
