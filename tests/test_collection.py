"""``paperdeck import`` and ``paperdeck sync`` against real Anki collections.

Every collection here is made by Anki's own Python package in a temporary folder; the
commands run through ``paperdeck.cli.main`` as a user would run them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from paperdeck.anki.apkg import guid_for
from paperdeck.anki.note_types import BASIC_MODEL_ID, CLOZE_MODEL_ID, REVERSED_MODEL_ID

from conftest import cli as run
from conftest import cli_ok as ok
from conftest import opened, snapshot

SEED = "Categorical reparameterization with gumbel-softmax.md"
SEED_IDS = [1683650871138, 1683650871147, 1683650871150, 1683650871153, 1683650871155]
SECOND = "Second paper.md"
SECOND_TEXT = (
    "Title: Second paper\n"
    "Tags: #misc\n"
    "\n"
    "Q: Which figure shows the simplex?\n"
    "A: This one: ![[gumbel-softmax-simplex.png]]\n"
    "\n"
    "Prose after the card stays as it is.\n"
)


@pytest.fixture
def apkg(vault: Path) -> Path:
    """The example vault (five cards, all with IDs) built into a deck."""
    ok("build", str(vault))
    return Path("cards") / f"{vault.name}.apkg"


def add_second_note(vault: Path) -> Path:
    note = vault / SECOND
    note.write_bytes(SECOND_TEXT.encode())
    return note


# -- import ----------------------------------------------------------------------------------


def test_import_into_fresh_collection_then_again(apkg: Path, col_path: Path) -> None:
    first = ok("import", str(apkg), "--collection", str(col_path))
    assert "5 new, 0 updated, 0 unchanged, 0 conflicting" in first.output
    assert sorted(snapshot(col_path)) == SEED_IDS

    again = ok("import", str(apkg), "--collection", str(col_path))
    assert "0 new, 0 updated, 5 unchanged, 0 conflicting" in again.output


def test_import_update_rules(vault: Path, apkg: Path, col_path: Path) -> None:
    ok("import", str(apkg), "--collection", str(col_path))
    note_file = vault / SEED
    note_file.write_text(
        note_file.read_text(encoding="utf-8").replace("become uniform.", "become flat."),
        encoding="utf-8",
    )
    ok("build", str(vault))

    never = ok("import", str(apkg), "--collection", str(col_path), "--update", "never")
    assert "0 new, 0 updated, 5 unchanged" in never.output
    newer = ok("import", str(apkg), "--collection", str(col_path))
    assert "0 new, 1 updated, 4 unchanged" in newer.output
    assert "updated note 1683650871150: How does the temperature" in newer.output
    assert "become flat." in snapshot(col_path)[1683650871150][0][1]
    bad = run("import", str(apkg), "--collection", str(col_path), "--update", "sometimes")
    assert bad.exit_code == 2


def test_locked_collection_is_refused_and_unchanged(
    vault: Path, apkg: Path, col_path: Path
) -> None:
    ok("import", str(apkg), "--collection", str(col_path))
    note_file = vault / SEED
    note_file.write_text(
        note_file.read_text(encoding="utf-8").replace("become uniform.", "become flat."),
        encoding="utf-8",
    )
    ok("build", str(vault))
    second = add_second_note(vault)
    before = snapshot(col_path)

    with opened(col_path):  # what Anki itself does while a profile is open
        imported = run("import", str(apkg), "--collection", str(col_path))
        synced = run("sync", str(vault), "--collection", str(col_path))

    for result in (imported, synced):
        assert result.exit_code == 1, result.output
        assert f"{col_path} is locked: Anki has it open" in result.output
    assert snapshot(col_path) == before
    assert second.read_bytes() == SECOND_TEXT.encode()  # no ID written for an unsynced card


def test_missing_collection_is_an_error_unless_create(apkg: Path, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "collection.anki2"

    missing = run("import", str(apkg), "--collection", str(path))
    assert missing.exit_code == 1
    assert "no such collection (pass --create" in missing.output
    assert not path.parent.exists()
    assert run("sync", "notes", "--collection", str(path)).exit_code == 1
    assert not path.parent.exists()

    created = ok("import", str(apkg), "--collection", str(path), "--create")
    assert "5 new" in created.output
    assert len(snapshot(path)) == 5


def test_a_broken_package_is_a_clean_error(col_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.apkg"
    broken.write_bytes(b"not a zip file")

    result = run("import", str(broken), "--collection", str(col_path))

    assert result.exit_code == 1
    assert f"{broken}: Anki could not import it" in result.output
    assert snapshot(col_path) == {}


def test_build_into_is_an_import(apkg: Path, col_path: Path) -> None:
    from paperdeck.cli.collection import import_into, open_for_cli

    with open_for_cli(col_path) as col:
        result = import_into(col, apkg, col_path, "if-newer")
        assert [n.note_id for n in result.new] == SEED_IDS
        assert len(import_into(col, apkg, col_path, "always").updated) == 0


def test_build_into_from_the_command_line(vault: Path, col_path: Path) -> None:
    first = ok("build", str(vault), "--into", str(col_path))
    assert "Wrote cards/notes.apkg" in first.output
    assert "5 new, 0 updated, 0 unchanged, 0 conflicting" in first.output
    again = ok("build", str(vault), "--into", str(col_path))
    assert "0 new, 0 updated, 5 unchanged, 0 conflicting" in again.output
    assert sorted(snapshot(col_path)) == SEED_IDS


# -- sync ------------------------------------------------------------------------------------


def test_sync_adds_a_card_and_writes_its_id_back(vault: Path, apkg: Path, col_path: Path) -> None:
    ok("import", str(apkg), "--collection", str(col_path))
    second = add_second_note(vault)
    seed_bytes = (vault / SEED).read_bytes()

    result = ok("sync", str(vault), "--collection", str(col_path))

    assert "1 added, 0 updated, 5 unchanged, 0 missing" in result.output
    written = second.read_bytes()
    head, card_end = SECOND_TEXT.encode().split(b"simplex.png]]\n", 1)
    assert written.startswith(head + b"simplex.png]]\n<!--ID: ")
    new_id = int(written.split(b"<!--ID: ")[1].split(b"-->")[0])
    assert written == head + b"simplex.png]]\n" + f"<!--ID: {new_id}-->\n".encode() + card_end
    assert f"notes/{SECOND}:4: added note {new_id}" in result.output
    assert (vault / SEED).read_bytes() == seed_bytes

    with opened(col_path) as col:
        note = col.get_note(new_id)
        assert note.mid == BASIC_MODEL_ID
        assert note.guid == guid_for(new_id)  # what a built deck calls this note
        assert note["Question"] == "<p>Which figure shows the simplex?</p>"
        assert col.decks.name(note.cards()[0].did) == "Papers::Second paper"
        assert "misc" in note.tags
        stored = [n for n in Path(col.media.dir()).iterdir() if "simplex" in n.name]
        assert len(stored) == 1
        assert f'src="{stored[0].name}"' in note["Answer"]
        assert stored[0].read_bytes() == Path("figures/gumbel-softmax-simplex.png").read_bytes()
        assert list(col.media.check().missing) == []

    assert "0 added, 0 updated, 6 unchanged" in ok("sync", "--collection", str(col_path)).output
    ok("build", str(vault))  # a deck built now agrees with what sync made
    reimport = ok("import", str(apkg), "--collection", str(col_path))
    assert "0 new, 0 updated, 6 unchanged, 0 conflicting" in reimport.output


def test_sync_into_empty_collection_adds_note_types_with_deck_ids(
    vault: Path, col_path: Path
) -> None:
    add_second_note(vault)
    (vault / "third.md").write_text(
        "---\ntitle: Third\nreverse: true\n---\n\nQ: Forward?\nA: Backward.\n\n"
        "The ==highlighted== words.\n",
        encoding="utf-8",
    )
    (vault / "paperdeck.toml").write_text("highlight_cloze = true\n", encoding="utf-8")

    result = ok("sync", str(vault), "--collection", str(col_path))

    assert "3 added" in result.output
    with opened(col_path) as col:
        names = {int(n.id): n.name for n in col.models.all_names_and_ids()}
        assert names[BASIC_MODEL_ID] == "paperdeck Q/A"
        assert names[REVERSED_MODEL_ID] == "paperdeck Q/A (and reversed)"
        assert names[CLOZE_MODEL_ID] == "paperdeck Cloze"
        assert sum(1 for n in names.values() if n.startswith("paperdeck")) == 3
        assert col.note_count() == 3
        assert col.card_count() == 4  # the reversed note has two cards
        decks = {d.name for d in col.decks.all_names_and_ids()}
        assert not any("note types" in d for d in decks)  # the placeholder deck is gone


def test_dangling_id_is_reported_with_file_and_line(vault: Path, col_path: Path) -> None:
    result = ok("sync", str(vault), "--collection", str(col_path))

    assert f"notes/{SEED}:40: warning: ID 1683650871138 is no note in the collection" in (
        result.output
    )
    assert "0 added, 0 updated, 0 unchanged, 5 missing" in result.output
    assert len(snapshot(col_path)) == 0

    strict = run("sync", str(vault), "--collection", str(col_path), "--strict")
    assert strict.exit_code == 1
    assert "Nothing synced" in strict.output


def test_update_keeps_review_history(vault: Path, apkg: Path, col_path: Path) -> None:
    ok("import", str(apkg), "--collection", str(col_path))
    target = 1683650871150
    with opened(col_path) as col:
        deck = col.get_note(target).cards()[0].did
        col.decks.select(deck)
        while (card := col.sched.getCard()) is not None:  # Easy: every card graduates
            col.sched.answerCard(card, 4)
        card = col.get_note(target).cards()[0]
        before = (card.ivl, card.due, card.reps, card.type, card.queue, card.factor)
        assert card.reps == 1 and card.ivl > 0
        reviews = col.db.scalar("select count() from revlog where cid = ?", card.id)

    note_file = vault / SEED
    note_file.write_text(
        note_file.read_text(encoding="utf-8").replace("become uniform.", "become flat."),
        encoding="utf-8",
    )
    result = ok("sync", str(vault), "--collection", str(col_path), "--deck-prefix", "Reading")

    assert f"updated note {target} (Answer, deck)" in result.output
    assert "0 added, 5 updated, 0 unchanged" in result.output
    with opened(col_path) as col:
        note = col.get_note(target)
        assert "become flat." in note["Answer"]
        card = note.cards()[0]
        assert (card.ivl, card.due, card.reps, card.type, card.queue, card.factor) == before
        assert col.db.scalar("select count() from revlog where cid = ?", card.id) == reviews
        expected = "Reading::Categorical reparameterization with gumbel-softmax"
        assert col.decks.name(card.did) == expected


def test_dry_run_changes_nothing(vault: Path, apkg: Path, col_path: Path) -> None:
    ok("import", str(apkg), "--collection", str(col_path))
    second = add_second_note(vault)
    note_file = vault / SEED
    note_file.write_text(
        note_file.read_text(encoding="utf-8").replace("become uniform.", "become flat."),
        encoding="utf-8",
    )
    (vault / SEED).write_bytes((vault / SEED).read_bytes().replace(b"Q: Visualize", b"Q: Draw", 1))
    seed_bytes = note_file.read_bytes()
    before = snapshot(col_path)

    result = ok("sync", str(vault), "--collection", str(col_path), "--dry-run", "--prune")

    assert f"add notes/{SECOND}:4: Which figure shows the simplex?" in result.output
    assert "update note 1683650871150 (Answer)" in result.output
    assert "update note 1683650871155 (Question)" in result.output
    assert "Plan: add 1, update 2, unchanged 3, missing 0, conflicting 0, prune 0" in (
        result.output
    )
    assert snapshot(col_path) == before
    assert second.read_bytes() == SECOND_TEXT.encode()
    assert note_file.read_bytes() == seed_bytes


def test_prune_only_with_yes(vault: Path, apkg: Path, col_path: Path) -> None:
    ok("import", str(apkg), "--collection", str(col_path))
    with opened(col_path) as col:  # the user's own note in the same deck is never pruned
        deck = col.get_note(SEED_IDS[0]).cards()[0].did
        own = col.new_note(col.models.by_name("Basic"))
        own["Front"] = "My own card"
        col.add_note(own, deck)
        own_id = own.id
    note_file = vault / SEED
    text = note_file.read_text(encoding="utf-8")
    start = text.index("Q: Visualize")
    end = text.index("<!--ID: 1683650871155-->") + len("<!--ID: 1683650871155-->\n")
    note_file.write_text(text[:start] + text[end:], encoding="utf-8")

    listed = ok("sync", str(vault), "--collection", str(col_path), "--prune")
    assert "Not deleted: 1 note no longer in the vault (add --yes to delete)" in listed.output
    assert "note 1683650871155 in Papers::Categorical" in listed.output
    assert len(snapshot(col_path)) == 6

    pruned = ok("sync", str(vault), "--collection", str(col_path), "--prune", "--yes")
    assert "deleted note 1683650871155" in pruned.output
    assert sorted(snapshot(col_path)) == sorted([*SEED_IDS[:4], own_id])

    again = ok("sync", str(vault), "--collection", str(col_path), "--prune", "--yes")
    assert "Nothing to prune." in again.output


def test_loading_the_commands_does_not_import_anki() -> None:
    code = (
        "import sys, paperdeck.cli, paperdeck.cli.collection; "
        "sys.exit('anki' in sys.modules or 'paperdeck.anki.collection' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(
    "anki_says", ["database is locked", "collection already open", "SQLITE_BUSY: Busy"]
)
def test_anki_saying_the_collection_is_in_use_is_a_locked_error(anki_says: str) -> None:
    from paperdeck.anki.collection import CollectionLocked, _db_error

    problem = _db_error(Path("c.anki2"), Exception(anki_says))
    assert isinstance(problem, CollectionLocked)
    assert str(problem) == (
        "c.anki2 is locked: Anki has it open. Close Anki (or switch it to another profile) "
        "and run this again; nothing was changed."
    )


def test_any_other_database_error_names_the_collection_and_anki_s_words() -> None:
    from paperdeck.anki.collection import CollectionError, CollectionLocked, _db_error

    problem = _db_error(Path("c.anki2"), Exception("file is not a database"))
    assert type(problem) is CollectionError and not isinstance(problem, CollectionLocked)
    assert str(problem) == "c.anki2: cannot use this Anki collection: file is not a database"


def test_sync_keeps_a_different_file_of_the_same_name_and_links_the_card_to_its_own(
    empty_vault: Path, col_path: Path
) -> None:
    from paperdeck.cards.media import media_name

    plot = b"\x89PNG\r\n\x1a\n the vault's plot"
    (empty_vault / "plot.png").write_bytes(plot)
    (empty_vault / "n.md").write_text("Q: Which plot?\nA: ![[plot.png]]\n", encoding="utf-8")
    # The collection already holds another file under the very name the card's image gets.
    theirs = media_name(Path("plot.png"), plot)
    with opened(col_path) as col:
        assert col.media.write_data(theirs, b"another file") == theirs

    ok("sync", str(empty_vault), "--collection", str(col_path))

    with opened(col_path) as col:
        (note_id,) = col.find_notes("")
        answer = col.get_note(note_id)["Answer"]
        names = re.findall(r'src="([^"]+)"', answer)
        assert len(names) == 1
        stored = Path(col.media.dir()) / names[0]
        assert names[0] != theirs and stored.read_bytes() == plot
        assert (Path(col.media.dir()) / theirs).read_bytes() == b"another file"
