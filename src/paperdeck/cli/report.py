"""``paperdeck report``: how the study of each paper goes, from an Anki collection it only reads.

Start-up stays cheap: Anki's package, the vault reading and matplotlib are imported when the
command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperdeck.cli.build import checked_output
from paperdeck.cli.collection import collection_option
from paperdeck.cli.common import report, resolve_config, vault_options
from paperdeck.wording import plural

if TYPE_CHECKING:
    from paperdeck.config import Config
    from paperdeck.diagnostics import Diagnostic
    from paperdeck.report.model import StudyReport
    from paperdeck.vaultread import Vault


def default_page(notes_dir: Path) -> Path:
    """``cards/<notes folder name>-report.html``, beside the decks."""
    return Path("cards") / f"{notes_dir.resolve().name}-report.html"


@click.command("report")
@vault_options
@collection_option
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output page (default: cards/<notes folder name>-report.html).",
)
@click.option("--no-open", is_flag=True, help="Write the page without opening it in a browser.")
def report_command(
    notes_dir: Path,
    strict: bool,
    ignore: tuple[str, ...],
    collection: Path,
    out: Path | None,
    no_open: bool,
) -> None:
    """Report how the study of each paper in NOTES_DIR goes, from an Anki collection.

    Writes one HTML page (plots included) with, per paper: its cards, how many are due and
    overdue, the retention of the last 30 days, lapses and leeches (each at its note's
    line, with a link that opens the note in Obsidian); prints a summary. The collection is
    only read (a copy is opened, never the file); Anki must be closed.

    \b
    Example:
        paperdeck report notes/ --collection ~/Anki2/'User 1'/collection.anki2
    """
    from paperdeck.anki.collection import CollectionError
    from paperdeck.diagnostics import PaperdeckError
    from paperdeck.report.make import make_report
    from paperdeck.report.stats import leech_facts

    config = resolve_config(notes_dir, ignore)
    target = checked_output(out or default_page(notes_dir))
    try:
        result = make_report(notes_dir, collection, target, config, strict=strict)
    except (CollectionError, PaperdeckError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or target}: {exc.strerror or exc}") from exc
    if result.written and result.report is not None:
        click.echo(f"Wrote {target}: {summary(result.report)}")
        for leech in result.report.leeches:
            click.echo(f"{leech.where}: leech: {', '.join(leech_facts(leech))}")
    report(result.diagnostics, strict=strict)
    if not result.written:
        click.echo(f"Report not written; {target} is unchanged.", err=True)
        sys.exit(1)
    if not no_open:
        click.launch(str(target.resolve()))


def summary(study: StudyReport) -> str:
    """``3 papers, 13 cards: 2 due today (1 overdue), retention 85 % (34 of 40 reviews in
    30 days), 17 lapses, 2 leeches``."""
    from paperdeck.report.stats import WINDOW_DAYS

    reviews, passed = study.total("reviews"), study.total("passed")
    retention = (
        f"retention {100 * passed / reviews:.0f} % ({passed} of {plural(reviews, 'review')} "
        f"in {WINDOW_DAYS} days)"
        if reviews
        else f"no reviews in {WINDOW_DAYS} days"
    )
    return (
        f"{plural(len(study.papers), 'paper')}, {plural(study.total('cards'), 'card')}: "
        f"{study.total('due')} due today ({study.total('overdue')} overdue), {retention}, "
        f"{plural(study.total('lapses'), 'lapse')}, {_leeches(len(study.leeches))}"
    )


def _leeches(count: int) -> str:
    return f"{count} leech{'' if count == 1 else 'es'}"


def leech_warnings(vault: Vault, collection: Path, config: Config) -> list[Diagnostic]:
    """``check --collection``: a warning at each leech's card, or a clean CLI error."""
    from paperdeck.anki.collection import CollectionError
    from paperdeck.report.make import read_report
    from paperdeck.report.stats import leech_diagnostics

    try:
        return leech_diagnostics(read_report(vault, collection, config))
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from exc
