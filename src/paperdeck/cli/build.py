"""``paperdeck build``, ``check``, ``figures`` and ``watch``: the commands that read a vault."""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperdeck.cli.collection import import_into, open_for_cli, update_option
from paperdeck.cli.common import (
    output_options,
    report,
    resolve_config,
    terminal_progress,
    vault_options,
)
from paperdeck.config import Config
from paperdeck.diagnostics import PaperdeckError, Severity, has_errors
from paperdeck.wording import plural

if TYPE_CHECKING:
    from paperdeck.build import BuildResult


@click.command()
@vault_options
@output_options
@click.option(
    "--deck-prefix",
    help="Parent deck of each note's subdeck (default: Papers; overrides the config's deck "
    "template).",
)
@click.option(
    "--into",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="COLLECTION",
    help="Also import the deck into this Anki collection (needs paperdeck[anki]).",
)
@update_option
@click.option("--no-cache", is_flag=True, help="Parse and render every note again.")
def build(
    notes_dir: Path,
    strict: bool,
    ignore: tuple[str, ...],
    out: Path | None,
    no_write: bool,
    deck_prefix: str | None,
    into: Path | None,
    update: str,
    no_cache: bool,
) -> None:
    """Build one .apkg deck from every note in NOTES_DIR (default: notes/).

    Cards without an ID get one, written back into the note as <!--ID: N-->.

    \b
    Example:
        paperdeck build notes/ -o cards/papers.apkg
    """
    config = resolve_config(notes_dir, ignore, deck_prefix=deck_prefix)
    target = checked_output(out or default_output(notes_dir, config))
    # A locked collection is refused before anything is written.
    with open_for_cli(into) if into is not None else contextlib.nullcontext() as col:
        result = run_build(
            notes_dir, target, config, write_ids=not no_write, strict=strict, use_cache=not no_cache
        )
        for path, line, card_id in result.ids.written if result.ids else []:
            click.echo(f"{path}:{line}: added ID {card_id}")
        for spec in result.rendered:
            click.echo(f"Rendered {Path(config.figures_dir) / spec.name} ({spec.kind})")
        if result.up_to_date:
            click.echo(f"{target} is up to date: {summary(result)}")
        elif result.wrote_deck:
            click.echo(f"Wrote {target}: {summary(result)}")
        report(result.diagnostics, strict=strict)
        if not result.wrote_deck:
            click.echo(f"Deck not written; {target} is unchanged.", err=True)
            sys.exit(1)
        if col is not None and into is not None:
            import_into(col, target, into, update, config)


def checked_output(target: Path) -> Path:
    """``target``, or a usage error (exit 2) if it is a folder, a device or the like."""
    from paperdeck.fileio import OutputPathError, check_output_path

    try:
        check_output_path(target)
    except OutputPathError as exc:
        raise click.UsageError(str(exc)) from exc
    return target


def waiting_message(notes_dir: Path) -> Callable[[str], None]:
    """What a command prints while another one holds the vault's lock."""

    def show(holder: str) -> None:
        click.echo(f"Waiting for {notes_dir}: in use by {holder}", err=True)

    return show


def default_output(notes_dir: Path, config: Config) -> Path:
    """``-o``, else the config's ``out``, else ``cards/<notes folder name>.apkg``."""
    return Path(config.out or f"cards/{notes_dir.resolve().name}.apkg")


def run_build(
    notes_dir: Path,
    target: Path,
    config: Config,
    *,
    write_ids: bool,
    strict: bool,
    use_cache: bool = True,
) -> BuildResult:
    """One build, with library errors turned into clean CLI errors."""
    from paperdeck.build import build as build_vault

    try:
        return build_vault(
            notes_dir,
            target,
            config,
            write_ids=write_ids,
            strict=strict,
            progress=terminal_progress(),
            use_cache=use_cache,
            on_wait=waiting_message(notes_dir),
        )
    except PaperdeckError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or target}: {exc.strerror or exc}") from exc


def summary(result: BuildResult) -> str:
    """``5 cards from 1 note, 1 media file (0.05 s)``."""
    cards = len(result.content.notes) if result.content else 0
    media = len(result.content.media) if result.content else 0
    return (
        f"{plural(cards, 'card')} from {plural(len(result.vault.sources), 'note')}, "
        f"{plural(media, 'media file')} ({result.seconds:.2f} s)"
    )


@click.command()
@vault_options
@click.option(
    "--collection",
    metavar="PATH",
    type=click.Path(path_type=Path),
    help="Also warn at each card that is a leech in this Anki collection (only read).",
)
def check(notes_dir: Path, strict: bool, ignore: tuple[str, ...], collection: Path | None) -> None:
    """Parse and validate NOTES_DIR without writing anything; list the cards.

    \b
    Example:
        paperdeck check notes/ --strict
    """
    from paperdeck.build import collect_deck, figure_paths, read_vault

    config = resolve_config(notes_dir, ignore)
    vault = read_vault(notes_dir, config)
    diagnostics = list(vault.diagnostics)
    for source in vault.sources:
        for card in source.note.cards:
            first = card.question.strip().splitlines()[0] if card.question.strip() else ""
            status = f"ID {card.card_id}" if card.card_id is not None else "no ID yet"
            click.echo(f"{source.note.path}:{card.line}: [{status}] {first[:70]}")
    if not has_errors(diagnostics):
        generated = figure_paths(vault, Path(config.figures_dir))
        diagnostics += collect_deck(vault, config, generated).diagnostics
        if collection is not None:
            from paperdeck.cli.report import leech_warnings

            diagnostics += leech_warnings(vault, collection, config)
    click.echo(f"{plural(vault.cards, 'card')} in {plural(len(vault.sources), 'note')}")
    report(diagnostics, strict=strict)
    if has_errors(diagnostics, strict=strict):
        sys.exit(1)


@click.command()
@vault_options
@click.option("--force", is_flag=True, help="Re-render every figure, even if up to date.")
def figures(notes_dir: Path, strict: bool, ignore: tuple[str, ...], force: bool) -> None:
    """Render the figures that notes in NOTES_DIR define (only stale ones unless --force).

    \b
    Example:
        paperdeck figures notes/ --force
    """
    from paperdeck.build import read_vault
    from paperdeck.figures.cache import render

    config = resolve_config(notes_dir, ignore)
    vault = read_vault(notes_dir, config)
    report(vault.diagnostics, strict=strict)
    if has_errors(vault.diagnostics, strict=strict):
        sys.exit(1)
    figures_dir = Path(config.figures_dir)
    try:
        rendered = render(vault.figures, figures_dir, force=force, progress=terminal_progress())
    except PaperdeckError as exc:
        raise click.ClickException(str(exc)) from exc
    for spec in rendered:
        click.echo(f"Rendered {figures_dir / spec.name} ({spec.kind}, {spec.path}:{spec.line})")
    fresh = len(vault.figures) - len(rendered)
    click.echo(f"{plural(len(rendered), 'figure')} rendered, {fresh} up to date")


@click.command()
@vault_options
@output_options
def watch(
    notes_dir: Path, strict: bool, ignore: tuple[str, ...], out: Path | None, no_write: bool
) -> None:
    """Rebuild the deck (and changed figures) whenever a note in NOTES_DIR is saved.

    Prints one line per rebuild; a note that is invalid mid-edit is reported and the
    previous deck is kept until the next save fixes it. Stop with Ctrl-C.

    \b
    Example:
        paperdeck watch notes/
    """
    try:
        from watchfiles import watch as watch_files
    except ImportError as exc:
        raise click.ClickException(
            "watch needs watchfiles: pip install 'paperdeck[watch]'"
        ) from exc

    config = resolve_config(notes_dir, ignore)
    target = checked_output(out or default_output(notes_dir, config))
    # Start watching before the first build, so that no save is missed in between.
    batches = watch_files(
        notes_dir, raise_interrupt=False, step=100, rust_timeout=500, yield_on_timeout=True
    )
    try:
        pending = next(batches, None)
        own_writes = _watch_once(notes_dir, target, config, strict=strict, write_ids=not no_write)
        click.echo(f"Watching {notes_dir} (Ctrl-C to stop)")
        while pending is not None:
            pending = next(batches, None)
            changed = {
                Path(p) for _, p in pending or () if _counts_as_edit(Path(p), notes_dir, own_writes)
            }
            if changed:
                own_writes = _watch_once(
                    notes_dir, target, config, strict=strict, write_ids=not no_write
                )
    except KeyboardInterrupt:
        pass  # Ctrl-C mid-rebuild: every write is atomic, so the last good deck stands
    click.echo("Stopped.")


def _counts_as_edit(path: Path, notes_dir: Path, own_writes: dict[Path, str]) -> bool:
    """Ignore our own writes (IDs, the vault's .paperdeck/ folder) and editors' temp files.

    A note we wrote counts as edited once its bytes differ from what we wrote: an editor's
    save right after ours can leave the same mtime, but never the same bytes."""
    if path.name.startswith(".") or path.name.endswith(("~", ".tmp", ".swp")):
        return False
    try:
        inside = path.resolve().relative_to(notes_dir.resolve()).parts
    except ValueError:
        inside = ()
    if any(part.startswith(".") for part in inside):
        return False
    ours = own_writes.get(path.resolve())
    if ours is None:
        return True
    try:
        return ours != hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return True  # deleted: rebuild without it


def _watch_once(
    notes_dir: Path, target: Path, config: Config, *, strict: bool, write_ids: bool
) -> dict[Path, str]:
    """Rebuild once, print one line, never stop the watch; return the notes we rewrote,
    each with a hash of the bytes we wrote."""
    stamp = datetime.now().strftime("%H:%M:%S")
    try:
        result = run_build(notes_dir, target, config, write_ids=write_ids, strict=strict)
    except click.ClickException as exc:
        click.echo(f"[{stamp}] error: {exc.format_message()}", err=True)
        return {}
    problems = sorted(set(result.diagnostics), key=lambda d: (d.severity is not Severity.ERROR, d))
    figures = f", {plural(len(result.rendered), 'figure')} rendered" if result.rendered else ""
    if result.wrote_deck:
        line = f"[{stamp}] Wrote {target}: {summary(result)}{figures}"
        if problems:
            line += f"; {plural(len(problems), 'warning')}: {problems[0]}"
        click.echo(line)
    else:
        click.echo(
            f"[{stamp}] Not rebuilt ({plural(len(problems), 'problem')}): {problems[0]}",
            err=True,
        )
    return dict(result.ids.digests) if result.ids else {}
