"""The preview page: every card's front and back, light and night, phone and desktop.

Pure functions from card HTML to page HTML. Each view is an ``<iframe>`` of exactly the
width it shows (390 CSS px for a phone, 900 for a desktop), holding a document built as
Anki's reviewer builds its page: Anki's ``webview.css`` and ``reviewer.css``, Anki's
MathJax configuration and build, ``<html class="night-mode">`` and
``<body class="card cardN nightMode night_mode">`` in night mode, and the card inside
``<div id="qa">``, typeset as the reviewer typesets it. These documents live in one folder
next to the page, with the media and Anki's files laid out as Anki's media server serves
them to the reviewer (media files beside the document, Anki's files under ``_anki/``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from paperdeck.preview.assets import (
    ASSET_FOLDER,
    MATHJAX,
    MATHJAX_CONFIG,
    REVIEWER_CSS,
    WEBVIEW_CSS,
)
from paperdeck.preview.cards import CardView

PHONE = 390
"""A phone's width in CSS px."""
DESKTOP = 900
"""A desktop reviewer's width in CSS px."""
SCREEN_HEIGHT = 800
"""The height in CSS px of the screen a card is shown on (a phone's or a reviewer window's)."""


@dataclass(frozen=True)
class View:
    """One way of looking at a card side: a width and light or night mode."""

    device: str
    width: int
    night: bool

    @property
    def mode(self) -> str:
        return "night" if self.night else "light"


VIEWS = (
    View("phone", PHONE, False),
    View("desktop", DESKTOP, False),
    View("phone", PHONE, True),
    View("desktop", DESKTOP, True),
)
"""In the page's order: phone and desktop side by side, light above night."""
SIDES = ("front", "back")


def frame_id(card: int, side: str, view: View) -> str:
    """The id of one view's ``<iframe>``, e.g. ``card3-back-390-night``."""
    return f"card{card}-{side}-{view.width}-{view.mode}"


# Anki's webview sets these in its "standard CSS" (aqt.webview.AnkiWebView.standard_css).
_STANDARD_CSS = "body { background-color: var(--canvas); } html { font-family: sans-serif; }"

# reviewer.css limits images to 95vh. A frame sized to its card has no screen height of its
# own (each resize would let images grow again), so the limit is 95% of a screen's height.
_SCREEN_CSS = f"img {{ max-height: {0.95 * SCREEN_HEIGHT:g}px; }}"

# Without Anki's files: the few rules of webview.css and reviewer.css a card depends on.
_FALLBACK_CSS = """
:root { --fg: #020202; --canvas: #f5f5f5; color-scheme: light; }
:root.night-mode { --fg: #fcfcfc; --canvas: #2c2c2c; color-scheme: dark; }
body { margin: 20px; overflow-wrap: break-word; color: var(--fg); background: var(--canvas); }
img { max-width: 100%; max-height: 95vh; }
"""

# Typesets #qa as the reviewer does (MathJax.typesetClear, then typesetPromise on #qa),
# waits for every image to decode and the fonts to load, then tells the page its height.
# ``window.paperdeckReady`` resolves to what happened: tests and readers can wait on it.
_CARD_SCRIPT = """
(() => {
  const qa = document.getElementById("qa");
  const tell = () => parent.postMessage(
    {paperdeckHeight: document.documentElement.scrollHeight}, "*");
  window.paperdeckReady = (async () => {
    const result = {mathjax: null, mathjaxError: null, brokenImages: []};
    if (window.MathJax && MathJax.startup) {
      try {
        await MathJax.startup.promise;
        MathJax.typesetClear();
        await MathJax.typesetPromise([qa]);
        result.mathjax = MathJax.version;
      } catch (error) {
        result.mathjaxError = String((error && error.message) || error);
      }
    }
    const images = Array.from(document.images);
    const decoded = await Promise.all(
      images.map((img) => img.decode().then(() => null, () => img.getAttribute("src"))));
    result.brokenImages = decoded.filter((src) => src !== null);
    await document.fonts.ready;
    tell();
    new ResizeObserver(tell).observe(document.documentElement);
    return result;
  })();
})();
"""

_PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #e8e8e6; color: #1d1d1f; }
h1 { font-size: 1.4em; margin: 0 0 0.2em; }
.summary { color: #555; margin: 0 0 1.5em; }
.notice { background: #fff3c4; border: 1px solid #c9a400; border-radius: 6px;
  padding: 0.8em 1em; margin: 0 0 1.5em; max-width: 60em; }
.notice code { background: #fff; padding: 0.1em 0.3em; }
section.card-preview { margin: 0 0 2.5em; }
section.card-preview h2 { font-size: 1.1em; margin: 0; }
.meta { color: #555; font-size: 0.9em; margin: 0.2em 0 0.6em; }
.side { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; margin: 0 0 12px; }
figure.view { margin: 0; }
figure.view figcaption { font-size: 0.8em; color: #555; margin: 0 0 3px; }
figure.view iframe { display: block; border: 0; height: 150px;
  outline: 1px solid #b8b8b8; background: #fff; }
"""
# Two views to a row (phone and desktop), so light and night sit one above the other.
_PAGE_CSS += f".side {{ max-width: {PHONE + DESKTOP + 12}px; }}\n"

# Sizes every iframe to its card when the card reports its height; ``paperdeckReady``
# resolves once every card has reported (each has typeset its math and decoded its images).
_PAGE_SCRIPT = """
(() => {
  const frames = Array.from(document.querySelectorAll("iframe[data-side]"));
  const reported = new Set();
  window.paperdeckReady = new Promise((resolve) => {
    if (frames.length === 0) resolve(0);
    window.addEventListener("message", (event) => {
      const frame = frames.find((f) => f.contentWindow === event.source);
      const height = event.data && event.data.paperdeckHeight;
      if (!frame || typeof height !== "number") return;
      frame.style.height = Math.ceil(height) + "px";
      reported.add(frame.id);
      if (reported.size === frames.length) resolve(frames.length);
    });
  });
})();
"""


def card_document(side_html: str, *, ordinal: int, night: bool, anki: bool) -> str:
    """One side of a card as a complete page, built the way Anki's reviewer builds its own.

    The page sits beside the media files and Anki's files (``_anki/``); without ``anki``
    (Anki's files could not be had) math is left as TeX and the CSS is a stand-in for
    Anki's.
    """
    classes = f"card card{ordinal + 1}" + (" nightMode night_mode" if night else "")
    html_attrs = (
        'class="night-mode" data-bs-theme="dark"' if night else 'class="" data-bs-theme="light"'
    )
    if anki:
        head = (
            f'<link rel="stylesheet" href="{ASSET_FOLDER}/{WEBVIEW_CSS}">\n'
            f"<style>{_STANDARD_CSS}</style>\n"
            f'<link rel="stylesheet" href="{ASSET_FOLDER}/{REVIEWER_CSS}">\n'
            f"<style>{_SCREEN_CSS}</style>\n"
            f'<script src="{ASSET_FOLDER}/{MATHJAX_CONFIG}"></script>\n'
            # Anki's configuration points MathJax at its media server (/_anki/...); here the
            # same files are beside the page.
            "<script>MathJax.loader.paths.mathjax = "
            f'new URL("{ASSET_FOLDER}/js/vendor/mathjax", document.baseURI).href;</script>\n'
            f'<script src="{ASSET_FOLDER}/{MATHJAX}"></script>\n'
        )
    else:
        head = f"<style>{_FALLBACK_CSS}{_STANDARD_CSS}{_SCREEN_CSS}</style>\n"
    return (
        f'<!doctype html>\n<html {html_attrs} dir="ltr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{head}</head>\n"
        f'<body class="{classes}">\n<div id="qa" dir="auto">{side_html}</div>\n'
        f"<script>{_CARD_SCRIPT}</script>\n</body>\n</html>\n"
    )


def document_name(card: int, side: str, night: bool) -> str:
    """The file name of one side of one card in light or night mode.

    It starts with ``_``, which Anki keeps for files of its own: no media file has it.
    """
    return f"_preview-card{card}-{side}-{'night' if night else 'light'}.html"


def card_documents(cards: Sequence[CardView], *, anki: bool) -> dict[str, str]:
    """Every card side's document in light and night mode, by file name."""
    return {
        document_name(index, side, night): card_document(
            card.question if side == "front" else card.answer,
            ordinal=card.ordinal,
            night=night,
            anki=anki,
        )
        for index, card in enumerate(cards)
        for side in SIDES
        for night in (False, True)
    }


def _frame(index: int, side: str, view: View, files: str) -> str:
    """The ``<figure>`` showing one side of one card in one view."""
    caption = f"{side.capitalize()} · {view.device} {view.width} px · {view.mode}"
    src = f"{files}/{quote(document_name(index, side, view.night))}"
    return (
        f'<figure class="view"><figcaption>{caption}</figcaption>'
        f'<iframe id="{frame_id(index, side, view)}" data-card="{index}" data-side="{side}" '
        f'data-width="{view.width}" data-mode="{view.mode}" width="{view.width}" '
        f'style="width: {view.width}px" scrolling="no" loading="lazy" '
        f'title="{html.escape(caption)}" src="{html.escape(src)}"></iframe></figure>'
    )


def preview_page(cards: Sequence[CardView], *, title: str, files: str, notice: str = "") -> str:
    """The whole preview: a section per card, a row per side, one frame per view.

    ``files`` is the folder of :func:`card_documents` (with the media and Anki's files),
    relative to the page; ``notice`` (plain text, where backticks mark a command) is shown
    at the top.
    """
    folder = quote(files.rstrip("/"))
    sections = []
    for index, card in enumerate(cards):
        rows = "".join(
            f'<div class="side">{"".join(_frame(index, side, v, folder) for v in VIEWS)}</div>'
            for side in SIDES
        )
        where = f"{html.escape(card.place)} · " if card.place else ""
        sections.append(
            f'<section class="card-preview" id="card{index}">'
            f"<h2>{html.escape(card.title) or '(empty)'}</h2>"
            f'<p class="meta">{where}{html.escape(card.deck)} · '
            f"{html.escape(card.note_type)}, {html.escape(card.template)}</p>{rows}</section>"
        )
    shown_notice = ""
    if notice:
        parts = html.escape(notice).split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        shown_notice = f'<div class="notice" role="note">{text}</div>'
    count = f"{len(cards)} card" + ("" if len(cards) == 1 else "s")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f'<p class="summary">{count}, each side as Anki shows it: a phone ({PHONE} px) '
        f"and a desktop ({DESKTOP} px), light and night.</p>\n"
        f"{shown_notice}\n{''.join(sections)}\n<script>{_PAGE_SCRIPT}</script>\n</body>\n</html>\n"
    )
