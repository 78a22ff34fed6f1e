"""The per-note build cache: only changed notes are redone, and a cache is never trusted blindly."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import paperdeck.buildcache
import paperdeck.cards.note_render
import paperdeck.notes.vault
from paperdeck.cli import main


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Record which notes get parsed and rendered."""
    calls: dict[str, list[str]] = {"parse": [], "render": []}
    real_parse, real_render = (
        paperdeck.notes.vault.parse_note,
        paperdeck.cards.note_render.render_note,
    )

    def parse(text: str, *, path: str, options=None):  # type: ignore[no-untyped-def]
        calls["parse"].append(Path(path).name)
        return real_parse(text, path=path, options=options)

    def render(source, context):  # type: ignore[no-untyped-def]
        calls["render"].append(source.rel.name)
        return real_render(source, context)

    monkeypatch.setattr(paperdeck.notes.vault, "parse_note", parse)
    monkeypatch.setattr(paperdeck.cards.note_render, "render_note", render)
    return calls


def make_notes(vault: Path) -> None:
    (vault / "img").mkdir()
    (vault / "img" / "plot.png").write_bytes(b"\x89PNG one")
    (vault / "a.md").write_text("Q: a?\nA: ![[plot.png]]\n<!--ID: 1700000000101-->\n")
    (vault / "b.md").write_text("Q: b?\nA: b\n<!--ID: 1700000000102-->\n")


def test_only_the_edited_note_is_parsed_and_rendered_again(
    vault: Path, counted: dict[str, list[str]]
) -> None:
    make_notes(vault)
    run("build", str(vault))
    assert len(counted["render"]) == 3  # the example note, a.md and b.md
    counted["parse"].clear()
    counted["render"].clear()

    noop = run("build", str(vault))
    assert counted == {"parse": [], "render": []}
    assert "is up to date" in noop.output

    (vault / "b.md").write_text("Q: b?\nA: b, edited\n<!--ID: 1700000000102-->\n")
    run("build", str(vault))
    assert counted == {"parse": ["b.md"], "render": ["b.md"]}


def test_changing_an_image_renders_the_notes_that_show_it(
    vault: Path, counted: dict[str, list[str]]
) -> None:
    make_notes(vault)
    run("build", str(vault))
    counted["render"].clear()

    (vault / "img" / "plot.png").write_bytes(b"\x89PNG two, edited")
    run("build", str(vault))

    assert counted["render"] == ["a.md"]
    with zipfile.ZipFile("cards/notes.apkg") as apkg:
        assert b"\x89PNG two, edited" in [apkg.read(n) for n in apkg.namelist()]


def test_settings_change_renders_everything(vault: Path, counted: dict[str, list[str]]) -> None:
    make_notes(vault)
    run("build", str(vault))
    counted["render"].clear()
    run("build", str(vault), "--deck-prefix", "Other")
    assert len(counted["render"]) == 3


def test_a_corrupt_cache_means_a_full_build(vault: Path) -> None:
    make_notes(vault)
    run("build", str(vault))
    for cached in Path(".paperdeck-cache").glob("*.sqlite"):
        cached.write_bytes(b"not a pickle")
    result = run("build", str(vault))
    assert "Wrote cards/notes.apkg: 7 cards" in result.output


def test_deleted_deck_is_written_again(vault: Path) -> None:
    run("build", str(vault))
    Path("cards/notes.apkg").unlink()
    assert "Wrote cards/notes.apkg" in run("build", str(vault)).output
    assert Path("cards/notes.apkg").exists()


def test_a_new_code_version_parses_and_renders_everything_again(
    vault: Path, counted: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_notes(vault)
    run("build", str(vault))
    counted["parse"].clear()
    counted["render"].clear()
    monkeypatch.setattr(paperdeck.buildcache, "code_version", lambda: "a newer paperdeck")

    run("build", str(vault))

    expected = ["Categorical reparameterization with gumbel-softmax.md", "a.md", "b.md"]
    assert sorted(counted["parse"]) == expected
    assert sorted(counted["render"]) == expected
