"""The real CLI on real files: messages name file and line, exit codes, no tracebacks,
and a failed build never touches the previous deck or the notes."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from paperdeck.cli import main

from conftest import cli_as_a_user

NOTE_NAME = "Categorical reparameterization with gumbel-softmax.md"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_clean_failure(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for text in expected:
        assert text in result.output, result.output


@pytest.fixture
def built(vault: Path) -> tuple[Path, bytes]:
    """The example vault, built once: (deck path, deck bytes)."""
    result = run("build", str(vault))
    assert result.exit_code == 0, result.output
    deck = Path("cards/notes.apkg")
    return deck, deck.read_bytes()


BAD_NOTES = {
    "non-utf8": (b"Title: x\n\nQ: caf\xe9\nA: b\n", "bad.md:3: error: not valid UTF-8"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "bad.md: error: binary file"),
    "front matter": (b"---\ntitle: [unclosed\n---\n", "bad.md:2: error: invalid front matter"),
    "unclosed $$": (b"Q: x\nA: $$ y\n\nmore\n", "bad.md:2: error: unclosed '$$'"),
    "Q without A": (b"Title: t\n\nQ: lonely question\n\nprose\n", "bad.md:3: error: 'Q:' with no"),
    "malformed ID": (b"Q: q\nA: a\n<!--ID: 12ab-->\n", "bad.md:3: error: malformed card ID"),
}


@pytest.mark.parametrize("content,message", BAD_NOTES.values(), ids=list(BAD_NOTES))
def test_bad_note_fails_cleanly_and_keeps_previous_deck(
    built: tuple[Path, bytes], vault: Path, content: bytes, message: str
) -> None:
    deck, deck_bytes = built
    (vault / "bad.md").write_bytes(content)
    seed_before = (vault / NOTE_NAME).read_bytes()

    result = run("build", str(vault))

    assert_clean_failure(result, message, "1 error", "Deck not written")
    assert deck.read_bytes() == deck_bytes
    assert (vault / NOTE_NAME).read_bytes() == seed_before
    assert (vault / "bad.md").read_bytes() == content


def test_duplicate_ids_name_both_places(built: tuple[Path, bytes], vault: Path) -> None:
    (vault / "copy.md").write_text("Q: again\nA: same id\n<!--ID: 1683650871138-->\n")
    result = run("build", str(vault))
    assert_clean_failure(
        result,
        f"notes/copy.md:3: error: duplicate card ID 1683650871138 (also at notes/{NOTE_NAME}:40)",
        f"notes/{NOTE_NAME}:40: error: duplicate card ID 1683650871138 (also at notes/copy.md:3)",
    )


@pytest.mark.parametrize("target", ["../secret.png", "/etc/hosts.png", "a/../../x.png"])
def test_embed_outside_vault_is_refused(
    built: tuple[Path, bytes], vault: Path, target: str
) -> None:
    (vault.parent / "secret.png").write_bytes(b"not for sharing")
    (vault / "leak.md").write_text(f"Q: q\nA: ![[{target}]]\n<!--ID: 1700000000009-->\n")
    result = run("build", str(vault))
    assert_clean_failure(result, "notes/leak.md:2: error: embed", "outside")
    assert built[0].read_bytes() == built[1]


def test_symlink_leaving_vault_is_refused(vault: Path) -> None:
    (vault.parent / "secret.png").write_bytes(b"not for sharing")
    (vault / "link.png").symlink_to(vault.parent / "secret.png")
    (vault / "leak.md").write_text("Q: q\nA: ![[link.png]]\n<!--ID: 1700000000009-->\n")
    assert_clean_failure(run("build", str(vault)), "notes/leak.md:2: error:", "leaves")


def test_missing_image_is_a_warning_unless_strict(vault: Path) -> None:
    (vault / "pasted.md").write_text(
        "Q: Where is it?\nA: ![[Pasted image 20230509124737.png]]\n<!--ID: 1700000000011-->\n"
    )
    result = run("build", str(vault))
    assert result.exit_code == 0
    assert "notes/pasted.md:2: warning: missing image 'Pasted image 20230509124737.png'" in (
        result.output
    )
    strict = run("build", str(vault), "--strict", "-o", "cards/strict.apkg")
    assert_clean_failure(strict, "notes/pasted.md:2: error: missing image")
    assert not Path("cards/strict.apkg").exists()


def test_images_resolve_like_obsidian_and_never_collide(vault: Path) -> None:
    (vault / "a").mkdir()
    (vault / "b").mkdir()
    (vault / "a" / "x.png").write_bytes(b"\x89PNG first")
    (vault / "b" / "x.png").write_bytes(b"\x89PNG second")
    (vault / "a" / "n.md").write_text(
        "Q: which x?\nA: ![[x.png]] and ![[b/x.png|200]] and ![](../b/x.png)\n"
        "<!--ID: 1700000000010-->\n"
    )
    result = run("build", str(vault), "--no-write")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile("cards/notes.apkg") as apkg:
        names = json.loads(apkg.read("media"))
        contents = {
            name: apkg.read(index) for index, name in names.items() if name.startswith("x-")
        }
    assert sorted(contents.values()) == [b"\x89PNG first", b"\x89PNG second"]
    assert all(name.endswith(".png") for name in contents)


def test_no_write_reports_cards_without_ids_and_leaves_notes(vault: Path) -> None:
    note = vault / "new.md"
    note.write_bytes(b"Q: one\nA: two\n")
    result = run("build", str(vault), "--no-write")
    assert result.exit_code == 0, result.output
    assert "notes/new.md:1: warning: card has no ID yet (not written: --no-write)" in result.output
    assert note.read_bytes() == b"Q: one\nA: two\n"


def test_read_only_note_is_not_rewritten(vault: Path) -> None:
    note = vault / "ro.md"
    note.write_bytes(b"Q: one\nA: two\n")
    note.chmod(0o444)
    result = cli_as_a_user("build", str(vault))
    assert result.returncode == 0, result.stderr
    assert "notes/ro.md:1: warning: card has no ID yet (not written: the note is read-only)" in (
        result.stderr
    )
    assert note.read_bytes() == b"Q: one\nA: two\n"


def test_ids_are_written_back_with_crlf_and_bom_preserved(vault: Path) -> None:
    note = vault / "win.md"
    original = "\ufeffTitle: Win\r\n\r\nQ: one\r\nA: two\r\n\r\nQ: three\r\nA: four".encode()
    note.write_bytes(original)
    result = run("build", str(vault))
    assert result.exit_code == 0, result.output
    written = note.read_bytes()
    lines = written.split(b"\r\n")
    assert lines[0] == "\ufeffTitle: Win".encode()
    assert lines[4].startswith(b"<!--ID: ") and lines[-1].startswith(b"<!--ID: ")
    assert b"\n" not in written.replace(b"\r\n", b"")
    assert "notes/win.md:3: added ID" in result.output


def test_unchanged_input_gives_identical_deck(vault: Path) -> None:
    assert run("build", str(vault), "-o", "one.apkg").exit_code == 0
    assert run("build", str(vault), "-o", "two.apkg").exit_code == 0
    assert Path("one.apkg").read_bytes() == Path("two.apkg").read_bytes()


def test_check_lists_cards_and_writes_nothing(vault: Path) -> None:
    (vault / "new.md").write_bytes(b"Q: one\nA: two\n")
    result = run("check", str(vault))
    assert result.exit_code == 0, result.output
    assert f"notes/{NOTE_NAME}:36: [ID 1683650871138] What is the Gumbel-Max trick?" in (
        result.output
    )
    assert "notes/new.md:1: [no ID yet] one" in result.output
    assert "6 cards in 2 notes" in result.output
    assert (vault / "new.md").read_bytes() == b"Q: one\nA: two\n"
    assert not Path("cards").exists()


def test_config_file_sets_prefix_ignore_and_output(vault: Path) -> None:
    (vault / "paperdeck.toml").write_text(
        'deck_prefix = "Reading"\nignore = ["drafts/**"]\nout = "out/vault.apkg"\n'
    )
    (vault / "drafts").mkdir()
    (vault / "drafts" / "wip.md").write_bytes(b"Q: broken\n")
    result = run("build", str(vault))
    assert result.exit_code == 0, result.output
    assert deck_names(Path("out/vault.apkg")) == {"Reading::" + TITLE}
    flag = run("build", str(vault), "--deck-prefix", "Other", "-o", "flag.apkg")
    assert flag.exit_code == 0
    assert deck_names(Path("flag.apkg")) == {"Other::" + TITLE}


TITLE = "Categorical reparameterization with gumbel-softmax"


def deck_names(apkg: Path) -> set[str]:
    """The decks a package's cards are in."""
    with zipfile.ZipFile(apkg) as archive, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.anki2"
        db.write_bytes(archive.read("collection.anki2"))
        con = sqlite3.connect(db)
        try:
            decks = json.loads(con.execute("SELECT decks FROM col").fetchone()[0])
            used = {row[0] for row in con.execute("SELECT DISTINCT did FROM cards")}
        finally:
            con.close()
    return {d["name"] for d in decks.values() if d["id"] in used}


def test_bad_config_is_a_clean_error(vault: Path) -> None:
    (vault / "paperdeck.toml").write_text("deck_prefx = 'typo'\n")
    result = run("build", str(vault))
    assert result.exit_code == 1
    assert "unknown setting 'deck_prefx'" in result.output
    assert "Traceback" not in result.output


def test_bad_deck_template_is_a_clean_error(vault: Path) -> None:
    (vault / "paperdeck.toml").write_text('deck = "Reading::{paper}"\n')
    result = run("build", str(vault))
    assert result.exit_code == 1
    assert "'deck' template 'Reading::{paper}' is invalid" in result.output
    assert "Traceback" not in result.output


def test_usage_errors_exit_2(vault: Path) -> None:
    assert run("build", "no/such/dir").exit_code == 2
    assert run("build", str(vault), "--no-such-flag").exit_code == 2


def test_every_command_has_help() -> None:
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        assert command.help, name
        assert run(name, "--help").exit_code == 0


def test_python_m_paperdeck_runs(vault: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "paperdeck", "check", str(vault)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 cards in 1 note" in proc.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperdeck.cli.common import terminal_progress

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert terminal_progress() is None
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    show = terminal_progress()
    assert show is not None
    show("Reading notes", 100, 2000, "paper-00100.md")
    show("Reading notes", 2000, 2000, "")
    assert "Reading notes 100/2000 paper-00100.md" in screen.getvalue()
    assert screen.getvalue().endswith("Reading notes 2000/2000 done\n")


def test_piped_build_prints_no_progress(vault: Path) -> None:
    for i in range(120):
        (vault / f"n{i:03d}.md").write_text(f"Q: {i}?\nA: {i}\n<!--ID: {1700000001000 + i}-->\n")
    proc = subprocess.run(
        [sys.executable, "-m", "paperdeck", "build", str(vault)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Reading notes" not in proc.stderr + proc.stdout
    assert "125 cards from 121 notes" in proc.stdout


def test_the_readme_configuration_example_loads(tmp_path: Path) -> None:
    from paperdeck.config import load_config

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "paperdeck.toml").write_text(example, encoding="utf-8")
    config = load_config(tmp_path)
    assert config.deck_prefix == "Papers" and config.vault_name == "Research"
    assert config.folder_decks == {"Maths/Algebra": "Maths::Algebra"}
    assert [style.note_type for style in config.custom_styles] == ["Vocabulary"]


def scripted_watch(monkeypatch: pytest.MonkeyPatch, steps: list[Any]) -> None:
    """Replace watchfiles' watcher with a script: each step is a batch of changes to yield,
    a callable to run first (an edit), or an exception to raise (Ctrl-C)."""
    import watchfiles

    def watch(*_: Any, **__: Any) -> Any:
        for step in steps:
            if isinstance(step, BaseException):
                raise step
            if callable(step):
                step = step()
            yield step

    monkeypatch.setattr(watchfiles, "watch", watch)


def test_watch_rebuilds_for_edits_and_ignores_its_own_writes(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchfiles import Change

    new = vault / "new.md"

    def edit() -> set[tuple[Change, str]]:
        new.write_text("Q: typed\nA: saved\n")
        return {(Change.added, str(new))}

    own = {
        (Change.modified, str(vault / ".paperdeck" / "state.tsv")),
        (Change.added, str(vault / ".new.md.paperdeck-x1.tmp")),
    }
    scripted_watch(monkeypatch, [set(), edit, own, set()])

    result = run("watch", str(vault))

    assert result.exit_code == 0, result.output
    wrote = [line for line in result.output.splitlines() if "Wrote cards/notes.apkg" in line]
    assert len(wrote) == 2  # the first build and the edit; our own writes start none
    assert "6 cards from 2 notes" in wrote[1]
    assert result.output.rstrip().endswith("Stopped.")
    assert "<!--ID: " in new.read_text()


def test_ctrl_c_in_watch_exits_cleanly_in_process(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_watch(monkeypatch, [set(), KeyboardInterrupt()])
    result = run("watch", str(vault))
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("Stopped.") and "Aborted" not in result.output


def test_watch_reports_a_broken_note_and_keeps_going(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchfiles import Change

    broken = vault / "broken.md"

    def edit() -> set[tuple[Change, str]]:
        broken.write_text("Q: half-written\n")
        return {(Change.added, str(broken))}

    scripted_watch(monkeypatch, [set(), edit, set()])
    result = run("watch", str(vault))
    assert result.exit_code == 0
    assert "Not rebuilt (1 problem): notes/broken.md:1: error: 'Q:' with no 'A:'" in (result.output)


def deck_fields(apkg: Path) -> list[str]:
    """Every note's fields in a built deck, as one string each."""
    with zipfile.ZipFile(apkg) as package, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "collection.anki2"
        path.write_bytes(package.read("collection.anki2"))
        db = sqlite3.connect(path)
        try:
            return [row[0] for row in db.execute("select flds from notes order by id")]
        finally:
            db.close()


def test_watch_rebuilds_when_the_vault_s_macros_or_bibliography_change(
    empty_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchfiles import Change

    (empty_vault / "macros.tex").write_text("\\newcommand{\\R}{\\mathbb{R}}\n")
    (empty_vault / "refs.bib").write_text("@article{k, title={First}, year={2001}}\n")
    (empty_vault / "paperdeck.toml").write_text('bibliography = ["refs.bib"]\n')
    (empty_vault / "n.md").write_text(
        "Title: @k\n\nQ: Where is $x$?\nA: In $\\R$.\n<!--ID: 1700000000001-->\n"
    )
    seen: list[str] = []

    def edit(name: str, text: str) -> Any:
        def write() -> set[tuple[Change, str]]:
            seen.append(deck_fields(Path("cards/notes.apkg"))[0])
            (empty_vault / name).write_text(text)
            return {(Change.modified, str(empty_vault / name))}

        return write

    scripted_watch(
        monkeypatch,
        [
            set(),
            edit("macros.tex", "\\newcommand{\\R}{\\mathbf{R}}\n"),
            edit("refs.bib", "@article{k, title={First}, year={2002}}\n"),
            lambda: seen.append(deck_fields(Path("cards/notes.apkg"))[0]) or set(),
        ],
    )

    result = run("watch", str(empty_vault))

    assert result.exit_code == 0, result.output
    assert "\\mathbb{R}" in seen[0] and "2001" in seen[0]
    assert "\\mathbf{R}" in seen[1] and "2001" in seen[1]
    assert "\\mathbf{R}" in seen[2] and "2002" in seen[2]
