"""The preview page itself, opened from disk as ``paperdeck preview`` opens it: every view
is a frame of its width, sized to show its whole card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperdeck.preview.make import PreviewResult


def test_every_frame_shows_its_whole_card_at_its_width(
    browser: Any, previews: Callable[[str], PreviewResult]
) -> None:
    preview = previews("notes")
    page = browser.new_page(viewport={"width": 1900, "height": 1000})
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        page.goto(preview.page.as_uri())
        frames = page.locator("iframe")
        assert frames.count() == len(preview.cards) * 8 == 40
        # Frames load lazily, as they scroll into view; here all of them at once.
        page.evaluate("document.querySelectorAll('iframe').forEach(f => f.loading = 'eager')")
        assert page.evaluate("window.paperdeckReady") == 40
        for index in range(frames.count()):
            element = frames.nth(index).element_handle()
            frame = element.content_frame()
            width = int(element.get_attribute("data-width"))
            night = element.get_attribute("data-mode") == "night"
            shown = frame.evaluate(
                "async () => { await window.paperdeckReady; return {"
                " width: innerWidth, height: document.documentElement.scrollHeight,"
                " night: document.body.classList.contains('nightMode')"
                "  && document.documentElement.classList.contains('night-mode'),"
                " card: document.body.classList.contains('card') } }"
            )
            box = element.bounding_box()
            assert box is not None
            assert (shown["width"], shown["night"], shown["card"]) == (width, night, True)
            assert (round(box["width"]), round(box["height"])) == (width, shown["height"])
    finally:
        page.close()
    assert failed == []
