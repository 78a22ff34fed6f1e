"""Hostile input through the real CLI: each is a clean ``path:line`` diagnostic and exit code,
never a traceback, a hang or a memory blow-up.

Inputs that used to hang or exhaust memory run in a child process under a timeout and an
address-space limit, so a regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperdeck.cli import main
from paperdeck.notes.parse import parse_note

from conftest import cli_as_a_user

TIMEOUT = 60
"""Seconds a child process may run: generous, since what this guards against never ends."""
MEMORY = 1 << 30
"""Bytes of address space for a child process; the alias bombs below need many GiB."""
DEEP = 20_000
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def notes(empty_vault: Path) -> Path:
    """The shared empty vault, under the name these tests use."""
    return empty_vault


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_bounded(*args: str) -> tuple[int, str]:
    """The CLI in a child process, killed past :data:`TIMEOUT`; (exit code, all output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "paperdeck", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory if sys.platform != "win32" else None,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def assert_clean(code: int, output: str, expected_code: int, *expected: str) -> None:
    assert code == expected_code, output
    assert "Traceback" not in output
    for text in expected:
        assert text in output, output


def spec_note(body: str) -> str:
    """A note whose figure spec starts ``name:`` on line 5, so ``body`` starts on line 6."""
    return f"Q: a\nA: b\n\n```paperdeck-figure\nname: s.png\n{body}\n```\n"


def alias_bomb() -> str:
    """Billion laughs: nine levels of nine aliases each, the first alias on the second line."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines)


# --- 1, 2: figure spec values of the wrong type or out of float range ---------------------

SPECS = {
    "kind is a list": ("kind: [simplex]", "n.md:6: error: unknown figure kind ['simplex']"),
    "kind is a mapping": ("kind: {a: 1}", "n.md:6: error: unknown figure kind {'a': 1}"),
    "undefined alias": ("kind: *k", "n.md:6: error: invalid figure spec: aliases (*k) are"),
    "defined alias": ("kind: &k simplex\ntau: *k", "n.md:7: error: invalid figure spec: alias"),
    "tau overflows": ("kind: simplex\ntau: [1e400]", "n.md:7: error: invalid 'tau': expected a fi"),
    "pi overflows": ("kind: simplex\npi: [1e400, 1, 1]", "n.md:7: error: invalid 'pi': expected"),
    "int too long": ("kind: simplex\nseed: " + "9" * 5000, "n.md:7: error: invalid figure spec"),
    "key is a list": ("kind: simplex\n[a]: 1", "n.md:7: error: figure spec keys must be plain"),
}


@pytest.mark.parametrize("body,message", SPECS.values(), ids=list(SPECS))
def test_bad_figure_spec_is_an_error_at_its_line(notes: Path, body: str, message: str) -> None:
    (notes / "n.md").write_text(spec_note(body), encoding="utf-8")
    result = run("check", str(notes))
    assert_clean(result.exit_code, result.output, 1, f"notes/{message}")
    assert len(result.output) < 1000


def test_huge_exponent_is_refused_at_once(notes: Path) -> None:
    (notes / "n.md").write_text(spec_note("kind: simplex\ntau: [1e99999999]"))
    code, output = run_bounded("check", str(notes))
    assert_clean(code, output, 1, "notes/n.md:7: error: invalid 'tau': expected a finite number")


# --- 3: deep nesting and alias bombs, in front matter and in figure specs ----------------

BOMBS = {
    "deep front matter": (
        "---\ntags: " + "[" * DEEP + "]" * DEEP + "\n---\nQ: a\nA: b\n",
        "notes/n.md:2: error: invalid front matter: nested more than 32 levels deep",
    ),
    "deep spec": (
        spec_note("kind: simplex\npi: " + "[" * DEEP + "]" * DEEP),
        "notes/n.md:7: error: invalid figure spec: nested more than 32 levels deep",
    ),
    "front matter bomb": (
        f"---\n{alias_bomb()}\ntags: *a8\n---\nQ: a\nA: b\n",
        "notes/n.md:3: error: invalid front matter: aliases (*a0) are not allowed",
    ),
    "spec bomb": (
        spec_note(f"kind: simplex\n{alias_bomb()}\npi: *a8"),
        "notes/n.md:8: error: invalid figure spec: aliases (*a0) are not allowed",
    ),
}


@pytest.mark.parametrize("text,message", BOMBS.values(), ids=list(BOMBS))
def test_yaml_bombs_are_refused_in_bounded_time_and_memory(
    notes: Path, text: str, message: str
) -> None:
    (notes / "n.md").write_text(text, encoding="utf-8")
    code, output = run_bounded("check", str(notes))
    assert_clean(code, output, 1, message)
    assert len(output) < 1000


FRONT_MATTER = {
    "long int": ("title: " + "1" * 5000, "n.md:2: error: invalid front matter: number longer"),
    "bad date": ("year: 2024-13-01", "n.md:2: error: invalid front matter: cannot read value"),
}


@pytest.mark.parametrize("yaml,message", FRONT_MATTER.values(), ids=list(FRONT_MATTER))
def test_front_matter_values_python_cannot_hold_are_errors(
    notes: Path, yaml: str, message: str
) -> None:
    (notes / "n.md").write_text(f"---\n{yaml}\n---\nQ: a\nA: b\n")
    result = run("check", str(notes))
    assert_clean(result.exit_code, result.output, 1, f"notes/{message}")


# --- 4: FIFOs where a note or an image should be --------------------------------------------


@needs_fifo
@pytest.mark.parametrize("command", ["check", "build"])
def test_fifo_note_is_an_error_not_a_hang(notes: Path, command: str) -> None:
    (notes / "n.md").write_text("Q: a\nA: b\n")
    os.mkfifo(notes / "y.md")
    code, output = run_bounded(command, str(notes))
    assert_clean(code, output, 1, "notes/y.md: error: cannot read: not a regular file (a FIFO)")
    assert not Path("cards/notes.apkg").exists()


@needs_fifo
def test_fifo_image_is_a_warning_not_a_hang(notes: Path) -> None:
    (notes / "n.md").write_text("Q: a\nA: ![[x.png]]\n")
    os.mkfifo(notes / "x.png")
    code, output = run_bounded("build", str(notes), "--no-write", "-o", "out.apkg")
    message = "notes/n.md:2: warning: cannot use image 'x.png': not a regular file (a FIFO)"
    assert_clean(code, output, 0, message)
    assert Path("out.apkg").is_file()


# --- 5: a folder that cannot be read ------------------------------------------------------------


@pytest.fixture
def locked(notes: Path) -> Iterator[Path]:
    """``notes/locked/`` that cannot be listed (for root too: see ``cli_as_a_user``)."""
    (notes / "n.md").write_text("Q: a\nA: b\n")
    folder = notes / "locked"
    folder.mkdir()
    (folder / "m.md").write_text("Q: c\nA: d\n")
    folder.chmod(0)
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("command", ["check", "build"])
def test_unreadable_folder_fails_the_command(locked: Path, command: str) -> None:
    result = cli_as_a_user(command, str(locked.parent))
    why = os.strerror(errno.EACCES)
    output = result.stdout + result.stderr
    assert_clean(result.returncode, output, 1, f"notes/locked: error: cannot read folder: {why}")


# --- 6: only ASCII digits make a card ID -------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "build"])
def test_non_ascii_digits_are_a_malformed_id(notes: Path, command: str) -> None:
    arabic_indic = "".join(chr(0x660 + int(d)) for d in "1234567891234")
    text = f"Q: a\nA: b\n<!--ID: {arabic_indic}-->\n"
    (notes / "n.md").write_text(text, encoding="utf-8")
    result = run(command, str(notes))
    assert_clean(result.exit_code, result.output, 1, "notes/n.md:3: error: malformed card ID")
    assert (notes / "n.md").read_text(encoding="utf-8") == text


def test_non_ascii_digits_make_no_cloze() -> None:
    note, problems = parse_note("A {{c\u0661::cloze}} here.\n", path="n.md")
    assert note.cards == () and problems == []


# --- 7: a configuration file that cannot be read --------------------------------------------------


CONFIGS = {
    "folder": (lambda p, _: p.mkdir(), "cannot read configuration: not a regular file (a folder)"),
    "not UTF-8": (
        lambda p, _: p.write_bytes(b'deck_prefix = "\xff"\n'),
        "invalid configuration: not valid UTF-8 (byte 0xff on line 1)",
    ),
    "deep": (
        lambda p, _: p.write_text("deck_prefix = " + "[" * DEEP + "]" * DEEP + "\n"),
        "invalid configuration: nested too deeply",
    ),
}


@pytest.mark.parametrize("make,message", CONFIGS.values(), ids=list(CONFIGS))
def test_bad_configuration_file_is_a_clean_error(
    notes: Path, monkeypatch: pytest.MonkeyPatch, make: object, message: str
) -> None:
    (notes / "n.md").write_text("Q: a\nA: b\n")
    config = notes / "paperdeck.toml"
    make(config, monkeypatch)  # type: ignore[operator]
    try:
        result = run("check", "notes")
    finally:
        os.chmod(config, 0o755)
    assert_clean(result.exit_code, result.output, 1, f"Error: notes/paperdeck.toml: {message}")


def test_unreadable_configuration_file_is_a_clean_error(notes: Path) -> None:
    (notes / "n.md").write_text("Q: a\nA: b\n")
    config = notes / "paperdeck.toml"
    config.write_text('deck_prefix = "X"\n')
    config.chmod(0)
    result = cli_as_a_user("check", "notes")
    why = os.strerror(errno.EACCES)
    output = result.stdout + result.stderr
    assert_clean(
        result.returncode, output, 1, f"notes/paperdeck.toml: cannot read configuration: {why}"
    )


# --- 8: an unclosed code fence in a card: check and build agree ---------------------------------

FENCES = {
    "no ID": ("Q: a\nA: b\n```\ncode\n", 1),
    "ID inside the fence": ("Q: a\nA: b\n```\ncode\n<!--ID: 1700000000001-->\n", 1),
    "ID before the fence": ("Q: a\nA: b\n<!--ID: 1700000000001-->\n```\ncode\n", 0),
    "blank before the fence": ("Q: a\nA: b\n<!--ID: 1700000000001-->\n\n```\ncode", 0),
}


@pytest.mark.parametrize("command", ["check", "build"])
@pytest.mark.parametrize("text,code", FENCES.values(), ids=list(FENCES))
def test_unclosed_fence_in_a_card(notes: Path, command: str, text: str, code: int) -> None:
    (notes / "n.md").write_text(text)
    result = run(command, str(notes))
    message = "notes/n.md:3: error: code fence in a card is never closed"
    assert_clean(result.exit_code, result.output, code, *([message] if code else []))
    assert (message in result.output) == bool(code)
    assert (notes / "n.md").read_text() == text
