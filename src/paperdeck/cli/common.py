"""What the CLI's commands share: vault options, configuration, reporting, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from paperdeck.config import Config, load_config
from paperdeck.diagnostics import Diagnostic, PaperdeckError, Severity
from paperdeck.wording import plural

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


def output_options(func: F) -> F:
    """Options of the commands that write a deck (and may write IDs into notes)."""
    func = click.option(
        "--no-write", is_flag=True, help="Never modify notes; report cards that lack IDs."
    )(func)
    func = click.option(
        "-o",
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Output .apkg (default: cards/<notes folder name>.apkg).",
    )(func)
    return func


def resolve_config(notes_dir: Path, ignore: Sequence[str], **overrides: Any) -> Config:
    """The vault's config file with CLI flags on top: a flag always wins.

    ``--deck-prefix`` wins over the config's ``deck`` template too (which would otherwise
    make the prefix unused): every note goes to ``<prefix>::<title>`` unless its own front
    matter names a deck.
    """
    try:
        config = load_config(notes_dir)
    except PaperdeckError as exc:
        raise click.ClickException(str(exc)) from exc
    if overrides.get("deck_prefix") is not None:
        config = replace(config, deck=None)
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
    click.echo(f"{plural(errors, 'error')}, {plural(warnings, 'warning')}", err=True)


def terminal_progress() -> Callable[[str, int, int, str], None] | None:
    """A one-line progress display on a terminal; ``None`` (silence) when output is piped."""
    if not sys.stderr.isatty():
        return None

    def show(stage: str, done: int, total: int, item: str) -> None:
        line = f"{stage} {done}/{total} {item}" if item else f"{stage} {done}/{total} done"
        click.echo(f"\r\x1b[2K{line}", err=True, nl=not item)

    return show
