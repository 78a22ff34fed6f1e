"""Never lose an edit: checked write-back, all-or-nothing builds, the vault lock, card state
that travels with the vault, and output and cache paths checked before anything is written.

Real files, the real CLI and real Anki collections; the process-level tests (SIGKILL,
concurrent builds, an editor racing ``watch``) are in ``test_crash.py``.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paperdeck.build
from paperdeck.anki.note_types import BASIC_MODEL_ID
from paperdeck.buildcache import CACHE_DIR, BuildCache
from paperdeck.fileio import replace_if_unchanged
from paperdeck.notes.state import CardRecord, CardState, format_state, parse_state

from conftest import cli, cli_as_a_user, cli_ok, lock_held_by_another_process

ONE_CARD = b"Title: One\n\nQ: What is new?\nA: This card.\n"


# -- a failed build writes nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("embed", "flags", "message"),
    [
        ("![[../../../etc/x.png]]", [], ""),
        ("![x](/etc/passwd.png)", [], ""),
        ("![x](%2e%2e/%2e%2e/secret.png)", [], ""),
        ("![[link.png]]", [], "leaves the notes folder"),
        ("![[nowhere.png]]", ["--strict"], "missing image 'nowhere.png'"),
    ],
    ids=["dotdot", "absolute", "percent-dotdot", "symlink-out", "strict-missing"],
)
def test_a_failed_build_writes_no_ids(
    empty_vault: Path, embed: str, flags: list[str], message: str
) -> None:
    outside = empty_vault.parent / "secret.png"
    outside.write_bytes(b"\x89PNG secret")
    (empty_vault / "link.png").symlink_to(outside)
    good = empty_vault / "good.md"
    good.write_bytes(ONE_CARD)
    bad = empty_vault / "bad.md"
    bad_text = f"Q: Which image?\nA: {embed}\n".encode()
    bad.write_bytes(bad_text)

    result = cli("build", str(empty_vault), *flags)

    assert result.exit_code == 1, result.output
    assert "notes/bad.md:2: error:" in result.output
    assert message in result.output
    assert "Deck not written" in result.output
    assert good.read_bytes() == ONE_CARD  # no ID for a card of a build that failed
    assert bad.read_bytes() == bad_text
    assert not Path("cards/notes.apkg").exists()
    assert not (empty_vault / ".paperdeck" / "state.tsv").exists()


# -- write-back that never loses an edit -------------------------------------------------------


def test_replace_if_unchanged_refuses_a_changed_file(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_bytes(b"edited by the user\n")
    assert not replace_if_unchanged(note, b"what was read\n", b"what was read\n<!--ID: 1-->\n")
    assert note.read_bytes() == b"edited by the user\n"
    assert replace_if_unchanged(note, b"edited by the user\n", b"new\n")
    assert note.read_bytes() == b"new\n"


def test_a_write_into_the_replaced_file_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor that writes into the note in the instant of the rename keeps its edit."""
    note = tmp_path / "n.md"
    note.write_bytes(b"Q: a\nA: b\n")
    editor = open(note, "r+b")  # noqa: SIM115 - the editor's handle on the old file
    real_replace = os.replace

    def replace_then_editor_writes(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        editor.seek(0, os.SEEK_END)
        editor.write(b"\nQ: typed meanwhile\n")
        editor.flush()

    monkeypatch.setattr(os, "replace", replace_then_editor_writes)
    try:
        assert not replace_if_unchanged(note, b"Q: a\nA: b\n", b"Q: a\nA: b\n<!--ID: 1-->\n")
    finally:
        editor.close()
    assert note.read_bytes() == b"Q: a\nA: b\n\nQ: typed meanwhile\n"


def test_a_note_edited_during_the_build_is_read_again(
    empty_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = empty_vault / "n.md"
    note.write_bytes(b"Q: first?\nA: one\n")
    real_collect = paperdeck.build.collect_deck
    edits = [b"\nQ: typed during the build?\nA: two\n"]

    def collect_while_the_user_types(*args: Any, **kwargs: Any) -> Any:
        if edits:  # once, between reading the note and writing its IDs
            with open(note, "ab") as handle:
                handle.write(edits.pop())
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(paperdeck.build, "collect_deck", collect_while_the_user_types)
    result = cli_ok("build", str(empty_vault))

    text = note.read_text(encoding="utf-8")
    assert "Q: typed during the build?\nA: two\n<!--ID: " in text
    assert text.startswith("Q: first?\nA: one\n<!--ID: ")
    assert text.count("<!--ID: ") == 2
    assert "2 cards from 1 note" in result.output


def test_a_note_that_keeps_changing_is_left_alone_with_a_message(
    empty_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = empty_vault / "n.md"
    note.write_bytes(b"Q: first?\nA: one\n")
    real_collect = paperdeck.build.collect_deck

    def collect_while_the_user_types(*args: Any, **kwargs: Any) -> Any:
        with open(note, "ab") as handle:
            handle.write(b"more ")
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(paperdeck.build, "collect_deck", collect_while_the_user_types)
    result = cli("build", str(empty_vault))

    assert result.exit_code == 1
    assert "notes/n.md:1: error: the note was edited while its IDs were being written" in (
        result.output
    )
    assert note.read_bytes() == b"Q: first?\nA: one\nmore more more "
    assert not Path("cards/notes.apkg").exists()


def test_a_symlinked_note_gets_its_id_where_it_points(empty_vault: Path) -> None:
    elsewhere = empty_vault.parent / "shared"
    elsewhere.mkdir()
    real = elsewhere / "shared.md"
    real.write_bytes(ONE_CARD)
    (empty_vault / "shared.md").symlink_to(real)

    cli_ok("build", str(empty_vault))

    assert (empty_vault / "shared.md").is_symlink()
    assert b"<!--ID: " in real.read_bytes()
    assert real.read_bytes().startswith(ONE_CARD)


def test_a_read_only_folder_keeps_its_cards_without_ids(empty_vault: Path) -> None:
    folder = empty_vault / "locked"
    folder.mkdir()
    note = folder / "n.md"
    note.write_bytes(ONE_CARD)
    folder.chmod(0o555)
    try:
        result = cli_as_a_user("build", str(empty_vault))
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "notes/locked/n.md:3: warning: card has no ID yet (not written: its folder" in (
        result.stderr
    )
    assert note.read_bytes() == ONE_CARD
    assert not [p.name for p in folder.iterdir() if p.name != "n.md"]  # no temp file left


def test_temp_files_of_a_killed_run_are_removed_and_no_others(empty_vault: Path) -> None:
    (empty_vault / "sub").mkdir()
    (empty_vault / "sub" / "n.md").write_bytes(ONE_CARD)
    stale = [
        empty_vault / "sub" / ".n.md.paperdeck-abc123_x.tmp",
        empty_vault / ".paperdeck" / ".state.tsv.paperdeck-q1w2e3.tmp",
        Path("cards") / ".notes.apkg.paperdeck-zz99.tmp",
    ]
    kept = [empty_vault / "sub" / ".n.md.swp.tmp", Path("cards") / ".other.apkg.paperdeck-a1.tmp"]
    for path in [*stale, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")

    cli_ok("build", str(empty_vault))

    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept)


# -- the vault's lock ---------------------------------------------------------------------------


def test_a_second_writer_waits_for_the_lock_and_says_who_has_it(empty_vault: Path) -> None:
    (empty_vault / "n.md").write_bytes(ONE_CARD)
    with lock_held_by_another_process(empty_vault):
        waiting = subprocess.Popen(
            [sys.executable, "-m", "paperdeck", "build", str(empty_vault)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stderr is not None
        line = waiting.stderr.readline()  # printed only once the lock was found taken
        assert line.startswith(f"Waiting for {empty_vault}: in use by paperdeck test holder (pid ")
        assert waiting.poll() is None  # still waiting: the holder has not let go
        assert (empty_vault / "n.md").read_bytes() == ONE_CARD
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert b"<!--ID: " in (empty_vault / "n.md").read_bytes()


# -- card identity that travels with the vault -----------------------------------------------


def test_a_fresh_copy_built_elsewhere_imports_as_unchanged(
    vault: Path, tmp_path: Path, collection: Any
) -> None:
    from conftest import import_apkg

    cli_ok("build", str(vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    copy = tmp_path / "clone" / "notes"
    shutil.copytree(vault, copy)  # new mtimes: a clone, another machine
    for path in copy.rglob("*.md"):
        os.utime(path, (2_000_000_000, 2_000_000_000))

    cli_ok("build", str(copy), "-o", str(tmp_path / "elsewhere.apkg"), "--no-cache")
    log = import_apkg(collection, tmp_path / "elsewhere.apkg")

    assert (len(log.new), len(log.updated), len(log.duplicate)) == (0, 0, 5)


def test_state_records_every_card_sorted_one_line_each(vault: Path) -> None:
    cli_ok("build", str(vault))
    text = (vault / ".paperdeck" / "state.tsv").read_text(encoding="utf-8")
    records = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    ids = [int(fields[0]) for fields in records if fields[1] == "card"]
    assert ids == sorted(ids) and len(ids) == 5
    assert [(int(f[0]), f[1]) for f in records if f[1] != "card"] == [(BASIC_MODEL_ID, "type")]
    assert (vault / ".paperdeck" / ".gitignore").read_text() == "lock\n*.tmp\n"


def test_a_merge_conflict_in_the_state_keeps_the_newest_of_each_card() -> None:
    text = (
        "# header\n"
        "<<<<<<< HEAD\n"
        "1700000000001\tcard\taaaaaaaaaaaaaaaa\t100\n"
        "1700000000002\tcard\tbbbbbbbbbbbbbbbb\t300\n"
        "=======\n"
        "1700000000001\tcard\tcccccccccccccccc\t200\n"
        "1700000000003\tcard\tdddddddddddddddd\t50\n"
        ">>>>>>> other-machine\n"
        "garbage line\n"
    )
    state = parse_state(text)
    assert state.changed  # to be written back clean
    assert not parse_state(format_state(state)).changed
    assert {k: (r.mod, r.digest) for k, r in state.cards.items()} == {
        1700000000001: (200, "cccccccccccccccc"),
        1700000000002: (300, "bbbbbbbbbbbbbbbb"),
        1700000000003: (50, "dddddddddddddddd"),
    }


STATE_LINES = [
    "# header",
    "",
    "1700000000001\tcard\taaaaaaaaaaaaaaaa\t100",
    "1700000000001\tcard\tcccccccccccccccc\t200",
    "1700000000002\tcard\tbbbbbbbbbbbbbbbb\t300",
    "1700000000003\tcard\tdddddddddddddddd\t50",
    "1700000000004\tcard\tDDDDDDDDDDDDDDDD\t50",  # upper case: no digest of ours
    "1700000000005\tcard\teeeeeeeeeeeeeeee\t",
    "x1700000000006\tcard\teeeeeeeeeeeeeeee\t7",
    "1700000000002\tsynced\tbbbbbbbbbbbbbbbb",
    "1700000000002\tanki\tbbbbbbbbbbbbbbbb\taaaaaaaaaaaaaaaa\tmarked x\tx",
    "1607392319\ttype\tfedcba9876543210\t1700000500",
    "1700000000009\tpending",
    "<<<<<<< HEAD",
    "garbage line",
]


@given(st.lists(st.sampled_from(STATE_LINES), max_size=30), st.booleans())
def test_the_state_file_reads_the_same_in_one_piece_or_line_by_line(
    lines: list[str], final_newline: bool
) -> None:
    """Card lines in a row are read in one piece; a file with CRLF endings (a Windows
    checkout) is read line by line. Both ways must read any file alike."""
    text = "\n".join(lines) + ("\n" if final_newline else "")
    whole, by_line = parse_state(text), parse_state(text.replace("\n", "\r\n"))
    assert whole.cards == by_line.cards and whole.types == by_line.types
    assert whole.synced == by_line.synced and whole.anki == by_line.anki
    assert whole.pending == by_line.pending and whole.changed == by_line.changed
    assert all(type(r) is CardRecord for r in whole.cards.values())


def test_an_edited_card_updates_and_a_conflicted_state_file_is_rewritten_clean(
    vault: Path, collection: Any
) -> None:
    from conftest import import_apkg

    cli_ok("build", str(vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    state_file = vault / ".paperdeck" / "state.tsv"
    state_file.write_text(
        "<<<<<<< HEAD\n" + state_file.read_text(encoding="utf-8") + "=======\n>>>>>>> b\n"
    )
    note = vault / "Categorical reparameterization with gumbel-softmax.md"
    note.write_text(note.read_text(encoding="utf-8").replace("become uniform.", "become flat."))

    cli_ok("build", str(vault))
    log = import_apkg(collection, Path("cards/notes.apkg"))

    assert (len(log.new), len(log.updated), len(log.duplicate)) == (0, 1, 4)
    assert "<<<<<<<" not in state_file.read_text(encoding="utf-8")


def test_a_broken_state_file_costs_one_update_never_an_error(vault: Path, collection: Any) -> None:
    from conftest import import_apkg

    cli_ok("build", str(vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    (vault / ".paperdeck" / "state.tsv").write_bytes(b"\xff\xfe not a state file \x00")
    for path in vault.rglob("*.md"):
        os.utime(path, (2_000_000_000, 2_000_000_000))

    cli_ok("build", str(vault))
    assert len(import_apkg(collection, Path("cards/notes.apkg")).updated) == 5
    cli_ok("build", str(vault), "--no-cache")
    assert len(import_apkg(collection, Path("cards/notes.apkg")).updated) == 0


def test_no_write_leaves_the_state_alone(vault: Path) -> None:
    cli_ok("build", str(vault), "--no-write")
    assert not (vault / ".paperdeck" / "state.tsv").exists()
    assert CardState.load(vault).cards == {}


# -- output and cache paths -----------------------------------------------------------------


def test_an_output_that_is_no_regular_file_is_a_usage_error(
    empty_vault: Path, tmp_path: Path
) -> None:
    (empty_vault / "n.md").write_bytes(ONE_CARD)
    fifo = tmp_path / "fifo.apkg"
    os.mkfifo(fifo)
    for target in ("/dev/null", str(tmp_path), str(fifo)):
        result = cli("build", str(empty_vault), "-o", target)
        assert result.exit_code == 2, result.output
        assert target in result.output
    assert Path("/dev/null").is_char_device()
    assert (empty_vault / "n.md").read_bytes() == ONE_CARD  # refused before anything was written

    (empty_vault / "paperdeck.toml").write_text(f'out = "{tmp_path}"\n')
    result = cli("build", str(empty_vault))
    assert result.exit_code == 2
    assert f"{tmp_path} is a folder" in result.output
    assert not [p for p in tmp_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_unusable_cache_is_a_warning(empty_vault: Path) -> None:
    (empty_vault / "n.md").write_bytes(ONE_CARD)
    CACHE_DIR.write_text("a file where the cache folder should be")
    result = cli_ok("build", str(empty_vault))
    assert ".paperdeck-cache: warning: not a folder; building without a cache" in result.output
    assert Path("cards/notes.apkg").exists()


@pytest.mark.parametrize(
    "stored",
    [
        {"entries": [1, 2]},
        "a string",
        "broken-cache",
    ],
    ids=["dict", "str", "wrong-typed-cache"],
)
def test_wrong_cache_contents_mean_a_full_build(empty_vault: Path, stored: object) -> None:
    (empty_vault / "n.md").write_bytes(ONE_CARD)
    cli_ok("build", str(empty_vault))
    deck = Path("cards/notes.apkg").read_bytes()
    cache, _ = BuildCache.load(empty_vault)
    if stored == "broken-cache":
        cache.entries = {"n.md": "not an entry"}  # type: ignore[dict-item]
        cache.deck = ("x", 3)  # type: ignore[assignment]
        stored = cache
    cache.path.write_bytes(pickle.dumps(stored))

    for _ in range(2):  # the build after the fallback reuses the cache it wrote
        result = cli_ok("build", str(empty_vault))
        assert "Wrote cards/notes.apkg" in result.output or "up to date" in result.output
        assert Path("cards/notes.apkg").read_bytes() == deck


# -- collections -------------------------------------------------------------------------------


def test_build_into_a_locked_collection_writes_nothing(empty_vault: Path, tmp_path: Path) -> None:
    from anki.collection import Collection

    (empty_vault / "n.md").write_bytes(ONE_CARD)
    col_path = tmp_path / "anki" / "collection.anki2"
    col_path.parent.mkdir()
    col = Collection(str(col_path))  # Anki has it open
    try:
        result = cli("build", str(empty_vault), "--into", str(col_path))
    finally:
        col.close()
    assert result.exit_code == 1
    assert "is locked: Anki has it open" in result.output
    assert (empty_vault / "n.md").read_bytes() == ONE_CARD
    assert not Path("cards/notes.apkg").exists()


def test_sync_prune_sees_the_cards_of_a_deleted_note_file(
    vault: Path, tmp_path: Path, collection: Any
) -> None:
    collection.close()
    col = str(tmp_path / "collection.anki2")
    gone = vault / "gone.md"
    gone.write_bytes(b"Title: Gone\n\nQ: Deleted soon?\nA: Yes.\n")
    cli_ok("build", str(vault), "--into", col)
    card_id = int(gone.read_text().split("<!--ID: ")[1].split("-->")[0])
    gone.unlink()

    listed = cli_ok("sync", str(vault), "--collection", col, "--prune")
    assert f"note {card_id} in Papers::Gone" in listed.output
    deleted = cli_ok("sync", str(vault), "--collection", col, "--prune", "--yes")
    assert f"deleted note {card_id}" in deleted.output
    assert str(card_id) not in (vault / ".paperdeck" / "state.tsv").read_text()


# -- sync when writing IDs goes wrong ------------------------------------------------------


def anki_ids(path: Path) -> list[int]:
    from conftest import opened

    with opened(path) as col:
        return sorted(int(n) for n in col.find_notes(""))


def test_a_note_edited_during_sync_gets_no_new_cards_until_the_next_sync(
    empty_vault: Path, col_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperdeck.sync

    note = empty_vault / "n.md"
    note.write_bytes(ONE_CARD)
    real_commit = paperdeck.sync.commit_ids

    def commit_while_the_user_types(plan: Any) -> Any:
        with open(note, "ab") as handle:
            handle.write(b"\ntyped during the sync\n")
        return real_commit(plan)

    monkeypatch.setattr(paperdeck.sync, "commit_ids", commit_while_the_user_types)
    result = cli_ok("sync", str(empty_vault), "--collection", str(col_path))

    assert "notes/n.md:3: warning: the note was edited during the sync" in result.output
    assert anki_ids(col_path) == []  # nothing whose ID is not in the vault
    assert note.read_bytes() == ONE_CARD + b"\ntyped during the sync\n"
    assert CardState.load(empty_vault).pending == set()

    monkeypatch.undo()
    again = cli_ok("sync", str(empty_vault), "--collection", str(col_path))
    assert "1 added" in again.output
    [card_id] = anki_ids(col_path)
    assert f"<!--ID: {card_id}-->" in note.read_text()


def test_sync_adds_nothing_when_it_cannot_record_new_ids_first(
    empty_vault: Path, col_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = empty_vault / "n.md"
    note.write_bytes(ONE_CARD)

    def unwritable(self: CardState, vault: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(CardState, "save", unwritable)
    result = cli("sync", str(empty_vault), "--collection", str(col_path))

    assert result.exit_code == 1
    assert "notes/.paperdeck: error: cannot record new IDs; no cards added" in result.output
    assert note.read_bytes() == ONE_CARD
    assert anki_ids(col_path) == []


def test_a_pending_id_whose_card_left_the_vault_is_dropped(
    empty_vault: Path, col_path: Path
) -> None:
    (empty_vault / "n.md").write_bytes(ONE_CARD)
    (empty_vault / ".paperdeck").mkdir()
    (empty_vault / ".paperdeck" / "state.tsv").write_text("1700000000999\tpending\n")

    cli_ok("sync", str(empty_vault), "--collection", str(col_path))

    state = CardState.load(empty_vault)
    assert state.pending == set()
    assert len(anki_ids(col_path)) == 1 and 1700000000999 not in anki_ids(col_path)


def test_state_reads_pending_ids_and_marks_a_file_with_a_card_twice_for_tidying() -> None:
    state = parse_state(
        "1700000000001\tcard\taaaaaaaaaaaaaaaa\t100\n"
        "1700000000001\tcard\tbbbbbbbbbbbbbbbb\t200\n"
        "1700000000002\tcard\tcccccccccccccccc\t100\n"
        "1700000000003\tpending\n"
    )
    assert state.pending == {1700000000003}
    assert state.changed  # the duplicate, though the line after it is fine
    assert state.cards[1700000000001].mod == 200


def test_forgetting_keeps_the_state_changed_whatever_the_last_id() -> None:
    state = parse_state("1700000000001\tcard\taaaaaaaaaaaaaaaa\t100\n")
    state.forget([1700000000001, 1700000000999])
    assert state.changed and not state.cards
