"""Figures in builds: rendered once, cached by spec and code, embedded in cards, watched."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from paperdeck.cli import main

from conftest import import_apkg, start_watch

NOTE_NAME = "Categorical reparameterization with gumbel-softmax.md"
SIMPLEX = Path("figures/gumbel-softmax-simplex.png")


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def fingerprint(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_editing_card_text_keeps_the_figure(vault: Path) -> None:
    assert run("build", str(vault)).exit_code == 0
    before = fingerprint(SIMPLEX)
    note = vault / NOTE_NAME
    note.write_text(note.read_text().replace("become uniform.", "become uniform!"))

    result = run("build", str(vault))

    assert result.exit_code == 0, result.output
    assert "Rendered" not in result.output
    assert fingerprint(SIMPLEX) == before


def test_changing_the_spec_renders_again(vault: Path) -> None:
    assert run("build", str(vault)).exit_code == 0
    before = SIMPLEX.read_bytes()
    note = vault / NOTE_NAME
    note.write_text(note.read_text().replace("tau: [0, 1/2, 1, 2]", "tau: [0, 1/4, 1, 4]"))

    result = run("build", str(vault))

    assert result.exit_code == 0, result.output
    assert "Rendered figures/gumbel-softmax-simplex.png (simplex)" in result.output
    assert "gradient-variance.png" not in result.output
    assert SIMPLEX.read_bytes() != before


def test_figure_code_change_renders_again(vault: Path, monkeypatch: Any) -> None:
    from paperdeck.figures import cache

    assert run("build", str(vault)).exit_code == 0
    monkeypatch.setattr(cache, "code_version", lambda: "a-newer-version")
    result = run("figures", str(vault))
    assert result.exit_code == 0, result.output
    assert "2 figures rendered, 0 up to date" in result.output


def test_figures_command_renders_only_stale_unless_forced(vault: Path) -> None:
    first = run("figures", str(vault))
    assert first.exit_code == 0, first.output
    again = run("figures", str(vault))
    assert "0 figures rendered, 2 up to date" in again.output
    forced = run("figures", str(vault), "--force")
    assert "2 figures rendered, 0 up to date" in forced.output
    manifest = json.loads(Path("figures/.paperdeck-figures.json").read_text())
    assert set(manifest) == {"gumbel-softmax-simplex.png", "gumbel-softmax-gradient-variance.png"}


def test_invalid_spec_fails_with_file_and_line(vault: Path) -> None:
    note = vault / NOTE_NAME
    note.write_text(note.read_text().replace("tau: [0, 1/2, 1, 2]", "tau: [0, -1]"))
    result = run("build", str(vault))
    assert result.exit_code == 1
    assert f"notes/{NOTE_NAME}:78: error: invalid 'tau': temperature must be >= 0" in result.output


def test_noop_build_imports_neither_torch_nor_matplotlib(vault: Path) -> None:
    assert run("build", str(vault)).exit_code == 0
    probe = (
        "import sys\n"
        "from paperdeck.cli import main\n"
        "try:\n"
        "    main(['build', 'notes'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_seed_deck_carries_the_figure_into_anki(vault: Path, collection: Any) -> None:
    result = run("build", str(vault))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output

    import_apkg(collection, Path("cards/notes.apkg"))

    answer = collection.get_note(1683650871155)["Answer"]
    assert answer.startswith('<p><img src="gumbel-softmax-simplex-')
    name = answer.split('src="')[1].split('"')[0]
    stored = Path(collection.media.dir()) / name
    assert stored.read_bytes() == SIMPLEX.read_bytes()
    assert list(collection.media.check().missing) == []
    for nid in collection.find_notes(""):
        assert "paperdeck-figure" not in collection.get_note(nid)["Answer"]


def test_watch_rebuilds_on_save_and_survives_invalid_notes(vault: Path) -> None:
    proc, lines = start_watch()
    try:
        lines.wait_for("Watching notes")
        deck = Path("cards/notes.apkg")
        first = deck.read_bytes()

        (vault / "broken.md").write_text("Q: half-written card\n")
        assert "broken.md:1" in lines.wait_for("Not rebuilt")
        assert deck.read_bytes() == first

        (vault / "broken.md").write_text("Q: finished card\nA: yes\n")
        assert "6 cards" in lines.wait_for("Wrote cards/notes.apkg")
        assert deck.read_bytes() != first
        assert "<!--ID: " in (vault / "broken.md").read_text()
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        out = lines.all_output(proc)
    assert proc.returncode == 0, out
    assert out.strip().endswith("Stopped.")
    assert "Traceback" not in out
