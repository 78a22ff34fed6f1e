"""The measuring itself: a card made of every fault the card tests look for is measured as
having each of them (so a passing card test means the fault is absent, not unseen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paperdeck.preview.assets import copy_assets, find_anki_assets
from paperdeck.preview.page import PHONE, SCREEN_HEIGHT, card_document

from .conftest import MEASURE

FAULTY_CARD = r"""<style>.card { font-size: 19px; line-height: 1.5; max-width: 42em;
  margin: 0 auto; padding: 0 0.6em; }</style>
<div class="answer">
<p>error \(\frac{1}\), undefined \(\nosuchmacro{x}\), escape \(\text{one\_hot}\), raw $$x$$</p>
<div id="wide" style="width: 600px">a block wider than a phone</div>
<pre style="overflow-x: auto">code = "far, far wider than any phone can show in one line"</pre>
<div id="cut" style="overflow: hidden; width: 100px"><span style="display: inline-block;
  width: 300px">cut</span></div>
<p>text above \[x^2\]<br><br>text below</p>
<img src="no-such-image.png">
<p style="color: #444">dim text</p>
</div>"""


def test_each_fault_is_found(browser: Any, tmp_path: Path) -> None:
    assets = find_anki_assets()
    assert assets is not None  # the browser fixture skips otherwise
    copy_assets(assets, tmp_path)
    document = tmp_path / "card.html"
    document.write_text(
        card_document(FAULTY_CARD, ordinal=0, night=True, anki=True), encoding="utf-8"
    )
    page = browser.new_page(viewport={"width": PHONE, "height": SCREEN_HEIGHT})
    try:
        page.goto(document.as_uri())
        data = page.evaluate(MEASURE)
    finally:
        page.close()

    errors = "\n".join(data["errors"])
    assert r"\frac{1}" in errors and r"undefined control sequence \nosuchmacro" in errors
    assert [e["text"] for e in data["escapes"]] == [r"one\_hot"]
    assert any("$$x" in raw for raw in data["raw"])
    overflow = "\n".join(data["overflow"])
    assert "a block wider than a phone" in overflow and "past the card's edge" in overflow
    assert "cuts off 200 px" in overflow
    assert data["scrollWidth"] > data["clientWidth"] == PHONE
    (box,) = [b for b in data["scrollBoxes"] if b["element"].startswith("<pre>")]
    assert (box["overflowX"], box["backgroundImage"], box["boxShadow"]) == ("auto", "none", "none")
    (spacing,) = data["displayMath"]
    assert spacing["below"] - spacing["above"] > spacing["fontSize"]  # the empty line below
    (image,) = data["images"]
    assert not image["loaded"] and data["ready"]["brokenImages"] == ["no-such-image.png"]
    (dim,) = [c for c in data["contrast"] if c["ratio"] < 4.5]
    assert (dim["color"], dim["background"]) == ("#444444", "#2c2c2c")  # Anki's night canvas
