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


BREAKAGES = {
    "garbage": _garbage,
    "cut-short": _cut_short,
    "foreign-database": _foreign_database,
    "damaged-entries": _damaged_entries,
    "damaged-index": _damaged_index,
    "wrong-types": _wrong_types,
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
