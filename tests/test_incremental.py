"""Incremental builds: the deck a cached build writes is, byte for byte, the deck a full
build writes, whatever changed in between; a build with nothing to do reads nothing but
file stamps; an edit the file system's clock cannot show is still seen; a broken cache is
a full build; and parsing on many cores gives the same deck as on one."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import paperdeck.build
import paperdeck.buildwork
import paperdeck.notes.vault
import paperdeck.uptodate
import paperdeck.vaultread
from paperdeck.buildcache import CACHE_DIR, BuildCache
from paperdeck.config import Config
from paperdeck.notes.state import CardState
from paperdeck.notes.vault import FileStamp

from conftest import cli_ok

PNG = b"\x89PNG\r\n\x1a\n one"


def make_vault(notes: Path) -> None:
    """Notes with images (found by name, by path, missing), links, a folder, a warning."""
    (notes / "img").mkdir()
    (notes / "img" / "plot.png").write_bytes(PNG)
    (notes / "img" / "other.png").write_bytes(b"\x89PNG\r\n\x1a\n other")
    (notes / "deep").mkdir()
    (notes / "a.md").write_text(
        "Title: A\nTags: #x\n\nQ: a?\nA: ![[plot.png]] and [[b]]\n<!--ID: 1700000000101-->\n"
    )
    (notes / "b.md").write_text(
        "Q: b?\nA: ![b](img/other.png) and ![[gone.png]]\n<!--ID: 1700000000102-->\n"
    )
    (notes / "deep" / "c.md").write_text(
        "Q: c?\nA: ![[plot.png|200]] and [[a]]\n<!--ID: 1700000000103-->\n"
        "\nQ: d?\nA: $x$ [[missing note]]\n<!--ID: 1700000000104-->\n"
    )


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


def build_output(*args: str) -> list[str]:
    """The lines a build prints, but for the summary (which names its time)."""
    result = cli_ok("build", *args)
    return [line for line in result.output.splitlines() if " cards from " not in line]


def assert_same_as_a_full_build(notes: Path) -> None:
    """A cached build and a build without the cache write the same bytes and messages."""
    cached = build_output(str(notes), "-o", "cards/cached.apkg")
    full = build_output(str(notes), "-o", "cards/full.apkg", "--no-cache")
    assert cached == full
    assert Path("cards/cached.apkg").read_bytes() == Path("cards/full.apkg").read_bytes()


def _edit_note(notes: Path) -> None:
    edit(notes / "a.md", "A: ", "A: edited ")


def _edit_without_changing_the_size(notes: Path) -> None:
    edit(notes / "b.md", "Q: b?", "Q: B?")


def _add_note(notes: Path) -> None:
    (notes / "deep" / "new.md").write_text("Q: new?\nA: ![[other.png]]\n<!--ID: 1700000000105-->\n")


def _delete_note(notes: Path) -> None:
    (notes / "b.md").unlink()


def _rename_note(notes: Path) -> None:
    (notes / "a.md").rename(notes / "deep" / "a2.md")  # [[a]] no longer finds it


def _change_image(notes: Path) -> None:
    (notes / "img" / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n two, longer")


def _change_image_keeping_size_and_time(notes: Path) -> None:
    image = notes / "img" / "plot.png"
    before = image.stat()
    image.write_bytes(PNG.replace(b"one", b"eno"))
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))


def _add_missing_image(notes: Path) -> None:
    (notes / "deep" / "gone.png").write_bytes(b"\x89PNG\r\n\x1a\n found at last")


def _delete_image(notes: Path) -> None:
    (notes / "img" / "other.png").unlink()


def _add_linked_note(notes: Path) -> None:
    (notes / "missing note.md").write_text("Q: now there?\nA: yes\n<!--ID: 1700000000106-->\n")


def _break_a_note(notes: Path) -> None:
    (notes / "b.md").write_bytes(b"Q: b?\nA: \xff not UTF-8\n")


def _touch_without_change(notes: Path) -> None:
    os.utime(notes / "deep" / "c.md", (time.time() + 10, time.time() + 10))


CHANGES: dict[str, Callable[[Path], None]] = {
    "edit": _edit_note,
    "edit-same-size": _edit_without_changing_the_size,
    "add": _add_note,
    "delete": _delete_note,
    "rename": _rename_note,
    "image": _change_image,
    "image-same-size-and-time": _change_image_keeping_size_and_time,
    "missing-image-appears": _add_missing_image,
    "image-deleted": _delete_image,
    "linked-note-appears": _add_linked_note,
    "note-broken": _break_a_note,
    "touched": _touch_without_change,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_cached_build_writes_the_deck_a_full_build_writes(
    vault: Path, change: Callable[[Path], None]
) -> None:
    make_vault(vault)
    assert_same_as_a_full_build(vault)
    change(vault)
    if change is _break_a_note:  # an error: neither build writes a deck
        cached = cli_ok_or_fail("build", str(vault), "-o", "cards/cached.apkg")
        full = cli_ok_or_fail("build", str(vault), "-o", "cards/full.apkg", "--no-cache")
        assert cached == full
        assert "not valid UTF-8" in cached
        return
    assert_same_as_a_full_build(vault)
    assert_same_as_a_full_build(vault)  # and again, with nothing changed since


def cli_ok_or_fail(*args: str) -> str:
    from conftest import cli

    result = cli(*args)
    assert result.exit_code == 1
    return "\n".join(line for line in result.output.splitlines() if "error" in line)


def test_several_changes_in_a_row(vault: Path) -> None:
    make_vault(vault)
    for change in CHANGES.values():
        if change is not _break_a_note:
            change(vault)
            assert_same_as_a_full_build(vault)


# -- what a build with nothing to do reads ---------------------------------------------------


def test_a_build_with_nothing_to_do_reads_only_stamps(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_vault(vault)
    monkeypatch.setattr(paperdeck.notes.vault, "RACY_NS", 0)  # every file counts as settled
    cli_ok("build", str(vault))
    cli_ok("build", str(vault))  # a first rebuild may re-read what the first build wrote
    reads: list[str] = []
    real_read = paperdeck.notes.vault.read_regular_file

    def read(path: Path) -> Any:
        reads.append(Path(path).name)
        return real_read(path)

    def forbidden(*args: object, **kwargs: object) -> Any:
        raise AssertionError("a build with nothing to do loaded this")

    for module in (paperdeck.notes.vault, paperdeck.vaultread, paperdeck.uptodate):
        monkeypatch.setattr(module, "read_regular_file", read)
    monkeypatch.setattr(BuildCache, "renderings", forbidden)
    monkeypatch.setattr(BuildCache, "prefetch_summaries", forbidden)
    monkeypatch.setattr(BuildCache, "summary", forbidden)
    monkeypatch.setattr(CardState, "load", forbidden)

    result = cli_ok("build", str(vault))

    assert "is up to date" in result.output
    assert reads == []


def test_a_build_with_nothing_to_do_still_reports_every_problem(vault: Path) -> None:
    make_vault(vault)
    first = cli_ok("build", str(vault))
    again = cli_ok("build", str(vault))
    assert "is up to date" in again.output
    problems = [line for line in first.output.splitlines() if "warning" in line]
    assert problems
    assert problems == [line for line in again.output.splitlines() if "warning" in line]
    assert any("missing image 'gone.png'" in line for line in problems)


def test_cards_without_ids_are_reported_again_under_no_write(vault: Path) -> None:
    (vault / "n.md").write_text("Q: no id yet?\nA: none\n")
    first = cli_ok("build", str(vault), "--no-write")
    again = cli_ok("build", str(vault), "--no-write")
    assert "card has no ID yet (not written: --no-write)" in first.output
    assert "card has no ID yet (not written: --no-write)" in again.output
    written = cli_ok("build", str(vault))
    assert "added ID" in written.output
    after = cli_ok("build", str(vault)).output
    assert "no ID yet" not in after
    assert "is up to date" in after
    assert_same_as_a_full_build(vault)


def test_a_touched_note_keeps_its_cards_times_unless_no_card_state_is_kept(vault: Path) -> None:
    (vault / "n.md").write_text("Q: no id yet?\nA: none\n")
    cli_ok("build", str(vault), "--no-write", "-o", "cards/cached.apkg")
    os.utime(vault / "n.md", (time.time() + 10, time.time() + 10))  # its card's time, then
    cached = build_output(str(vault), "--no-write", "-o", "cards/cached.apkg")
    full = build_output(str(vault), "--no-write", "-o", "cards/full.apkg", "--no-cache")
    assert cached == full
    assert Path("cards/cached.apkg").read_bytes() == Path("cards/full.apkg").read_bytes()


def test_a_rewritten_deck_or_card_state_is_noticed(vault: Path) -> None:
    make_vault(vault)
    cli_ok("build", str(vault))
    deck = Path("cards/notes.apkg")
    original = deck.read_bytes()
    deck.write_bytes(b"x" * len(original))
    assert "Wrote cards/notes.apkg" in cli_ok("build", str(vault)).output
    assert deck.read_bytes() == original
    (vault / ".paperdeck" / "state.tsv").unlink()  # cards and note types are dated anew
    cli_ok("build", str(vault))
    assert (vault / ".paperdeck" / "state.tsv").exists()
    assert_same_as_a_full_build(vault)


# -- edits the file system's clock cannot show -----------------------------------------------


def coarse_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system whose clock ticks once an hour (and that has no inode numbers): every
    write of this test falls in one tick, so a same-size edit leaves the stamp as it was."""
    tick = time.time_ns()

    def stamp(status: os.stat_result) -> FileStamp:
        return FileStamp(status.st_size, tick, tick, 0, 0)

    for module in (paperdeck.vaultread, paperdeck.uptodate, paperdeck.buildwork):
        monkeypatch.setattr(module, "file_stamp", stamp)
    monkeypatch.setattr(paperdeck.notes.vault, "RACY_NS", 3600 * 10**9)


def test_an_edit_in_the_same_clock_tick_as_the_last_build_is_seen(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coarse_clock(monkeypatch)
    make_vault(vault)
    cli_ok("build", str(vault))
    cli_ok("build", str(vault))
    _edit_without_changing_the_size(vault)

    cli_ok("build", str(vault), "-o", "cards/cached.apkg")

    cli_ok("build", str(vault), "-o", "cards/full.apkg", "--no-cache")
    assert Path("cards/cached.apkg").read_bytes() == Path("cards/full.apkg").read_bytes()
    assert b"B?" in _collection_bytes(Path("cards/cached.apkg"))


def test_a_settled_stamp_is_trusted_and_an_unsettled_one_is_checked(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_vault(vault)
    read: list[str] = []
    real_read = paperdeck.notes.vault.read_regular_file

    def counting(path: Path) -> Any:
        read.append(Path(path).name)
        return real_read(path)

    for module in (paperdeck.notes.vault, paperdeck.vaultread):
        monkeypatch.setattr(module, "read_regular_file", counting)
    monkeypatch.setattr(paperdeck.notes.vault, "RACY_NS", 3600 * 10**9)
    cli_ok("build", str(vault))
    read.clear()
    cli_ok("build", str(vault))  # written within the hour: each note is read again
    assert sorted(n for n in read if n.endswith(".md")) == sorted(
        p.name for p in vault.rglob("*.md")
    )
    monkeypatch.setattr(paperdeck.notes.vault, "RACY_NS", 0)
    cli_ok("build", str(vault))  # settled now: recorded as such
    read.clear()
    cli_ok("build", str(vault))
    assert [n for n in read if n.endswith(".md")] == []


def test_an_edited_macros_file_renders_every_card_again(vault: Path) -> None:
    """macros.tex is a build input: each edit (even one that keeps its size and time) gives
    the deck a full build gives, and a build with nothing to do reports its problems again."""
    make_vault(vault)
    macros = vault / "macros.tex"
    macros.write_text("\\newcommand{\\R}{\\mathbb{R}}\n")
    edit(vault / "deep" / "c.md", "A: $x$", "A: $x \\in \\R$")
    assert_same_as_a_full_build(vault)
    assert b"\\(x \\in \\mathbb{R}\\)" in _collection_bytes(Path("cards/cached.apkg"))

    before = macros.stat()
    macros.write_text("\\newcommand{\\R}{\\mathbf{R}}\n")  # the same size, and ...
    os.utime(macros, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... the same time
    assert_same_as_a_full_build(vault)
    assert b"\\(x \\in \\mathbf{R}\\)" in _collection_bytes(Path("cards/cached.apkg"))

    macros.write_text("\\newcommand{\\R}{\\mathbf{R}}\n\\usepackage{x}\n")
    assert_same_as_a_full_build(vault)
    again = cli_ok("build", str(vault), "-o", "cards/cached.apkg").output
    assert "is up to date" in again
    assert "macros.tex:2: warning: \\usepackage is ignored" in again

    macros.unlink()
    assert_same_as_a_full_build(vault)
    assert b"\\(x \\in \\R\\)" in _collection_bytes(Path("cards/cached.apkg"))


def _collection_bytes(apkg: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(apkg) as archive:
        return archive.read("collection.anki2")


# -- a cache that cannot be trusted ------------------------------------------------------------


def cache_file() -> Path:
    (found,) = CACHE_DIR.glob("*.sqlite")
    return found


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a database at all" * 100)


def _cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _foreign_database(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")
        db.execute("INSERT INTO meta VALUES ('format', 'something else')")


def _damaged_entries(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET summary = x'00ff', parse = x'8003', render = x'00'")


def _damaged_index(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = x'80049500' WHERE key = 'index'")


def _wrong_types(path: Path) -> None:
    import pickle

    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE entries SET summary = ?, parse = ?, render = ?",
            [pickle.dumps("a string"), pickle.dumps(["a", "list"]), pickle.dumps(42)],
        )


def _damaged_pages(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE segments SET data = x'0000ffff'")


def _lost_pages(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM segments WHERE rowid % 2 = 0")


def _damaged_deck(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE parts SET part = x'00ff'")
        db.execute("UPDATE meta SET value = x'8004' WHERE key IN ('notes')")


BREAKAGES = {
    "garbage": _garbage,
    "cut-short": _cut_short,
    "foreign-database": _foreign_database,
    "damaged-entries": _damaged_entries,
    "damaged-index": _damaged_index,
    "wrong-types": _wrong_types,
    "damaged-pages": _damaged_pages,
    "lost-pages": _lost_pages,
    "damaged-deck": _damaged_deck,
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_broken_cache_means_a_full_build(vault: Path, breakage: Callable[[Path], None]) -> None:
    make_vault(vault)
    cli_ok("build", str(vault), "-o", "cards/full.apkg", "--no-cache")
    cli_ok("build", str(vault))
    _edit_note(vault)  # so that the next build needs what the cache holds
    cli_ok("build", str(vault), "-o", "cards/full.apkg", "--no-cache")
    breakage(cache_file())

    for _ in range(2):  # the build after the fallback uses the cache it wrote
        cli_ok("build", str(vault))
        assert Path("cards/notes.apkg").read_bytes() == Path("cards/full.apkg").read_bytes()


# -- every core --------------------------------------------------------------------------------


def test_parsing_and_rendering_on_many_processes_gives_the_same_deck(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_vault(vault)
    for n in range(24):
        (vault / "deep" / f"n{n:02d}.md").write_text(
            f"Title: Note {n}\n\n#topic{n % 3}\n\nQ: {n}?\nA: ![[plot.png]] $x_{n}$ [[a]]\n"
            f"<!--ID: {1700000001000 + n}-->\n\nQ: missing {n}?\nA: ![[nowhere{n}.png]]\n"
            f"<!--ID: {1700000002000 + n}-->\n"
        )
    config = Config()
    one = paperdeck.build.build(vault, Path("one.apkg"), config, use_cache=False, processes=1)

    pooled: list[int] = []
    real_pooled = paperdeck.buildwork._pooled

    def counted(*args: Any) -> Any:
        pooled.append(args[1])
        return real_pooled(*args)

    monkeypatch.setattr(paperdeck.buildwork, "POOL_MIN_JOBS", 2)
    monkeypatch.setattr(paperdeck.buildwork, "_pooled", counted)
    many = paperdeck.build.build(vault, Path("many.apkg"), config, use_cache=False, processes=3)

    assert pooled == [len(one.vault.sources), len(one.vault.sources)]  # parse, then render
    assert Path("one.apkg").read_bytes() == Path("many.apkg").read_bytes()
    assert one.diagnostics == many.diagnostics
    assert any("missing image 'nowhere3.png'" in str(d) for d in many.diagnostics)

    shutil.rmtree(CACHE_DIR, ignore_errors=True)
    cached = paperdeck.build.build(vault, Path("cached.apkg"), config, processes=3)
    assert Path("cached.apkg").read_bytes() == Path("one.apkg").read_bytes()
    assert cached.diagnostics == one.diagnostics


def test_an_edited_bibliography_renders_the_notes_citing_it_again(vault: Path) -> None:
    """The .bib files are a build input: each edit (even one that keeps the size and time)
    gives the deck a full build gives, and a build with nothing to do reports its problems
    again."""
    make_vault(vault)
    (vault / "paperdeck.toml").write_text('bibliography = ["refs.bib"]\n')
    bib = vault / "refs.bib"
    bib.write_text('@article{k, title = {A {\\"U}ber Title}, author = {Doe, Jane}}\n')
    (vault / "cited.md").write_text("Title: @k\n\nQ: cited?\nA: yes\n<!--ID: 1700000000107-->\n")
    assert_same_as_a_full_build(vault)
    assert "A Über Title".encode() in _collection_bytes(Path("cards/cached.apkg"))

    before = bib.stat()
    bib.write_text(bib.read_text().replace("Doe, Jane", "Roe, Jane"))  # the same size, and ...
    os.utime(bib, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... the same time
    assert_same_as_a_full_build(vault)
    assert b"Jane Roe" in _collection_bytes(Path("cards/cached.apkg"))

    bib.write_text(bib.read_text() + "@article{broken,\n")
    assert_same_as_a_full_build(vault)
    again = cli_ok("build", str(vault), "-o", "cards/cached.apkg").output
    assert "is up to date" in again
    assert "refs.bib:2: warning: entry could not be read" in again


# -- the last deck, taken over note by note ------------------------------------------------


def _many_notes(vault: Path, count: int) -> None:
    for n in range(count):
        (vault / "deep" / f"m{n:03d}.md").write_text(
            f"Title: Many {n}\n\nQ: {n}?\nA: ![[plot.png]] $x_{n}$\n"
            f"<!--ID: {1700000010000 + n}-->\n"
            f"\nQ: more {n}?\nA: yes\n<!--ID: {1700000020000 + n}-->\n"
        )


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of pages a few entries long, so that a small deck has many of them."""
    import dataclasses

    import paperdeck.anki.deckimage as deckimage

    trees = tuple(dataclasses.replace(t, every=16 if t.index else 2) for t in deckimage.TREES)
    monkeypatch.setattr(deckimage, "TREES", trees)
    monkeypatch.setattr(deckimage, "_BY_NAME", {t.name: t for t in trees})


def renderings_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The notes whose cached renderings builds read from now on (filled as they read)."""
    asked: list[str] = []
    real = BuildCache.renderings

    def renderings(self: BuildCache, wanted: list[tuple[str, str, str]]) -> Any:
        asked.extend(rel for rel, _, _ in wanted)
        return real(self, wanted)

    monkeypatch.setattr(BuildCache, "renderings", renderings)
    return asked


def test_an_edit_takes_every_other_note_over_from_the_last_deck(
    vault: Path, monkeypatch: pytest.MonkeyPatch, small_runs: None
) -> None:
    make_vault(vault)
    _many_notes(vault, 40)
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    asked = renderings_read(monkeypatch)
    for n in (3, 17, 39):
        edit(vault / "deep" / f"m{n:03d}.md", "A: yes", f"A: yes, edited {n}")
        asked.clear()
        cli_ok("build", str(vault), "-o", "cards/cached.apkg")
        assert asked == [f"deep/m{n:03d}.md"]  # no other note's rendering is read
        cli_ok("build", str(vault), "-o", "cards/full.apkg", "--no-cache")
        assert Path("cards/cached.apkg").read_bytes() == Path("cards/full.apkg").read_bytes()


def test_edits_in_a_row_give_the_deck_a_full_build_gives(vault: Path, small_runs: None) -> None:
    make_vault(vault)
    _many_notes(vault, 30)
    assert_same_as_a_full_build(vault)
    edit(vault / "deep" / "m004.md", "Title: Many 4", "Title: Moved to another deck")
    assert_same_as_a_full_build(vault)
    edit(vault / "deep" / "m005.md", "A: yes", "A: " + "a long answer " * 600)  # overflows
    assert_same_as_a_full_build(vault)
    edit(vault / "deep" / "m006.md", "Q: more 6?\nA: yes\n<!--ID: 1700000020006-->\n", "")
    assert_same_as_a_full_build(vault)
    edit(vault / "deep" / "m007.md", "Q: 7?", "Q: 7 (and reversed)?\nR: yes")
    assert_same_as_a_full_build(vault)


def test_a_card_state_changed_elsewhere_means_a_full_deck(vault: Path) -> None:
    make_vault(vault)
    _many_notes(vault, 5)
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    state = vault / ".paperdeck" / "state.tsv"
    newer = [  # another machine built this card later, and synced its card state here
        line.rsplit("\t", 1)[0] + "\t1999999999" if line.startswith("1700000010002\t") else line
        for line in state.read_text().splitlines()
    ]
    state.write_text("\n".join(newer) + "\n")
    edit(vault / "deep" / "m000.md", "A: yes", "A: no")
    assert_same_as_a_full_build(vault)
    assert (1999999999).to_bytes(4, "big") in _collection_bytes(Path("cards/cached.apkg"))


def test_a_build_parses_the_card_state_once(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import paperdeck.notes.state

    make_vault(vault)
    cli_ok("build", str(vault))
    _edit_note(vault)
    parsed: list[int] = []
    real = paperdeck.notes.state.parse_state

    def parse_state(text: str) -> CardState:
        parsed.append(len(text))
        return real(text)

    monkeypatch.setattr(paperdeck.notes.state, "parse_state", parse_state)
    before = (vault / ".paperdeck" / "state.tsv").read_text()
    cli_ok("build", str(vault))
    assert len(parsed) == 1  # loaded once; saved without reading it again
    assert (vault / ".paperdeck" / "state.tsv").read_text() != before  # the edit is recorded


def test_saving_the_card_state_keeps_what_another_machine_wrote_after_loading(
    empty_vault: Path,
) -> None:
    (empty_vault / ".paperdeck").mkdir()
    state_file = empty_vault / ".paperdeck" / "state.tsv"
    state_file.write_text("1700000000001\tcard\taaaaaaaaaaaaaaaa\t100\n")
    state = CardState.load(empty_vault)
    with state_file.open("a") as file:  # a git pull, while this build ran
        file.write("1700000000002\tcard\tbbbbbbbbbbbbbbbb\t200\n")
    state.record(1700000000003, "cccccccccccccccc", 300)
    state.save(empty_vault)
    again = CardState.load(empty_vault)
    assert {k: r.mod for k, r in again.cards.items()} == {
        1700000000001: 100,
        1700000000002: 200,
        1700000000003: 300,
    }
    again.record(1700000000001, "dddddddddddddddd", 400)
    again.save(empty_vault)  # the file is as loaded: saved from the copy kept
    assert CardState.load(empty_vault).cards[1700000000001].mod == 400
    assert len(CardState.load(empty_vault).cards) == 3


def test_a_damaged_page_the_edit_does_not_touch_is_not_written(
    vault: Path, small_runs: None
) -> None:
    make_vault(vault)
    _many_notes(vault, 40)
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    cache, _ = BuildCache.load(vault)
    record = cache.deck_record()
    cache.close()
    assert record is not None
    untouched = [r.segment.digest for r in record.image.runs["ix_cards_nid"]]  # by an edit
    with sqlite3.connect(cache_file()) as db:  # as bit rot would
        db.executemany(
            "UPDATE segments SET data = CAST(substr(data, 1, length(data) - 2) || x'0000' AS BLOB)"
            " WHERE digest = ?",
            [(d,) for d in untouched],
        )
    edit(vault / "deep" / "m010.md", "A: yes", "A: yes, edited")
    assert_same_as_a_full_build(vault)
    edit(vault / "deep" / "m011.md", "A: yes", "A: yes, edited")  # and the cache is whole again
    assert_same_as_a_full_build(vault)


def test_a_deck_not_kept_by_a_no_write_build_is_not_taken_over_later(vault: Path) -> None:
    make_vault(vault)
    _many_notes(vault, 5)
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    state = vault / ".paperdeck" / "state.tsv"
    newer = [  # another machine built this card later, and synced its card state here
        line.rsplit("\t", 1)[0] + "\t1999999999" if line.startswith("1700000010002\t") else line
        for line in state.read_text().splitlines()
    ]
    state.write_text("\n".join(newer) + "\n")
    edit(vault / "deep" / "m000.md", "A: yes", "A: no")
    cli_ok("build", str(vault), "-o", "cards/cached.apkg", "--no-write")
    edit(vault / "deep" / "m001.md", "A: yes", "A: no")
    assert_same_as_a_full_build(vault)


def test_adding_or_removing_a_note_takes_the_others_over(
    vault: Path, monkeypatch: pytest.MonkeyPatch, small_runs: None
) -> None:
    make_vault(vault)
    _many_notes(vault, 30)
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    asked = renderings_read(monkeypatch)
    (vault / "deep" / "added.md").write_text("Q: added?\nA: yes\n<!--ID: 1700000030001-->\n")
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    assert asked == ["deep/added.md"]
    (vault / "deep" / "m007.md").unlink()
    asked.clear()
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    assert asked == []
    (vault / "b.md").write_text("Q: b?\nA: now [[added]]\n<!--ID: 1700000000102-->\n")
    (vault / "img" / "plot.png").write_bytes(PNG + b" changed")  # 31 notes show it
    asked.clear()
    cli_ok("build", str(vault), "-o", "cards/cached.apkg")
    assert "deep/m008.md" in asked and "deep/added.md" not in asked
    cli_ok("build", str(vault), "-o", "cards/full.apkg", "--no-cache")
    assert Path("cards/cached.apkg").read_bytes() == Path("cards/full.apkg").read_bytes()
