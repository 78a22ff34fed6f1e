"""``paperdeck preview``: every card as Anki will show it, in a browser, before importing."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperdeck.cli.build import checked_output
from paperdeck.cli.common import report, resolve_config, vault_options
from paperdeck.diagnostics import PaperdeckError
from paperdeck.wording import plural


def default_page(notes_dir: Path) -> Path:
    """``cards/<notes folder name>-preview.html``, beside the decks."""
    return Path("cards") / f"{notes_dir.resolve().name}-preview.html"


@click.command()
@vault_options
@click.option(
    "--note",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Preview only the cards of this note.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output page (default: cards/<notes folder name>-preview.html); media and Anki's "
    "files go in a folder beside it (<name>_files).",
)
@click.option("--no-open", is_flag=True, help="Write the page without opening it in a browser.")
def preview(
    notes_dir: Path,
    strict: bool,
    ignore: tuple[str, ...],
    note: Path | None,
    out: Path | None,
    no_open: bool,
) -> None:
    """Show every card of NOTES_DIR (default: notes/) as Anki shows it, in a browser.

    Writes one HTML page with each card's front and back at a phone's and a desktop's
    width, in light and night mode, using Anki's own MathJax and reviewer CSS (from the
    aqt package, installed without Qt: the command says how if it is missing). Cards come
    from a temporary Anki collection after a real import; no note and no deck is changed.

    \b
    Example:
        paperdeck preview notes/ --note "notes/My paper.md"
    """
    from paperdeck.preview.make import NoteNotInVault, make_preview, missing_assets_notice

    config = resolve_config(notes_dir, ignore)
    target = checked_output(out or default_page(notes_dir))
    try:
        result = make_preview(notes_dir, target, config, note=note, strict=strict)
    except NoteNotInVault as exc:
        raise click.BadParameter(str(exc), param_hint="'--note'") from exc
    except PaperdeckError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or target}: {exc.strerror or exc}") from exc
    for spec in result.rendered:
        click.echo(f"Rendered {Path(config.figures_dir) / spec.name} ({spec.kind})")
    if result.written:
        click.echo(f"Wrote {target}: {plural(len(result.cards), 'card')}")
        if not result.anki_assets:
            click.echo(f"Note: {missing_assets_notice().replace('`', '')}", err=True)
    report(result.diagnostics, strict=strict)
    if not result.written:
        click.echo(f"Preview not written; {target} is unchanged.", err=True)
        sys.exit(1)
    if not no_open:
        click.launch(str(target.resolve()))
