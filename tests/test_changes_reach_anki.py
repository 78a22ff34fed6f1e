"""What changed reaches Anki, and only that (issue 14, items 1 to 3), with real collections.

A card's modification time is kept in the vault's card state while its content is the
same, and moves forward when anything Anki would show changes: its text, an image it
embeds (a new content-hashed name), a figure drawn again, a setting that changes it.
``sync --one-way`` also keeps an edit made in Anki to a card that has not changed in the
vault (two-way sync brings it back into the note: ``test_two_way_sync.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import cli_ok, import_apkg, opened

SEED = "Categorical reparameterization with gumbel-softmax.md"
S1, S2 = 1683650871138, 1683650871147


def counts(log: Any) -> tuple[int, int, int]:
    return len(log.new), len(log.updated), len(log.duplicate)


def test_an_edited_image_reaches_anki(empty_vault: Path, collection: Any) -> None:
    (empty_vault / "fig.png").write_bytes(b"\x89PNG first")
    (empty_vault / "a.md").write_text(
        "Q: Which plot?\nA: ![[fig.png]]\n<!--ID: 1700000000001-->\n\n"
        "Q: Other?\nA: Text.\n<!--ID: 1700000000002-->\n"
    )
    cli_ok("build", str(empty_vault))
    assert counts(import_apkg(collection, Path("cards/notes.apkg"))) == (2, 0, 0)

    (empty_vault / "fig.png").write_bytes(b"\x89PNG second, redrawn")
    cli_ok("build", str(empty_vault))
    assert counts(import_apkg(collection, Path("cards/notes.apkg"))) == (0, 1, 1)
    answer = collection.get_note(1700000000001)["Answer"]
    name = answer.split('src="')[1].split('"')[0]
    assert (Path(collection.media.dir()) / name).read_bytes() == b"\x89PNG second, redrawn"


def test_a_figure_drawn_again_reaches_anki(vault: Path, collection: Any) -> None:
    cli_ok("build", str(vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    note = vault / SEED
    note.write_text(note.read_text(encoding="utf-8").replace("samples: 2000\n", "samples: 1000\n"))

    result = cli_ok("build", str(vault))
    assert "Rendered figures/gumbel-softmax-simplex.png" in result.output
    # Only the card showing the figure changed; the edited spec is not on any card.
    assert counts(import_apkg(collection, Path("cards/notes.apkg"))) == (0, 1, 4)


def test_a_setting_updates_every_card_it_changes_and_only_those(
    vault: Path, collection: Any
) -> None:
    (vault / "other.md").write_text("Title: Other\n\nQ: Kept?\nA: Yes.\n<!--ID: 1700000000009-->\n")
    cli_ok("build", str(vault))
    import_apkg(collection, Path("cards/notes.apkg"))

    (vault / "paperdeck.toml").write_text('vault_name = "Research"\n')
    cli_ok("build", str(vault))
    assert counts(import_apkg(collection, Path("cards/notes.apkg"))) == (0, 6, 0)
    assert "vault=Research" in collection.get_note(S2)["Source"]

    (vault / "paperdeck.toml").write_text('vault_name = "Research"\nhighlight_cloze = true\n')
    (vault / "other.md").write_text(
        "Title: Other\n\nQ: Kept?\nA: Yes.\n<!--ID: 1700000000009-->\n\nA ==new== cloze.\n"
    )
    cli_ok("build", str(vault))
    assert counts(import_apkg(collection, Path("cards/notes.apkg"))) == (1, 0, 6)


def test_one_way_sync_keeps_an_edit_made_in_anki_to_a_card_unchanged_here(
    vault: Path, tmp_path: Path, collection: Any
) -> None:
    collection.close()
    col = str(tmp_path / "collection.anki2")
    cli_ok("build", str(vault), "--into", col)
    cli_ok("sync", str(vault), "--collection", col)
    with opened(Path(col)) as anki:
        edited = anki.get_note(S2)
        edited["Question"] = "<p>Typo fixed while reviewing</p>"
        anki.update_note(edited)
    note = vault / SEED
    note.write_text(
        note.read_text(encoding="utf-8").replace("What is the Gumbel-Max trick?", "What is it?")
    )
    before = note.read_bytes()

    result = cli_ok("sync", str(vault), "--collection", col, "--one-way")

    assert "updated note 1683650871138 (Question)" in result.output
    assert f"kept note {S2} as edited in Anki (Question)" in result.output
    assert "1 edited in Anki, kept" in result.output
    assert note.read_bytes() == before  # one way: nothing comes back into the note
    with opened(Path(col)) as anki:
        assert anki.get_note(S2)["Question"] == "<p>Typo fixed while reviewing</p>"
        assert anki.get_note(S1)["Question"].startswith("<p>What is it?")
    again = cli_ok("sync", str(vault), "--collection", col, "--one-way")
    assert "1 edited in Anki, kept" in again.output  # never overwritten later either
