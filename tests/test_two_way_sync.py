"""Two-way sync with real collections (issue 12): an edit made in Anki comes back into the
note, only that text changes, and a conflict overwrites neither side.

Edits are made through Anki's own Python package, as the desktop app (or a phone, after an
AnkiWeb sync) leaves them in the collection.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import cli, cli_ok, opened

FIXTURE = Path(__file__).parent / "fixtures" / "two_way"
NOTE = "two-way.md"
MATH, LIST, CODE, TABLE, IMAGE, CLOZE = range(1700000000101, 1700000000107)


@pytest.fixture
def synced(empty_vault: Path, col_path: Path) -> tuple[Path, Path]:
    """The two-way fixture vault, imported into a collection and synced once (the base)."""
    for name in (NOTE, "fig.png"):
        shutil.copy2(FIXTURE / name, empty_vault / name)
    cli_ok("build", str(empty_vault), "--into", str(col_path))
    cli_ok("sync", str(empty_vault), "--collection", str(col_path))
    return empty_vault, col_path


def edit_in_anki(col_path: Path, note_id: int, field: str, old: str, new: str) -> None:
    """Change ``old`` to ``new`` in one field, as Anki's editor saves it."""
    with opened(col_path) as col:
        note = col.get_note(note_id)
        assert old in note[field], note[field]
        note[field] = note[field].replace(old, new)
        col.update_note(note)


def anki_state(col_path: Path) -> dict[int, tuple[list[str], list[str], int]]:
    """Every note's fields, tags and modification time."""
    with opened(col_path) as col:
        return {
            int(nid): (list(n.fields), list(n.tags), int(n.mod))
            for nid in col.find_notes("")
            for n in [col.get_note(nid)]
        }


def history(col_path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The review log and every card's scheduling: what a sync must never touch."""
    with opened(col_path) as col:
        revlog = col.db.all("select * from revlog order by id")
        cards = col.db.all(
            "select id, nid, did, ivl, due, factor, reps, lapses, type, queue from cards "
            "order by id"
        )
    return revlog, cards


def review_one_card(col_path: Path, note_id: int) -> None:
    """Answer the note's card once through Anki's scheduler ("Good")."""
    with opened(col_path) as col:
        card = col.get_note(note_id).cards()[0]
        card.start_timer()
        col.sched.answerCard(card, 3)


def test_edits_made_in_anki_come_back_as_the_markdown_a_person_writes(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced
    note = vault / NOTE
    original = note.read_text(encoding="utf-8")
    review_one_card(col, MATH)
    reviewed = history(col)
    edit_in_anki(col, MATH, "Answer", r"\arg\max_i", r"\operatorname{argmax}_i")
    edit_in_anki(col, LIST, "Answer", "</ul>", "<li>take the <b>arg max</b></li>\n</ul>")
    edit_in_anki(col, CODE, "Answer", "tau", "temperature")
    edit_in_anki(col, TABLE, "Answer", "44%", "43%")
    edit_in_anki(col, IMAGE, "Answer", "shows it", "shows the simplex")
    edit_in_anki(col, CLOZE, "Text", "a softmax", "a tempered softmax")
    in_anki = anki_state(col)

    result = cli_ok("sync", str(vault), "--collection", str(col))

    expected = (
        original.replace(r"$z = \arg\max_i", r"$z = \operatorname{argmax}_i")
        .replace("- add $\\log \\pi_i$\n", "- add $\\log \\pi_i$\n- take the **arg max**\n")
        .replace("x / tau", "x / temperature")
        .replace("| 44% |", "| 43% |")
        .replace("shows it.", "shows the simplex.")
        .replace("{{c1::a softmax}}", "{{c1::a tempered softmax}}")
    )
    assert note.read_text(encoding="utf-8") == expected
    for card_line in (4, 8, 14, 21, 28, 32):
        assert f"{NOTE}:{card_line}: took note" in result.output
    assert anki_state(col) == in_anki  # Anki keeps its edits exactly as they are
    assert history(col) == reviewed

    again = cli_ok("sync", str(vault), "--collection", str(col))
    assert note.read_text(encoding="utf-8") == expected
    assert anki_state(col) == in_anki
    assert "0 updated, 6 unchanged" in again.output
    assert "took note" not in again.output
    assert history(col) == reviewed


def test_only_the_edited_text_changes_in_a_crlf_note_with_a_bom(
    empty_vault: Path, col_path: Path
) -> None:
    text = (
        "\ufeffTitle: CRLF\r\n\r\nQ: What is  $\\tau$?  \r\nA: The temprature.\r\n"
        "<!--ID: 1700000000201-->\r\n"
    )
    note = empty_vault / "crlf.md"
    note.write_bytes(text.encode("utf-8"))
    cli_ok("build", str(empty_vault), "--into", str(col_path))
    cli_ok("sync", str(empty_vault), "--collection", str(col_path))
    edit_in_anki(col_path, 1700000000201, "Answer", "temprature", "temperature")

    cli_ok("sync", str(empty_vault), "--collection", str(col_path))

    assert note.read_bytes() == text.replace("temprature", "temperature").encode("utf-8")


def test_edits_on_both_sides_are_a_conflict_that_changes_neither(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced
    note = vault / NOTE
    note.write_text(
        note.read_text(encoding="utf-8").replace("shows it.", "shows it (notes)."),
        encoding="utf-8",
    )
    edit_in_anki(col, IMAGE, "Answer", "shows it", "shows it in Anki")
    in_vault, in_anki = note.read_bytes(), anki_state(col)

    result = cli_ok("sync", str(vault), "--collection", str(col))

    assert f"{NOTE}:28: warning: card {IMAGE} changed both here and in Anki" in result.output
    assert "answer in the note: ![[fig.png]] shows it (notes)." in result.output
    assert "answer in Anki:     shows it in Anki." in result.output
    assert "--prefer notes or --prefer anki" in result.output
    assert note.read_bytes() == in_vault
    assert anki_state(col) == in_anki
    # Still a conflict next time: nothing was recorded as settled.
    again = cli_ok("sync", str(vault), "--collection", str(col))
    assert f"card {IMAGE} changed both here and in Anki" in again.output
    assert note.read_bytes() == in_vault and anki_state(col) == in_anki


@pytest.mark.parametrize("prefer", ["notes", "anki"])
def test_prefer_settles_a_conflict_for_one_side(synced: tuple[Path, Path], prefer: str) -> None:
    vault, col = synced
    note = vault / NOTE
    original = note.read_text(encoding="utf-8")
    note.write_text(original.replace("shows it.", "shows it (notes)."), encoding="utf-8")
    edit_in_anki(col, IMAGE, "Answer", "shows it", "shows it in Anki")

    cli_ok("sync", str(vault), "--collection", str(col), "--prefer", prefer)

    with opened(col) as anki:
        answer = anki.get_note(IMAGE)["Answer"]
    text = note.read_text(encoding="utf-8")
    if prefer == "notes":
        assert "shows it (notes)." in answer and "in Anki" not in answer
        assert text == original.replace("shows it.", "shows it (notes).")
    else:
        assert "shows it in Anki." in answer
        assert text == original.replace("shows it.", "shows it in Anki.")
    again = cli_ok("sync", str(vault), "--collection", str(col))
    assert "changed both" not in again.output and "took note" not in again.output


def test_an_edit_that_cannot_come_back_without_loss_is_a_conflict(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced
    note = vault / NOTE
    before = note.read_bytes()
    edit_in_anki(col, TABLE, "Answer", "<td>44%</td>", '<td style="color: red">44%</td>')
    in_anki = anki_state(col)

    result = cli_ok("sync", str(vault), "--collection", str(col))

    assert f"{NOTE}:21: warning: card {TABLE} was edited in Anki but cannot be written back" in (
        result.output
    )
    assert "cannot be written as Markdown without loss" in result.output
    assert note.read_bytes() == before
    assert anki_state(col) == in_anki


def test_dry_run_shows_both_directions_as_diffs_and_changes_nothing(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced
    note = vault / NOTE
    note.write_text(
        note.read_text(encoding="utf-8").replace("Which code?", "Which code is it?"),
        encoding="utf-8",
    )
    edit_in_anki(col, TABLE, "Answer", "44%", "43%")
    in_vault, in_anki = note.read_bytes(), anki_state(col)

    result = cli_ok("sync", str(vault), "--collection", str(col), "--dry-run")

    out = result.output
    assert f"--- anki/{CODE}/Question\n+++ sync/{CODE}/Question\n" in out
    assert "-<p>Which code?</p>\n+<p>Which code is it?</p>\n" in out
    assert f"--- a/notes/{NOTE}\n+++ b/notes/{NOTE}\n" in out
    assert "-| 0.5 | 44% |\n+| 0.5 | 43% |\n" in out
    assert note.read_bytes() == in_vault
    assert anki_state(col) == in_anki


def test_tags_added_in_anki_come_back_and_are_never_removed(synced: tuple[Path, Path]) -> None:
    vault, col = synced
    note = vault / NOTE
    original = note.read_text(encoding="utf-8")
    with opened(col) as anki:
        for nid in range(MATH, CLOZE + 1):
            n = anki.get_note(nid)
            n.tags = [*n.tags, "revisit::soon"]
            if nid == CODE:
                n.tags.append("only-here")
            anki.update_note(n)

    result = cli_ok("sync", str(vault), "--collection", str(col))

    assert note.read_text(encoding="utf-8") == original.replace(
        "Tags: #paper\n", "Tags: #paper #revisit/soon\n"
    )
    assert "tags added in Anki kept there only" in result.output and "only-here" in result.output
    tags = {nid: t for nid, (_, t, _) in anki_state(col).items()}
    assert all("revisit::soon" in t for t in tags.values())
    assert "only-here" in tags[CODE]
    again = cli_ok("sync", str(vault), "--collection", str(col))
    assert note.read_text(encoding="utf-8").count("#revisit/soon") == 1
    assert "only-here" in {nid: t for nid, (_, t, _) in anki_state(col).items()}[CODE]
    assert "0 updated" in again.output


def test_a_deck_move_made_in_anki_stays_until_the_notes_deck_changes(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced

    def deck_of(note_id: int) -> str:
        with opened(col) as anki:
            return str(anki.decks.name(anki.get_note(note_id).cards()[0].did))

    with opened(col) as anki:
        target = anki.decks.id("Elsewhere", create=True)
        anki.set_deck([c.id for c in anki.get_note(MATH).cards()], target)
    cli_ok("sync", str(vault), "--collection", str(col))
    assert deck_of(MATH) == "Elsewhere"

    note = vault / NOTE
    note.write_text(
        note.read_text(encoding="utf-8").replace("Tags: #paper\n", "Tags: #paper\nDeck: Moved\n"),
        encoding="utf-8",
    )
    cli_ok("sync", str(vault), "--collection", str(col))
    assert deck_of(MATH) == "Moved" and deck_of(TABLE) == "Moved"


def test_a_card_edited_in_anki_then_deleted_here_is_not_pruned(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced
    edit_in_anki(col, TABLE, "Answer", "44%", "43%")
    note = vault / NOTE
    text = note.read_text(encoding="utf-8")
    start = text.index("Q: Which table?")
    end = text.index("Q: Which plot?")
    note.write_text(text[:start] + text[end:], encoding="utf-8")

    result = cli_ok("sync", str(vault), "--collection", str(col), "--prune", "--yes")

    assert f"note {TABLE}" in result.output
    assert "was edited in Anki since the last sync" in result.output
    with opened(col) as anki:
        assert "43%" in anki.get_note(TABLE)["Answer"]  # the edit made in Anki is kept
    # An unedited card deleted here is pruned as before.
    text = note.read_text(encoding="utf-8")
    start, end = text.index("Q: Which plot?"), text.index("The relaxation")
    note.write_text(text[:start] + text[end:], encoding="utf-8")
    pruned = cli_ok("sync", str(vault), "--collection", str(col), "--prune", "--yes")
    assert f"deleted note {IMAGE}" in pruned.output


def test_one_way_sync_overwrites_nothing_in_the_notes(synced: tuple[Path, Path]) -> None:
    vault, col = synced
    before = (vault / NOTE).read_bytes()
    edit_in_anki(col, TABLE, "Answer", "44%", "43%")

    result = cli_ok("sync", str(vault), "--collection", str(col), "--one-way")

    assert "1 edited in Anki, kept" in result.output
    assert (vault / NOTE).read_bytes() == before


def test_a_note_edited_while_the_sync_runs_is_not_overwritten(
    synced: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperdeck import sync as sync_module

    vault, col = synced
    note = vault / NOTE
    edit_in_anki(col, TABLE, "Answer", "44%", "43%")
    real: Callable[..., Any] = sync_module.write_rewrites

    def editor_saves_first(rewrites: Any) -> Any:
        note.write_text(note.read_text(encoding="utf-8") + "\nTyped meanwhile.\n", "utf-8")
        return real(rewrites)

    monkeypatch.setattr(sync_module, "write_rewrites", editor_saves_first)
    result = cli("sync", str(vault), "--collection", str(col))

    assert "the note changed during the sync" in result.output
    assert note.read_text(encoding="utf-8").endswith("Typed meanwhile.\n")
    assert "| 0.5 | 44% |" in note.read_text(encoding="utf-8")
    monkeypatch.undo()
    cli_ok("sync", str(vault), "--collection", str(col))  # the next sync brings it back
    assert "| 0.5 | 43% |" in note.read_text(encoding="utf-8")


def test_an_edit_beside_a_vault_macro_keeps_the_macro_in_the_note(
    empty_vault: Path, col_path: Path
) -> None:
    (empty_vault / "macros.tex").write_text("\\newcommand{\\R}{\\mathbb{R}}\n")
    note = empty_vault / "m.md"
    note.write_text("Q: What is $x$?\nA: $x \\in \\R$ is real.\n<!--ID: 1700000000301-->\n")
    cli_ok("build", str(empty_vault), "--into", str(col_path))
    cli_ok("sync", str(empty_vault), "--collection", str(col_path))
    with opened(col_path) as anki:
        assert "\\mathbb{R}" in anki.get_note(1700000000301)["Answer"]  # expanded for Anki
    edit_in_anki(col_path, 1700000000301, "Answer", "is real", "is a real number")

    cli_ok("sync", str(empty_vault), "--collection", str(col_path))

    assert note.read_text() == (
        "Q: What is $x$?\nA: $x \\in \\R$ is a real number.\n<!--ID: 1700000000301-->\n"
    )


def test_block_syntax_cards_and_cloze_extras_edited_in_anki_are_conflicts(
    empty_vault: Path, col_path: Path
) -> None:
    note = empty_vault / "b.md"
    note.write_text(
        "START\nBasic\nFront: Block front\nBack: Block back\n<!--ID: 1700000000401-->\nEND\n\n"
        "A {{c1::cloze}} paragraph.\n<!--ID: 1700000000402-->\n"
    )
    cli_ok("build", str(empty_vault), "--into", str(col_path))
    cli_ok("sync", str(empty_vault), "--collection", str(col_path))
    before = note.read_bytes()
    edit_in_anki(col_path, 1700000000401, "Answer", "Block back", "Block back, edited")
    edit_in_anki(col_path, 1700000000402, "Extra", "", "An extra added in Anki")
    in_anki = anki_state(col_path)

    result = cli_ok("sync", str(empty_vault), "--collection", str(col_path))

    assert "b.md:3: warning: card 1700000000401 was edited in Anki but cannot" in result.output
    assert "names a note type" in result.output
    assert "b.md:8: warning: card 1700000000402 was edited in Anki but cannot" in result.output
    assert "no place for text added to its Extra field" in result.output
    assert note.read_bytes() == before
    assert anki_state(col_path) == in_anki


def test_without_a_record_of_anki_an_edit_to_a_card_unchanged_here_comes_back(
    synced: tuple[Path, Path],
) -> None:
    """The first sync after upgrading: the state has no ``anki`` lines yet."""
    vault, col = synced
    state = vault / ".paperdeck" / "state.tsv"
    lines = state.read_text(encoding="utf-8").splitlines(keepends=True)
    state.write_text("".join(line for line in lines if "\tanki\t" not in line), "utf-8")
    edit_in_anki(col, TABLE, "Answer", "44%", "43%")

    cli_ok("sync", str(vault), "--collection", str(col))

    assert "| 0.5 | 43% |" in (vault / NOTE).read_text(encoding="utf-8")
    assert "\tanki\t" in state.read_text(encoding="utf-8")


def test_anki_s_own_tags_are_not_brought_back(synced: tuple[Path, Path]) -> None:
    vault, col = synced
    before = (vault / NOTE).read_bytes()
    with opened(col) as anki:
        for nid in range(MATH, CLOZE + 1):
            n = anki.get_note(nid)
            n.tags = [*n.tags, "leech", "marked"]
            anki.update_note(n)

    cli_ok("sync", str(vault), "--collection", str(col))

    assert (vault / NOTE).read_bytes() == before
    with opened(col) as anki:
        assert {"leech", "marked"} <= set(anki.get_note(MATH).tags)


def test_an_edit_to_a_cited_card_keeps_its_page_references_as_written(
    empty_vault: Path, col_path: Path
) -> None:
    vault = Path(__file__).parent / "fixtures" / "citations" / "vault"
    for name in ("refs.bib", "attachments"):
        source = vault / name
        if source.is_dir():
            shutil.copytree(source, empty_vault / name)
        else:
            shutil.copy2(source, empty_vault / name)
    (empty_vault / "paperdeck.toml").write_text('bibliography = ["refs.bib"]\n')
    shutil.copy2(vault / "papers" / "gumbel.md", empty_vault / "gumbel.md")
    note = empty_vault / "gumbel.md"
    original = note.read_text(encoding="utf-8")
    cli_ok("build", str(empty_vault), "--into", str(col_path))
    cli_ok("sync", str(empty_vault), "--collection", str(col_path))
    with opened(col_path) as anki:
        assert "page%3D3" in anki.get_note(1700000000201)["Question"]  # a link on the card
    edit_in_anki(col_path, 1700000000201, "Answer", "soft sample", "relaxed sample")

    cli_ok("sync", str(empty_vault), "--collection", str(col_path))

    assert note.read_text(encoding="utf-8") == original.replace("soft sample", "relaxed sample")


def test_the_notes_can_win_for_tags_and_decks(synced: tuple[Path, Path]) -> None:
    vault, col = synced
    (vault / "paperdeck.toml").write_text('sync_tags = "notes"\nsync_deck = "notes"\n')
    before = (vault / NOTE).read_bytes()
    with opened(col) as anki:
        note = anki.get_note(MATH)
        note.tags = [*note.tags, "added-in-anki", "marked"]
        anki.update_note(note)
        elsewhere = anki.decks.id("Elsewhere", create=True)
        anki.set_deck([c.id for c in note.cards()], elsewhere)

    cli_ok("sync", str(vault), "--collection", str(col))

    assert (vault / NOTE).read_bytes() == before
    with opened(col) as anki:
        note = anki.get_note(MATH)
        assert sorted(note.tags) == ["marked", "paper"]  # Anki's own tag stays
        assert anki.decks.name(note.cards()[0].did) != "Elsewhere"


def test_an_edit_that_says_the_same_settles_and_a_source_edit_is_a_conflict(
    synced: tuple[Path, Path],
) -> None:
    vault, col = synced
    note = vault / NOTE
    before = note.read_bytes()
    edit_in_anki(col, MATH, "Question", "<p>What is", "<p><b></b>What is")
    edit_in_anki(col, LIST, "Source", "Two-way", "Two-way (edited in Anki)")

    first = cli_ok("sync", str(vault), "--collection", str(col))

    assert note.read_bytes() == before
    assert f"card {MATH}" not in first.output
    assert f"card {LIST} was edited in Anki but cannot be written back" in first.output
    assert "its Source field was edited in Anki" in first.output
    # The markup-only edit is now the base: a later change in the note is a plain push.
    note.write_text(
        note.read_text(encoding="utf-8").replace("Gumbel-Max trick?", "Gumbel-Max trick, again?"),
        encoding="utf-8",
    )
    second = cli_ok("sync", str(vault), "--collection", str(col))
    assert f"updated note {MATH} (Question)" in second.output
    assert f"card {LIST} was edited in Anki but cannot be written back" in second.output
