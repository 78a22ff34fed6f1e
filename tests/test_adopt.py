"""Adopting the collection an Obsidian_to_Anki user already has, with real Anki collections.

The collections are shaped as the plugin leaves them: stock note types (``Basic`` with
Front/Back, ``Cloze`` with Text/Back Extra), in ``Default`` or the file's TARGET DECK,
tagged ``Obsidian_to_Anki``, random guids (AnkiConnect's), note ids equal to the IDs in the
notes, and review history. ``sync``, ``import`` and ``build --into`` must take those notes
over in place: same ids, same note types, same history, never a second note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import add_note_type, cli_ok, opened, snapshot

SEED = "Categorical reparameterization with gumbel-softmax.md"
SEED_IDS = [1683650871138, 1683650871147, 1683650871150, 1683650871153, 1683650871155]
PLUGIN_TAG = "Obsidian_to_Anki"


@dataclass(frozen=True)
class PluginNote:
    """A note as the plugin created it through AnkiConnect."""

    note_id: int
    note_type: str
    fields: dict[str, str]
    deck: str = "Default"


def plugin_collection(path: Path, notes: list[PluginNote], *, history: int | None = None) -> None:
    """Make the collection the plugin would have left; ``history`` gets review history."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with opened(path) as col:
        for spec in notes:
            note = col.new_note(col.models.by_name(spec.note_type))
            for name, value in spec.fields.items():
                note[name] = value
            note.tags = [PLUGIN_TAG]
            col.add_note(note, col.decks.id(spec.deck, create=True))
            # AnkiConnect's note id was the moment it was added: the ID the plugin wrote.
            col.db.execute("UPDATE notes SET id = ? WHERE id = ?", spec.note_id, note.id)
            col.db.execute("UPDATE cards SET nid = ? WHERE nid = ?", spec.note_id, note.id)
        if history is not None:
            (card_id,) = col.db.list("SELECT id FROM cards WHERE nid = ?", history)
            col.db.execute(
                "UPDATE cards SET type = 2, queue = 2, ivl = 34, due = 400, reps = 6, "
                "lapses = 1, factor = 2350 WHERE id = ?",
                card_id,
            )
            for k in range(6):
                col.db.execute(
                    "INSERT INTO revlog VALUES (?, ?, -1, 3, ?, ?, 2350, 4000, 1)",
                    1_690_000_000_000 + k,
                    card_id,
                    2**k,
                    2 ** (k - 1) if k else 0,
                )


def history_of(path: Path, note_id: int) -> tuple[Any, ...]:
    """The scheduling of a note's card and its review log."""
    with opened(path) as col:
        card = col.get_note(note_id).cards()[0]
        log = col.db.all("SELECT id, ease, ivl FROM revlog WHERE cid = ? ORDER BY id", card.id)
        return (card.type, card.queue, card.ivl, card.due, card.reps, card.lapses, tuple(log))


def notes_of(path: Path) -> dict[int, tuple[str, str, list[str], str]]:
    """Every note: its note type's name, deck, tags and first field."""
    with opened(path) as col:
        found = {}
        for nid in col.find_notes(""):
            note = col.get_note(nid)
            deck = col.decks.name(note.cards()[0].did)
            notetype = col.models.get(note.mid)
            assert notetype is not None
            found[int(nid)] = (notetype["name"], deck, sorted(note.tags), note.fields[0])
        return found


@pytest.fixture
def seed_in_anki(vault: Path, tmp_path: Path) -> Path:
    """The example note's five cards as the plugin left them: Basic notes in Default."""
    path = tmp_path / "anki" / "collection.anki2"
    plugin_collection(
        path,
        [PluginNote(i, "Basic", {"Front": f"plugin front {i}", "Back": "old"}) for i in SEED_IDS],
        history=SEED_IDS[0],
    )
    return path


def test_sync_adopts_every_card_in_place(vault: Path, seed_in_anki: Path) -> None:
    before = history_of(seed_in_anki, SEED_IDS[0])
    with opened(seed_in_anki) as col:  # Anki's own tag for a card the student keeps failing
        leech = col.get_note(SEED_IDS[1])
        leech.tags = [*leech.tags, "leech"]
        col.update_note(leech)

    result = cli_ok("sync", str(vault), "--collection", str(seed_in_anki))

    assert "0 added, 5 updated, 0 unchanged, 0 missing, 0 conflicting" in result.output
    assert "5 adopted (kept their note type)" in result.output
    after = notes_of(seed_in_anki)
    assert sorted(after) == SEED_IDS  # no note added, none lost
    assert {name for name, _, _, _ in after.values()} == {"Basic"}
    assert {deck for _, deck, _, _ in after.values()} == {"Default"}
    for _, _, tags, front in after.values():
        assert PLUGIN_TAG in tags and "author::Eric_Jang" in tags
        assert not front.startswith("plugin front")
    assert after[SEED_IDS[0]][3].startswith("<p>What is the Gumbel-Max trick?")
    assert history_of(seed_in_anki, SEED_IDS[0]) == before
    assert "leech" in after[SEED_IDS[1]][2]
    with opened(seed_in_anki) as col:
        back = col.get_note(SEED_IDS[0])["Back"]
        assert '<div class="source">' in back and "Open in Obsidian" in back

    again = cli_ok("sync", str(vault), "--collection", str(seed_in_anki))
    assert "0 added, 0 updated, 5 unchanged" in again.output


def test_import_and_build_into_adopt_and_never_add_a_second_note(
    vault: Path, seed_in_anki: Path
) -> None:
    before = history_of(seed_in_anki, SEED_IDS[0])
    cli_ok("build", str(vault))

    imported = cli_ok("import", "cards/notes.apkg", "--collection", str(seed_in_anki))
    # The notes in Anki were modified after the note file: if-newer leaves them.
    assert "0 new, 0 updated, 5 unchanged, 0 conflicting, 5 adopted" in imported.output
    always = cli_ok(
        "import", "cards/notes.apkg", "--collection", str(seed_in_anki), "--update", "always"
    )
    assert "0 new, 5 updated, 0 unchanged, 0 conflicting, 5 adopted" in always.output
    into = cli_ok("build", str(vault), "--into", str(seed_in_anki))
    assert "0 new, 0 updated, 5 unchanged, 0 conflicting, 5 adopted" in into.output

    after = notes_of(seed_in_anki)
    assert sorted(after) == SEED_IDS
    assert {name for name, _, _, _ in after.values()} == {"Basic"}
    assert history_of(seed_in_anki, SEED_IDS[0]) == before
    synced = cli_ok("sync", str(vault), "--collection", str(seed_in_anki))
    assert "0 updated, 5 unchanged" in synced.output  # import and sync wrote the same


def test_import_never_leaves_adopted_notes_as_they_were(vault: Path, seed_in_anki: Path) -> None:
    cli_ok("build", str(vault))
    before = snapshot(seed_in_anki)
    result = cli_ok(
        "import", "cards/notes.apkg", "--collection", str(seed_in_anki), "--update", "never"
    )
    assert "0 new, 0 updated, 5 unchanged, 0 conflicting, 5 adopted" in result.output
    assert snapshot(seed_in_anki) == before


CLOZE_NOTE = (
    "TARGET DECK\nReading::Plugin\n\n"
    "START\nCloze\nText: The {{c1::Gumbel}} trick.\nBack Extra: Extra words.\n"
    "<!--ID: 1700000000123-->\nEND\n"
)


@pytest.mark.parametrize("move", [False, True])
def test_cloze_notes_are_adopted_and_moved_only_when_asked(
    empty_vault: Path, tmp_path: Path, move: bool
) -> None:
    (empty_vault / "plugin.md").write_text(CLOZE_NOTE, encoding="utf-8")
    if move:
        (empty_vault / "paperdeck.toml").write_text("move_adopted = true\n", encoding="utf-8")
    path = tmp_path / "anki" / "collection.anki2"
    plugin_collection(
        path,
        [PluginNote(1700000000123, "Cloze", {"Text": "The {{c1::old}} trick.", "Back Extra": ""})],
    )

    result = cli_ok("sync", str(empty_vault), "--collection", str(path))

    assert "1 adopted" in result.output
    [(name, deck, _, text)] = notes_of(path).values()
    assert name == "Cloze"
    assert deck == ("Reading::Plugin" if move else "Default")
    assert "{{c1::Gumbel}}" in text
    with opened(path) as col:
        extra = col.get_note(1700000000123)["Back Extra"]
        assert extra.startswith("<p>Extra words.</p>")
        assert "Open in Obsidian" in extra  # no Source field: appended to the back


def test_source_can_be_left_out_of_adopted_notes(vault: Path, seed_in_anki: Path) -> None:
    (vault / "paperdeck.toml").write_text('adopted_source = "omit"\n', encoding="utf-8")
    cli_ok("sync", str(vault), "--collection", str(seed_in_anki))
    with opened(seed_in_anki) as col:
        assert "Open in Obsidian" not in col.get_note(SEED_IDS[0])["Back"]


def test_a_note_type_with_no_place_for_the_card_is_left_alone(vault: Path, tmp_path: Path) -> None:
    path = tmp_path / "anki" / "collection.anki2"
    path.parent.mkdir()
    add_note_type(path, "Vocab", ("Word", "Meaning"))
    plugin_collection(path, [PluginNote(SEED_IDS[0], "Vocab", {"Word": "w", "Meaning": "m"})])
    before = snapshot(path)

    result = cli_ok("sync", str(vault), "--collection", str(path))

    assert (
        f"warning: note {SEED_IDS[0]} is a 'Vocab' note whose fields (Word, Meaning) have no "
        "place for the card's (Question, Answer): not synced"
    ) in result.output
    assert snapshot(path) == before


def test_custom_and_stock_types_are_adopted_through_their_field_names(
    empty_vault: Path, tmp_path: Path
) -> None:
    path = tmp_path / "anki" / "collection.anki2"
    path.parent.mkdir()
    add_note_type(path, "Vocabulary", ("Word", "Meaning"))
    plugin_collection(
        path,
        [
            PluginNote(1700000000201, "Vocabulary", {"Word": "Hund", "Meaning": "old"}),
            PluginNote(1700000000202, "Basic (type in the answer)", {"Front": "2+2", "Back": "5"}),
        ],
        history=1700000000202,
    )
    (empty_vault / "plugin.md").write_text(
        "START\nVocabulary\nHund\nMeaning: dog\n<!--ID: 1700000000201-->\nEND\n\n"
        "STARTI [Basic (type in the answer)] 2+2 Back: 4 <!--ID: 1700000000202--> ENDI\n",
        encoding="utf-8",
    )
    types_before = {name for name, _, _, _ in notes_of(path).values()}
    before = history_of(path, 1700000000202)

    result = cli_ok("sync", str(empty_vault), "--collection", str(path))

    assert "2 adopted" in result.output and "0 added" in result.output
    after = notes_of(path)
    assert {name for name, _, _, _ in after.values()} == types_before
    with opened(path) as col:
        assert col.get_note(1700000000201)["Word"] == "<p>Hund</p>"
        assert col.get_note(1700000000201)["Meaning"].startswith("<p>dog</p>")
        assert col.get_note(1700000000202)["Back"].startswith("<p>4</p>")
    assert history_of(path, 1700000000202) == before


def test_delete_marked_cards_leave_anki_only_with_yes(empty_vault: Path, tmp_path: Path) -> None:
    path = tmp_path / "anki" / "collection.anki2"
    plugin_collection(
        path,
        [
            PluginNote(1700000000301, "Basic", {"Front": "keep", "Back": "k"}),
            PluginNote(1700000000302, "Basic", {"Front": "drop", "Back": "d"}),
        ],
    )
    note = empty_vault / "plugin.md"
    note.write_text(
        "Q: keep\nA: k\n<!--ID: 1700000000301-->\n\n"
        "Q: drop\nA: d\nDELETE\n<!--ID: 1700000000302-->\n",
        encoding="utf-8",
    )
    text = note.read_bytes()

    dry = cli_ok("sync", str(empty_vault), "--collection", str(path), "--dry-run")
    assert "delete (marked DELETE) note 1700000000302: drop" in dry.output
    listed = cli_ok("sync", str(empty_vault), "--collection", str(path))
    assert "Not deleted: 1 note marked DELETE in the vault (add --yes to delete)" in listed.output
    assert sorted(notes_of(path)) == [1700000000301, 1700000000302]

    deleted = cli_ok("sync", str(empty_vault), "--collection", str(path), "--yes")
    assert "deleted note 1700000000302" in deleted.output
    assert sorted(notes_of(path)) == [1700000000301]
    assert note.read_bytes() == text  # the note keeps its DELETE line: never added again
    cli_ok("build", str(empty_vault))
    again = cli_ok("sync", str(empty_vault), "--collection", str(path), "--yes")
    assert "deleted" not in again.output and sorted(notes_of(path)) == [1700000000301]
