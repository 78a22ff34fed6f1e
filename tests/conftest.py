"""Shared fixtures: a temporary copy of the example vault and a real Anki collection."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

# Property tests must not pass or fail by chance: the same examples on every run, and no
# per-example time limit that a slow machine could trip.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.load_profile("deterministic")

REPO = Path(__file__).resolve().parent.parent
SEED_NOTE = REPO / "notes" / "Categorical reparameterization with gumbel-softmax.md"


@pytest.fixture(scope="session")
def seed_figures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example note's figures, rendered once per test session (they take seconds)."""
    from paperdeck.config import Config
    from paperdeck.figures.cache import render
    from paperdeck.figures.spec import read_figure_specs
    from paperdeck.notes.vault import load_note

    folder = tmp_path_factory.mktemp("seed-figures")
    source, _ = load_note(SEED_NOTE.parent, PurePosixPath(SEED_NOTE.name))
    assert source is not None
    specs, problems = read_figure_specs(source.note)
    assert not problems
    render(specs, folder / Config().figures_dir)
    return folder / Config().figures_dir


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed_figures: Path) -> Path:
    """A copy of the example vault in a temporary working directory (``./notes``), with its
    figures already rendered into ``./figures`` as a previous build would have left them."""
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    shutil.copy2(SEED_NOTE, notes / SEED_NOTE.name)
    shutil.copytree(seed_figures, tmp_path / "figures")
    return notes


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[object]:
    """A fresh, empty Anki collection made by Anki's own Python package."""
    from anki.collection import Collection

    col = Collection(str(tmp_path / "collection.anki2"))
    yield col
    col.close()


def import_apkg(col: object, apkg: Path, *, update: str = "if-newer") -> object:
    """Import a package the way Anki's File > Import does; return Anki's import log."""
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest
    from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition as Condition

    condition = {
        "if-newer": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
        "always": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_ALWAYS,
    }[update]
    request = ImportAnkiPackageRequest(
        package_path=str(apkg.resolve()),
        options=ImportAnkiPackageOptions(
            merge_notetypes=True, with_scheduling=False, update_notes=condition
        ),
    )
    return col.import_anki_package(request).log  # type: ignore[attr-defined]


class Lines:
    """A child process's output lines, read in a thread so that waiting can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout

        def read() -> None:
            for line in stream:
                self.seen.append(line)
                self.queue.put(line)

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r} within {timeout} s")

    def all_output(self, proc: subprocess.Popen[str], timeout: float = 60) -> str:
        """Everything the process printed, once it has exited."""
        proc.wait(timeout=timeout)
        self.reader.join(timeout=timeout)
        return "".join(self.seen)


_HOLD_LOCK = """
import sys
from pathlib import Path
from paperdeck.notes.lock import vault_lock
with vault_lock(Path(sys.argv[1]), command="test holder"):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def lock_held_by_another_process(notes: Path) -> Iterator[None]:
    """A separate process holds the vault's lock for the ``with`` block, then lets it go."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(notes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


@pytest.fixture
def empty_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty vault ``notes/`` in a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    return notes


def cli(*args: str) -> Result:
    """The CLI as a user runs it; never a traceback, whatever the exit status."""
    from paperdeck.cli import main

    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def cli_ok(*args: str) -> Result:
    """:func:`cli`, which must succeed."""
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result


_ROOT_POWERS = "-dac_override,-dac_read_search"


def cli_as_a_user(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process that file permissions apply to, as they do to a user.

    Root may write any file, so as root the child runs without the two capabilities that
    let it ignore permissions (``setpriv``, from util-linux); read-only files and folders
    are then as read-only for it as for anyone.
    """
    command = [sys.executable, "-m", "paperdeck", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop root's file powers")
        command = [setpriv, "--bounding-set", _ROOT_POWERS, "--inh-caps", _ROOT_POWERS, "--"]
        command += [sys.executable, "-m", "paperdeck", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Any]:
    """A collection opened by Anki's own package, closed after the block."""
    from anki.collection import Collection

    col = Collection(str(path))
    try:
        yield col
    finally:
        col.close()


@pytest.fixture
def col_path(tmp_path: Path) -> Path:
    """A fresh, empty collection made by Anki, closed again."""
    path = tmp_path / "anki" / "collection.anki2"
    path.parent.mkdir()
    with opened(path):
        pass
    return path


def snapshot(path: Path) -> dict[int, tuple[tuple[str, ...], tuple[str, ...], list[int]]]:
    """Every note's fields, tags and cards' decks."""
    with opened(path) as col:
        return {
            int(nid): (
                tuple(note.fields),
                tuple(sorted(note.tags)),
                sorted(c.did for c in note.cards()),
            )
            for nid in col.find_notes("")
            for note in [col.get_note(nid)]
        }


def add_note_type(path: Path, name: str, fields: tuple[str, ...], back: str = "") -> int:
    """Add a note type of the user's own to the collection at ``path``; returns its id."""
    with opened(path) as col:
        notetype = col.models.new(name)
        for field_name in fields:
            col.models.add_field(notetype, col.models.new_field(field_name))
        template = col.models.new_template("Card 1")
        template["qfmt"] = "{{" + fields[0] + "}}"
        template["afmt"] = back or "{{FrontSide}}<hr>{{" + fields[1] + "}}"
        col.models.add_template(notetype, template)
        col.models.add(notetype)
        return int(notetype["id"])


def _sigint_reaches_the_child() -> None:
    """A test run started in the background ignores SIGINT, and children inherit that;
    the watch tests send Ctrl-C, so their child must have Python's own handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_watch(work: Path | None = None) -> tuple[subprocess.Popen[str], Lines]:
    """``paperdeck watch notes`` (in ``work``, else the current folder), with its output."""
    watch = subprocess.Popen(
        [sys.executable, "-m", "paperdeck", "watch", "notes"],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_sigint_reaches_the_child if sys.platform != "win32" else None,
    )
    return watch, Lines(watch)
