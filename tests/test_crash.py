"""Real processes, killed and raced: nothing a user wrote is ever lost or duplicated.

- ``build`` and ``sync`` are killed with SIGKILL at seeded random moments of their run,
  on vaults that take about a second; after each kill every note is its original or the
  original plus ID lines, and the next run leaves no temporary file and (for ``sync``)
  exactly one Anki note per card, in a collection that passes SQLite's integrity check;
- two builds started together never write an ID twice;
- an editor appending cards while ``watch`` runs never loses one.

Every check is an invariant that must hold whatever moment the kill lands on, so these
tests cannot pass or fail by chance; waits are for a condition, with a timeout that only
bounds a hang.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import lock_held_by_another_process, start_watch

ID_LINE_RE = re.compile(rb"<!--ID: ([0-9]+)-->\n")
KILLS = 30


def make_vault(notes: Path, count: int, cards: int) -> dict[str, bytes]:
    """``count`` notes of ``cards`` ID-less cards each; returns each note's bytes by name."""
    notes.mkdir(parents=True)
    written: dict[str, bytes] = {}
    for n in range(count):
        lines = [f"Title: Paper {n}", "Tags: #crash", ""]
        for c in range(cards):
            lines += [f"Q: Question {c} of paper {n}, with $x_{c}$?", f"A: Answer $$y = {c}$$", ""]
        data = "\n".join(lines).encode()
        (notes / f"p{n:04d}.md").write_bytes(data)
        written[f"p{n:04d}.md"] = data
    return written


def paperdeck(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "paperdeck", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(proc: subprocess.Popen[bytes]) -> str:
    out, _ = proc.communicate(timeout=120)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    return text


def assert_original_or_with_ids(notes: Path, originals: dict[str, bytes], cards: int) -> None:
    """Each note is as it was, or as it was plus one ID line after each card (never torn)."""
    for name, original in originals.items():
        data = (notes / name).read_bytes()
        if data != original:
            assert ID_LINE_RE.sub(b"", data) == original, name
            assert len(ID_LINE_RE.findall(data)) == cards, name


def vault_ids(notes: Path, originals: dict[str, bytes], cards: int) -> list[int]:
    """Every note has all its IDs; returns them all."""
    found: list[int] = []
    for name in originals:
        ids = [int(i) for i in ID_LINE_RE.findall((notes / name).read_bytes())]
        assert len(ids) == cards, name
        found += ids
    return found


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if re.search(r"\.paperdeck-[^/]*\.tmp$", p.name))


def kill_at_random_moments(
    start: Callable[[], subprocess.Popen[bytes]],
    reset: Callable[[], None],
    grow: Callable[[], None],
    check_after_kill: Callable[[], None],
    check_after_rerun: Callable[[], None],
    seed: int,
) -> int:
    """Time one full run (growing the vault until it takes over a second), then ``KILLS``
    times: reset, start, SIGKILL at a random moment within that time, check, run again to
    the end, check. Returns how many kills landed on a running process."""
    duration = 0.0
    while duration <= 1.0:
        if duration:
            grow()
        reset()
        began = time.monotonic()
        finish(start())
        duration = time.monotonic() - began
    rng = random.Random(seed)
    landed = 0
    for _ in range(KILLS):
        reset()
        proc = start()
        time.sleep(rng.uniform(0.0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        landed += proc.returncode == -signal.SIGKILL
        check_after_kill()
        finish(start())
        check_after_rerun()
    print(f"{landed} of {KILLS} kills landed mid-run; a full run took {duration:.2f} s")
    return landed


class GrowingVault:
    """A pristine vault of ID-less notes that can be made larger; the originals by name."""

    def __init__(self, folder: Path, notes: int, cards: int) -> None:
        self.folder, self.cards = folder, cards
        self.originals = make_vault(folder, notes, cards)

    def grow(self) -> None:
        """Half as many notes again."""
        extra = make_vault(self.folder.with_name("extra"), len(self.originals) // 2, self.cards)
        for name, data in extra.items():
            new_name = f"x{len(self.originals)}-{name}"
            (self.folder / new_name).write_bytes(data)
            self.originals[new_name] = data
        shutil.rmtree(self.folder.with_name("extra"))

    def ids(self, notes: Path) -> list[int]:
        """Every note of the copy at ``notes`` has all its IDs; returns them all."""
        return vault_ids(notes, self.originals, self.cards)


def test_sigkill_during_build_never_tears_a_note_or_leaves_temp_files(tmp_path: Path) -> None:
    pristine = GrowingVault(tmp_path / "pristine", 500, 5)
    work = tmp_path / "work"
    notes, deck = work / "notes", work / "cards" / "notes.apkg"

    def reset() -> None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        shutil.copytree(pristine.folder, notes)

    def after_kill() -> None:
        assert_original_or_with_ids(notes, pristine.originals, 5)
        if deck.exists():  # the deck is the old one or a complete new one, never half
            with zipfile.ZipFile(deck) as archive:
                assert archive.testzip() is None

    def after_rerun() -> None:
        ids = pristine.ids(notes)
        assert len(set(ids)) == len(ids) == len(pristine.originals) * 5
        assert temp_files(work) == []

    landed = kill_at_random_moments(
        lambda: paperdeck("build", "notes", cwd=work),
        reset,
        pristine.grow,
        after_kill,
        after_rerun,
        seed=1,
    )
    assert landed >= KILLS // 2  # most kills hit a running build, not a finished one


@pytest.fixture(scope="module")
def empty_collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty collection made by Anki, closed: copied for each run that needs a fresh one."""
    from anki.collection import Collection

    path = tmp_path_factory.mktemp("empty") / "collection.anki2"
    Collection(str(path)).close()
    return path


def _unicase(a: str, b: str) -> int:
    return (a.casefold() > b.casefold()) - (a.casefold() < b.casefold())


def anki_note_ids(collection: Path) -> list[int]:
    """Every note id, after SQLite's own check that the file is intact."""
    db = sqlite3.connect(collection)
    db.create_collation("unicase", _unicase)  # Anki's own collation, for its indexes
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return [row[0] for row in db.execute("SELECT id FROM notes")]
    finally:
        db.close()


def test_sigkill_during_sync_leaves_no_orphan_and_no_duplicate(
    tmp_path: Path, empty_collection: Path
) -> None:
    pristine = GrowingVault(tmp_path / "pristine", 400, 5)
    work = tmp_path / "work"
    notes, collection = work / "notes", work / "anki" / "collection.anki2"

    def reset() -> None:
        shutil.rmtree(work, ignore_errors=True)
        collection.parent.mkdir(parents=True)
        shutil.copy(empty_collection, collection)
        shutil.copytree(pristine.folder, notes)

    def in_vault() -> set[int]:
        return {int(i) for p in notes.glob("*.md") for i in ID_LINE_RE.findall(p.read_bytes())}

    def after_kill() -> None:
        assert_original_or_with_ids(notes, pristine.originals, 5)
        assert set(anki_note_ids(collection)) <= in_vault()  # no Anki note the vault lacks

    def after_rerun() -> None:
        ids = pristine.ids(notes)
        assert sorted(anki_note_ids(collection)) == sorted(ids)  # one note per card
        assert len(set(ids)) == len(pristine.originals) * 5
        assert temp_files(work) == []

    landed = kill_at_random_moments(
        lambda: paperdeck("sync", "notes", "--collection", str(collection), cwd=work),
        reset,
        pristine.grow,
        after_kill,
        after_rerun,
        seed=2,
    )
    assert landed >= KILLS // 2


def test_two_builds_started_together_never_write_an_id_twice(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    originals = make_vault(pristine, 40, 3)
    for attempt in range(20):
        work = tmp_path / f"run{attempt}"
        shutil.copytree(pristine, work / "notes")
        first, second = paperdeck("build", "notes", cwd=work), paperdeck("build", "notes", cwd=work)
        outputs = finish(first) + finish(second)
        ids = vault_ids(work / "notes", originals, 3)  # exactly 3 ID lines in every note
        assert len(set(ids)) == len(ids) == 120, outputs
        assert outputs.count("added ID") == 120


def test_an_editor_appending_while_watch_runs_loses_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    make_vault(work / "notes", 200, 2)
    finish(paperdeck("build", "notes", cwd=work))  # a vault whose cards have IDs already
    note = work / "notes" / "p0000.md"
    watch, lines = start_watch(work)
    rng = random.Random(3)
    edits = [f"Q: Edit number {k} typed while watching?\nA: Answer {k}.\n" for k in range(40)]
    try:
        lines.wait_for("Watching notes")
        for edit in edits:
            time.sleep(rng.uniform(0.02, 0.5))
            fd = os.open(note, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, ("\n" + edit).encode())
            finally:
                os.close(fd)
        deadline = time.monotonic() + 120  # bounds a hang; the wait ends on the condition
        while time.monotonic() < deadline and note.read_bytes().count(b"<!--ID: ") < 42:
            time.sleep(0.05)
    finally:
        watch.send_signal(signal.SIGINT)
        out = lines.all_output(watch)
    assert watch.returncode == 0, out
    assert "Stopped." in out and "Traceback" not in out
    text = note.read_text(encoding="utf-8")
    for edit in edits:
        assert text.count(edit) == 1, edit  # every edit, once, each followed by its ID
        assert re.search(re.escape(edit) + r"<!--ID: [0-9]{13}-->\n", text), edit
    ids = re.findall(r"<!--ID: ([0-9]+)-->", text)
    assert len(ids) == len(set(ids)) == 42


def test_ctrl_c_during_a_watch_rebuild_stops_cleanly_with_the_last_good_deck(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    make_vault(work / "notes", 3, 2)
    watch, lines = start_watch(work)
    try:
        lines.wait_for("Watching notes")
        deck = (work / "cards" / "notes.apkg").read_bytes()
        with lock_held_by_another_process(work / "notes"):
            (work / "notes" / "p0001.md").write_text("Q: new card\nA: mid-rebuild\n")
            lines.wait_for("in use by paperdeck test holder")  # the rebuild has begun
            watch.send_signal(signal.SIGINT)
            out = lines.all_output(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, out
    assert out.strip().endswith("Stopped.")
    assert "Aborted" not in out and "Traceback" not in out
    assert (work / "cards" / "notes.apkg").read_bytes() == deck
    assert temp_files(work) == []
