"""``paperdeck preview`` through the real CLI: the page, its card documents (from a real
Anki import), the notes left untouched, errors at their line, and the fallback without
Anki's web assets. How the cards look in a browser is tests/browser/."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from paperdeck.preview import make
from paperdeck.preview.assets import anki_version, find_anki_assets

from conftest import cli, cli_ok

needs_aqt = pytest.mark.skipif(
    find_anki_assets() is None, reason="Anki's web assets (the aqt wheel) are not installed"
)


def documents(files: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in files.glob("_preview-*.html")}


@needs_aqt
def test_preview_shows_every_card_side_as_anki_renders_it(vault: Path) -> None:
    note = next(vault.glob("*.md"))
    before = note.read_bytes()

    result = cli_ok("preview", "notes", "-o", "out/cards.html", "--no-open")

    assert "Wrote out/cards.html: 5 cards" in result.output
    page = Path("out/cards.html").read_text(encoding="utf-8")
    frames = re.findall(r'<iframe id="(card\d+-(?:front|back)-(?:390|900)-(?:light|night))"', page)
    assert len(frames) == len(set(frames)) == 5 * 8
    files = Path("out/cards_files")
    docs = documents(files)
    assert len(docs) == 5 * 4
    front = docs["_preview-card0-front-night.html"]
    assert '<html class="night-mode"' in front
    assert '<body class="card card1 nightMode night_mode">' in front
    assert '<div class="question"><p>What is the Gumbel-Max trick?</p></div>' in front
    assert "<style>" in front  # the note type's CSS, as card.question() gives it
    back = docs["_preview-card0-back-light.html"]
    assert '<hr id="answer">' in back and "where \\(g_i\\)" in back
    assert '<script src="_anki/js/vendor/mathjax/tex-chtml-full.js"></script>' in back
    assert (files / "_anki/js/mathjax.js").is_file() and (
        files / "_anki/css/reviewer.css"
    ).is_file()
    images = re.findall(r'<img src="([^"]+)"', "".join(docs.values()))
    assert images and all((files / name).is_file() for name in images)
    # A preview writes no ID, no deck and no card state.
    assert note.read_bytes() == before
    assert not Path("cards").exists()


@needs_aqt
def test_a_reversed_card_shows_both_of_its_cards(empty_vault: Path) -> None:
    (empty_vault / "both.md").write_text(
        "---\nreverse: true\n---\nQ: Capital of France?\nA: Paris\n", encoding="utf-8"
    )

    cli_ok("preview", "notes", "--no-open")

    docs = documents(Path("cards/notes-preview_files"))
    assert '<body class="card card1">' in docs["_preview-card0-front-light.html"]
    reverse = docs["_preview-card1-front-light.html"]
    assert '<body class="card card2">' in reverse and "Paris" in reverse
    assert "Capital of France?" not in reverse


def test_the_page_opens_in_the_browser_unless_no_open(
    empty_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (empty_vault / "a.md").write_text("Q: One?\nA: Yes.\n", encoding="utf-8")
    opened: list[str] = []
    monkeypatch.setattr("click.launch", lambda url, **_: opened.append(url) or 0)

    cli_ok("preview", "notes", "-o", "p.html")
    assert opened == [str(Path("p.html").resolve())]
    cli_ok("preview", "notes", "-o", "p.html", "--no-open")
    assert len(opened) == 1


def test_note_option_previews_one_note(empty_vault: Path) -> None:
    (empty_vault / "a.md").write_text("Q: From a?\nA: Yes.\n", encoding="utf-8")
    (empty_vault / "b.md").write_text("Q: From b?\nA: Yes.\n\nQ: Also b?\nA: Yes.\n")

    result = cli_ok("preview", "notes", "--note", "notes/b.md", "--no-open")

    assert "2 cards" in result.output
    page = Path("cards/notes-preview.html").read_text(encoding="utf-8")
    assert "From b?" in page and "From a?" not in page
    assert "notes/b.md:4" in page  # where each card is


def test_a_card_heading_reads_as_its_text(empty_vault: Path) -> None:
    """Inline markup ends without a space (``(**3**)`` reads ``(3)``); blocks part words."""
    note = "Q: Why (**3**) and `x`, [[gone|here]]?\n- one\n- two\nA: Yes.\n"
    (empty_vault / "a.md").write_text(note, encoding="utf-8")

    cli_ok("preview", "notes", "--no-open")

    page = Path("cards/notes-preview.html").read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == ["Why (3) and x, here? one two"], headings


def test_note_outside_the_vault_is_a_usage_error(empty_vault: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray.md"
    stray.write_text("Q: Here?\nA: No.\n", encoding="utf-8")

    result = cli("preview", "notes", "--note", str(stray), "--no-open")

    assert result.exit_code == 2
    assert "is not a note of this vault" in result.output


def test_errors_in_notes_are_reported_at_their_line(empty_vault: Path) -> None:
    (empty_vault / "bad.md").write_text("Q: Code?\nA: Like this:\n```python\nx = 1\n")

    result = cli("preview", "notes", "--no-open")

    assert result.exit_code == 1
    assert re.search(r"notes/bad\.md:\d+: error: code fence", result.output), result.output
    assert "Preview not written" in result.output
    assert not Path("cards/notes-preview.html").exists()


def test_a_missing_image_is_a_warning_unless_strict(empty_vault: Path) -> None:
    (empty_vault / "a.md").write_text("Q: Picture?\nA: ![[gone.png]]\n", encoding="utf-8")

    warned = cli_ok("preview", "notes", "--no-open")
    assert "notes/a.md:2: warning:" in warned.output

    strict = cli("preview", "notes", "--no-open", "--strict")
    assert strict.exit_code == 1


def test_output_that_is_a_folder_is_a_usage_error(empty_vault: Path) -> None:
    Path("out").mkdir()
    assert cli("preview", "notes", "-o", "out", "--no-open").exit_code == 2


def test_without_anki_assets_the_page_says_how_to_get_them(
    empty_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (empty_vault / "a.md").write_text("Q: What is $x$?\nA: A variable.\n", encoding="utf-8")
    monkeypatch.setattr(make, "find_anki_assets", lambda: None)

    result = cli_ok("preview", "notes", "--no-open")

    install = f'pip install --no-deps "aqt=={anki_version()}"'
    assert install in result.output
    page = Path("cards/notes-preview.html").read_text(encoding="utf-8")
    assert 'class="notice"' in page and f"<code>{html.escape(install)}</code>" in page
    docs = documents(Path("cards/notes-preview_files"))
    assert docs and not any("<script src=" in d or "_anki/" in d for d in docs.values())
    assert "What is \\(x\\)?" in docs["_preview-card0-front-light.html"]  # TeX, untypeset
    assert not Path("cards/notes-preview_files/_anki").exists()
