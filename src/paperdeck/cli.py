"""The ``paperdeck`` command line: a thin layer that parses flags and prints results.

Exit codes: 0 success, 1 errors in the notes (or warnings under ``--strict``), 2 usage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from paperdeck import __version__
from paperdeck.config import Config, load_config
from paperdeck.diagnostics import Diagnostic, PaperdeckError, Severity, has_errors

F = TypeVar("F", bound=Callable[..., Any])


def vault_options(func: F) -> F:
    """Options every command that reads a vault shares."""
    func = click.option(
        "--ignore",
        "ignore",
        multiple=True,
        metavar="GLOB",
        help="Skip notes matching this vault-relative glob (repeatable).",
    )(func)
    func = click.option(
        "--strict", is_flag=True, help="Treat warnings (missing images, ...) as errors."
    )(func)
    func = click.argument(
        "notes_dir",
        required=False,
        default="notes",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
    )(func)
    return func


def resolve_config(notes_dir: Path, ignore: Sequence[str], **overrides: Any) -> Config:
    """The vault's config file with CLI flags on top."""
    try:
        config = load_config(notes_dir)
    except PaperdeckError as exc:
        raise click.ClickException(str(exc)) from exc
    return config.with_overrides(extra_ignore=tuple(ignore) or None, **overrides)


def report(diagnostics: Sequence[Diagnostic], *, strict: bool) -> None:
    """Print problems grouped at the end, errors first, with counts."""
    if not diagnostics:
        return
    ordered = sorted(set(diagnostics), key=lambda d: (d.severity is not Severity.ERROR, d))
    for diagnostic in ordered:
        shown = diagnostic
        if strict and diagnostic.severity is Severity.WARNING:
            shown = Diagnostic(diagnostic.path, diagnostic.line, diagnostic.message, Severity.ERROR)
        click.echo(str(shown), err=True)
    errors = sum(1 for d in ordered if d.severity is Severity.ERROR or strict)
    warnings = len(ordered) - errors
    click.echo(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}", err=True)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperdeck")
def main() -> None:
    """Turn Obsidian paper notes into Anki decks.

    \b
    Example:
        paperdeck build notes/          # writes cards/notes.apkg
    """


@main.command()
@vault_options
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output .apkg (default: cards/<notes folder name>.apkg).",
)
@click.option("--no-write", is_flag=True, help="Never modify notes; report cards that lack IDs.")
@click.option("--deck-prefix", help="Parent deck of each note's subdeck (default: Papers).")
def build(
    notes_dir: Path,
    strict: bool,
    ignore: tuple[str, ...],
    out: Path | None,
    no_write: bool,
    deck_prefix: str | None,
) -> None:
    """Build one .apkg deck from every note in NOTES_DIR (default: notes/).

    Cards without an ID get one, written back into the note as <!--ID: N-->.

    \b
    Example:
        paperdeck build notes/ -o cards/papers.apkg
    """
    from paperdeck.build import build as run_build

    config = resolve_config(notes_dir, ignore, deck_prefix=deck_prefix)
    target = out or Path(config.out or f"cards/{notes_dir.resolve().name}.apkg")
    started = time.perf_counter()
    try:
        result = run_build(notes_dir, target, config, write_ids=not no_write, strict=strict)
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or target}: {exc.strerror or exc}") from exc
    if result.ids and result.ids.written:
        for path, line, card_id in result.ids.written:
            click.echo(f"{path}:{line}: added ID {card_id}")
    if result.wrote_deck and result.content is not None:
        content = result.content
        click.echo(
            f"Wrote {target}: {_plural(len(content.notes), 'card')} from "
            f"{_plural(len(result.vault.sources), 'note')}, "
            f"{_plural(len(content.media), 'media file')} "
            f"({time.perf_counter() - started:.2f} s)"
        )
    report(result.diagnostics, strict=strict)
    if not result.wrote_deck:
        click.echo(f"Deck not written; {target} is unchanged.", err=True)
        sys.exit(1)


@main.command()
@vault_options
def check(notes_dir: Path, strict: bool, ignore: tuple[str, ...]) -> None:
    """Parse and validate NOTES_DIR without writing anything; list the cards.

    \b
    Example:
        paperdeck check notes/ --strict
    """
    from paperdeck.build import collect_deck, read_vault

    config = resolve_config(notes_dir, ignore)
    vault = read_vault(notes_dir, config)
    diagnostics = list(vault.diagnostics)
    for source in vault.sources:
        for card in source.note.cards:
            first = card.question.strip().splitlines()[0] if card.question.strip() else ""
            status = f"ID {card.card_id}" if card.card_id is not None else "no ID yet"
            click.echo(f"{source.note.path}:{card.line}: [{status}] {first[:70]}")
    if not has_errors(diagnostics):
        diagnostics += collect_deck(vault, config, {}).diagnostics
    click.echo(f"{_plural(vault.cards, 'card')} in {_plural(len(vault.sources), 'note')}")
    report(diagnostics, strict=strict)
    if has_errors(diagnostics, strict=strict):
        sys.exit(1)
