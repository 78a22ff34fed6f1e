"""Card HTML is sanitized: nothing in a note runs in Anki, and what Obsidian shows stays."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from paperdeck.build import collect_deck, figure_paths, read_vault
from paperdeck.cards import note_render
from paperdeck.cards import sanitize as sanitize_module
from paperdeck.cards.render import render_field
from paperdeck.cards.sanitize import sanitize, url_scheme
from paperdeck.cli import main
from paperdeck.config import Config

from conftest import SEED_NOTE, import_apkg

# What may reach a card, written out here independently of the sanitizer's own lists.
_HARMLESS = """
    a abbr acronym b bdi bdo big blockquote br center cite code data del dfn em i ins kbd
    mark q rp rt rtc ruby s samp small span strike strong sub sup time tt u var wbr
    article aside div footer header hgroup nav p pre hr section h1 h2 h3 h4 h5 h6
    ul ol li dl dt dd details summary figure figcaption
    table caption colgroup col thead tbody tfoot tr th td img
"""
HARMLESS_TAGS = frozenset(_HARMLESS.split())
SAFE_SCHEMES = {None, "http", "https", "mailto", "obsidian"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def active_content(html: str) -> list[str]:
    """Everything in ``html`` that could run script, load a page or escape the card."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    found = [f"comment {c!r}" for c in parser.comments]
    for tag, attrs in parser.elements:
        if tag not in HARMLESS_TAGS:
            found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("id", "srcdoc", "formaction", "action"):
                found.append(f"<{tag} {name}>")
            if name in ("href", "src") and value is not None:
                scheme = url_scheme(value)
                image = tag == "img" and value.lower().startswith("data:image/png")
                if scheme not in SAFE_SCHEMES and not image:
                    found.append(f"<{tag} {name}={value!r}>")
            if name == "style" and value and ("url(" in value or "position" in value):
                found.append(f"<{tag} style={value!r}>")
    return found


def card(markdown: str) -> str:
    """One field as it reaches the card: rendered, then sanitized as every field is."""
    return sanitize(render_field(markdown))


HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://example.com/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=x oNeRrOr=alert(1)>",
    '<img src="javascript:alert(1)">',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="jav&#x61;script:alert(1)">x</a>',
    '<a href="jav&#97;script&colon;alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
    "<a href=javascript:alert(1)>unquoted</a>",
    '<a href="#" onclick="alert(1)">x</a>',
    "[a link](javascript:alert(1))",
    "![an image](javascript:alert(1))",
    '<iframe src="https://example.com"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="https://example.com/x.swf"></object><embed src="x.swf">',
    '<form action="https://example.com"><button formaction="javascript:alert(1)">b</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://example.com/">',
    '<link rel="stylesheet" href="https://example.com/x.css">',
    "<style>.card { display: none }</style>",
    '<div style="position:fixed;inset:0;background:url(https://example.com/x)">cover</div>',
    '<p id="answer">Anki uses this id</p>',
    "<details open ontoggle=alert(1)><summary>s</summary>d</details>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<!--><img src=x onerror=alert(1)>-->",
    '<p title="&quot; onmouseover=&quot;alert(1)">quoted</p>',
]


@pytest.mark.parametrize("markdown", HOSTILE)
def test_nothing_that_runs_reaches_a_card(markdown: str) -> None:
    for field in (
        card(markdown),
        card(f"Q text {markdown} after"),
        card(f"- item\n\n  {markdown}"),
    ):
        assert active_content(field) == [], field
        assert "alert(1)</script>" not in field


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("<script>alert(1)</script>Hi", "Hi"),
        ("a <img src=x onerror=alert(1)> b", '<p>a <img src="x"> b</p>'),
        ("<scr<script>ipt>alert(1)</script>", "<p>&lt;scr</p>"),
        ('<a href=" javascript:alert(1)">x</a>', "<p><a>x</a></p>"),
        ('<a href="jav&#x61;script:alert(1)">x</a>', "<p><a>x</a></p>"),
        ("<svg onload=alert(1)>drawn</svg>", "<p>drawn</p>"),
        ("<style>p { color: red }</style>text", "text"),
        ('<iframe src="https://example.com"></iframe>after', "after"),
        (
            '<span style="color:red;position:fixed">red</span>',
            '<p><span style="color:red">red</span></p>',
        ),
    ],
)
def test_what_is_removed_and_what_is_left(markdown: str, html: str) -> None:
    assert card(markdown) == html


@pytest.mark.parametrize(
    "markdown",
    [
        r"Math $a < b$ and $b > c$, and $$\{x \mid x < 1\}$$ and $x \& y$",
        "$$\n\\begin{aligned} a &< b \\\\ c &> d \\end{aligned}\n$$",
        "A ![[plot.png|300]] and ![alt text](https://example.com/a.png)",
        "| left | right |\n|:--|--:|\n| `a<b` | **b** |",
        "<details><summary>Why?</summary>Because.</details>",
        "<details open><summary>Shown</summary>Open.</details>",
        "==marked== and <mark>marked too</mark>",
        "[web](https://example.com/a?b=1&c=2) [plain](http://example.com) [mail](mailto:a@b.org)",
        "H<sub>2</sub>O x<sup>2</sup> <kbd>Ctrl</kbd> <u>u</u> <s>s</s> <del>d</del> <ins>i</ins>",
        "~~struck~~ *em* **strong** `code <b>` and\nnext line",
        '```\nplain "code" <b>\n```',
        "```python\ndef f(x):\n    return x < 1 and 'y' > x  # a comment\n```",
        "[sound:talk-0123abcd.mp3] and {{c1::a cloze::a hint}} and {{c2::$e^{x}$}}",
        'An image <img src="plot.png" alt="a plot" width="300" height="200">',
        'Raw <a href="https://example.com" title="A title">link</a>',
        "1. one\n2. two\n\n- [x] done\n\n> quoted",
        "---\n\n# Heading\n\nText",
        '<ruby>漢<rt>kan</rt></ruby> <abbr title="HyperText">HTML</abbr>',
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">',
    ],
)
def test_what_obsidian_shows_stays_exactly_as_rendered(markdown: str) -> None:
    links = {"Note": "obsidian://open?vault=v&file=Note"}
    media = {"plot.png": "plot-0123abcd.png"}
    rendered = render_field(markdown, media, link=links.get)
    assert sanitize(rendered) == rendered


def test_the_keep_list_survives_with_paperdeck_classes() -> None:
    links = {"Note": "obsidian://open?vault=v&file=Note"}
    rendered = render_field(
        "[[Note|a note]] [[Nowhere]] ![[gone.png]] ![[Note]] ![[a.png|300x200]]",
        {"gone.png": None, "a.png": "a-0123abcd.png"},
        link=links.get,
    )
    assert sanitize(rendered) == rendered
    assert 'class="wikilink" href="obsidian://open?vault=v&amp;file=Note"' in rendered
    assert '<span class="missing-media">' in rendered
    assert '<span class="embed">' in rendered
    assert '<img src="a-0123abcd.png" alt="a.png" width="300" height="200">' in rendered
    context = '<p>q</p><div class="context">T &gt; A &gt; B</div>'
    assert sanitize(context) == context
    cloze = '<p>{{c1::x}}</p><span class="cloze">y</span><mark class="highlight">z</mark>'
    assert sanitize(cloze) == cloze


def test_math_with_angle_brackets_reaches_the_card_unchanged() -> None:
    field = card(r"If $a<b$ then $$b > a \quad \text{and} \quad a <= b$$")
    assert r"\(a&lt;b\)" in field
    assert r"\[b &gt; a \quad \text{and} \quad a &lt;= b\]" in field


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("https://a.b", "https"),
        (" \t\njava\tscr\nipt:alert(1)", "javascript"),
        ("\x00\x01 JAVASCRIPT:x", "javascript"),
        ("plot.png", None),
        ("dir/plot:1.png", None),
        ("//example.com/x", None),
        ("1http:x", None),
    ],
)
def test_url_scheme_reads_urls_as_a_browser_does(url: str, scheme: str | None) -> None:
    assert url_scheme(url) == scheme


PIECES = [
    "<p>",
    "</p>",
    "<br>",
    "<br/>",
    "<hr />",
    '"',
    "'",
    "&quot;",
    "&#x27;",
    "&amp;",
    "&lt;",
    ">",
    "<",
    "text",
    " ",
    "\n",
    '<a href="https://x.org/?a=1&b=2" title="t&quot;x">',
    "</a>",
    '<img src="a.png" alt="say &quot;hi&quot; <br>">',
    "<pre><code>",
    "</code></pre>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<svg onload=alert(1)>",
    '<span title="<br>">',
    "</span>",
    "<table><tr><td>",
    "<details open>",
    "\\(a<b\\)",
]


@given(st.lists(st.sampled_from(PIECES), max_size=25))
def test_spelling_things_as_markdown_it_does_changes_nothing_a_browser_sees(
    pieces: list[str],
) -> None:
    html = "".join(pieces)
    # nh3 writes each document one way: sanitizing again gives what sanitizing gave before
    # the spelling was changed back, so the document is the same.
    assert sanitize_module._CLEANER.clean(sanitize(html)) == sanitize_module._CLEANER.clean(html)
    assert sanitize(sanitize(html)) == sanitize(html)
    assert active_content(sanitize(html)) == []


SPELLING_PIECES = [
    *PIECES,
    'say "hi"',
    '<a href="https://example.com/?q=&quot;x&quot;">',
    "</a>",
    "<ol reversed>",
    "<li>",
    "</ol>",
    "<br/>",
    "<hr>",
    '"',
]


@given(st.lists(st.sampled_from(SPELLING_PIECES), max_size=25))
def test_sanitized_html_is_spelled_as_markdown_it_spells_it(pieces: list[str]) -> None:
    html = sanitize("".join(pieces))
    text_between_tags = sanitize_module._TAG_RE.sub("", html)
    assert '"' not in text_between_tags  # quotes in text are &quot;, as markdown-it writes
    assert "<br>" not in html and "<hr>" not in html
    assert '=""' not in html  # <details open>, not open=""
    assert html == sanitize(html)


# --- The real build: every field of every card, Source and context lines included ----------

HOSTILE_NOTE = """---
title: "Hostile <script>alert(1)</script> paper"
link: 'javascript:alert(1)'
authors: [Ann <img src=x onerror=alert(1)>]
---
# Part <img src=x onerror=alert(1)>

Q: A question <script>alert(1)</script> with <img src=x onerror=alert(1)> and $a < b$?
A: <svg onload=alert(1)>svg</svg> <a href=" javascript:alert(1)">space</a> $$x > y$$
<a href="jav&#x61;script:alert(1)">entity</a> <scr<script>ipt>alert(1)</script>
[md](javascript:alert(1)) <iframe src="https://example.com"></iframe>
<details><summary onclick="alert(1)">s</summary>d</details>
<!--ID: 1700000000001-->

START
Mystery type
Front: Custom <img src=x onerror=alert(1)>
Back: <a href="vbscript:msgbox(1)">vb</a> <a href="data:text/html,x">data</a>
<style>.card { display: none }</style><a href="https://example.com">kept</a>
END
"""


def hostile_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "paperdeck.toml").write_text("add_context = true\n", encoding="utf-8")
    (notes / "hostile.md").write_text(HOSTILE_NOTE, encoding="utf-8")
    return notes


def test_every_field_of_a_built_deck_is_safe_in_real_anki(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collection: Any
) -> None:
    notes = hostile_vault(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["build", str(notes)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import_apkg(collection, Path("cards") / "notes.apkg")

    stored = [collection.get_note(nid) for nid in collection.find_notes("")]
    assert len(stored) == 2
    for note in stored:
        for name, value in note.items():
            assert active_content(value) == [], (name, value)
            assert "alert(1)</script>" not in value
        source = note["Source"]
        # The front matter's javascript: link is no link; the title and the link back stay.
        assert source.startswith("Hostile &lt;script&gt;alert(1)&lt;/script&gt; paper · ")
        assert '<a href="obsidian://open?vault=notes&amp;file=hostile">' in source
    qa = collection.get_note(1700000000001)
    assert qa["Question"].startswith('<p>A question  with <img src="x"> and \\(a &lt; b\\)?</p>')
    assert '<div class="context">' in qa["Question"]
    assert "Part &lt;img src=x onerror=alert(1)&gt;" in qa["Question"]
    assert r"\[x &gt; y\]" in qa["Answer"]
    assert "<details><summary>s</summary>d</details>" in qa["Answer"]
    (custom,) = [n for n in stored if n.note_type()["name"] == "Mystery type"]
    assert custom["Front"].startswith('<p>Custom <img src="x">')
    assert custom["Back"] == '<p><a>vb</a> <a>data</a></p>\n<a href="https://example.com">kept</a>'


def seed_fields(tmp_path: Path) -> list[tuple[str, ...]]:
    notes = tmp_path / "notes"
    notes.mkdir(exist_ok=True)
    shutil.copy2(SEED_NOTE, notes / SEED_NOTE.name)
    config = Config()
    vault = read_vault(notes, config)
    content = collect_deck(vault, config, figure_paths(vault, tmp_path / "figures"))
    return [n.fields for n in content.notes]


def test_the_example_vault_cards_come_out_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sanitized = seed_fields(tmp_path)
    monkeypatch.setattr(note_render, "sanitize", lambda html: html)
    as_rendered = seed_fields(tmp_path)
    assert len(sanitized) == 5
    # Safe cards are not rewritten: no card of the example is "updated" by sanitizing.
    assert sanitized == as_rendered
