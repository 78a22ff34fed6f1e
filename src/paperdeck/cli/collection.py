"""``paperdeck import`` and ``paperdeck sync``: the commands that change an Anki collection.

Start-up stays cheap: this module imports only click at load time; Anki's package and
the build steps are imported when a command runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from paperdeck.wording import plural

if TYPE_CHECKING:
    from anki.collection import Collection

    from paperdeck.anki.collection import ImportedNote, ImportResult, SyncPlan, SyncResult
    from paperdeck.config import Config
    from paperdeck.twoway.rewrite import NoteRewrite, Rewrites

F = TypeVar("F", bound=Callable[..., Any])

UPDATE_CHOICES = ("if-newer", "always", "never")


def collection_option(func: F) -> F:
    """``--collection PATH`` (or ``$PAPERDECK_COLLECTION``): the Anki collection to change."""
    return click.option(
        "--collection",
        "collection",
        required=True,
        envvar="PAPERDECK_COLLECTION",
        show_envvar=True,
        metavar="PATH",
        type=click.Path(path_type=Path),
        help="The collection.anki2 in your Anki profile's folder.",
    )(func)


def update_option(func: F) -> F:
    """``--update if-newer|always|never``: Anki's rule for notes that already exist."""
    return click.option(
        "--update",
        type=click.Choice(UPDATE_CHOICES),
        default="if-newer",
        show_default=True,
        help="Update existing notes (and note types) when the deck's copy is newer, "
        "always, or never.",
    )(func)


def _short(text: str, width: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# -- import ----------------------------------------------------------------------------------


@contextlib.contextmanager
def open_for_cli(collection: Path, *, create: bool = False) -> Iterator[Collection]:
    """Open an Anki collection for a command; a missing or locked one is a clean error.

    Anki's own errors become :class:`click.ClickException` (exit status 1), and the
    collection is left unchanged.
    """
    from paperdeck.anki.collection import CollectionError, open_collection

    try:
        with open_collection(collection, create=create) as col:
            yield col
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from exc


def import_into(
    col: Collection, apkg: Path, collection: Path, update: str, config: Config | None = None
) -> ImportResult:
    """Import ``apkg`` into the open collection and print what happened.

    ``config`` (the vault's, for ``build --into``) says how adopted notes are treated.
    """
    from paperdeck.anki.adopt import DEFAULT_ADOPT, adopt_options
    from paperdeck.anki.collection import CollectionError, import_package, update_rule

    adopt = adopt_options(config) if config is not None else DEFAULT_ADOPT
    try:
        result = import_package(col, apkg, update_rule(update), adopt)
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_import(apkg, collection, result)
    return result


def _echo_import(apkg: Path, collection: Path, result: ImportResult) -> None:
    for note in result.updated:
        click.echo(f"updated note {note.note_id}: {_first(note)}")
    for note in result.conflicting:
        click.echo(f"not imported (conflicting) note {note.note_id}: {_first(note)}", err=True)
    adopted = f", {len(result.adopted)} adopted" if result.adopted else ""
    click.echo(
        f"Imported {apkg} into {collection}: {len(result.new)} new, "
        f"{len(result.updated)} updated, {len(result.unchanged)} unchanged, "
        f"{len(result.conflicting)} conflicting{adopted}"
    )


def _first(note: ImportedNote) -> str:
    from paperdeck.anki.collection import plain_text

    return _short(plain_text(note.first_field))


@click.command("import")
@click.argument("apkg", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@collection_option
@update_option
@click.option("--create", is_flag=True, help="Make a new, empty collection if there is none.")
def import_command(apkg: Path, collection: Path, update: str, create: bool) -> None:
    """Import a built deck APKG into an Anki collection with Anki's own importer.

    Prints how many notes are new, updated, unchanged and conflicting. Anki must be
    closed: a collection Anki has open is locked and left unchanged.

    \b
    Example:
        paperdeck import cards/notes.apkg --collection ~/Anki2/'User 1'/collection.anki2
    """
    with open_for_cli(collection, create=create) as col:
        import_into(col, apkg, collection, update)


# -- sync ------------------------------------------------------------------------------------


@click.command("sync")
@click.argument(
    "notes_dir",
    required=False,
    default="notes",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@collection_option
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--prune",
    is_flag=True,
    help="Delete paperdeck notes in this vault's decks whose card is gone from the vault "
    "(lists them unless --yes).",
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Really delete: the notes --prune lists, and those of cards marked DELETE.",
)
@click.option("--strict", is_flag=True, help="Treat warnings (missing images, ...) as errors.")
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="GLOB",
    help="Skip notes matching this vault-relative glob (repeatable).",
)
@click.option(
    "--deck-prefix",
    help="Parent deck of each note's subdeck (default: Papers; overrides the config's deck "
    "template).",
)
@click.option(
    "--one-way",
    is_flag=True,
    help="Only push the notes into Anki: bring no edit made in Anki back into the notes.",
)
@click.option(
    "--prefer",
    type=click.Choice(["notes", "anki"]),
    help="Settle cards changed on both sides since the last sync: the notes' version or "
    "Anki's wins (default: report them and change neither).",
)
def sync_command(
    notes_dir: Path,
    collection: Path,
    dry_run: bool,
    prune: bool,
    yes: bool,
    strict: bool,
    ignore: tuple[str, ...],
    deck_prefix: str | None,
    one_way: bool,
    prefer: str | None,
) -> None:
    """Sync the cards of NOTES_DIR (default: notes/) and an Anki collection, both ways.

    A card changed in the notes since the last sync updates its note in Anki (fields,
    tags, deck), keeping its review history. A card edited in Anki (desktop, or a phone
    after an AnkiWeb sync) is written back into its note, every other byte of the file
    kept. A card changed on both sides is a conflict: reported with both versions, neither
    side changed. A card without an ID becomes a new note, and the note's id is written
    back into the card as its ID. IDs that match no note are reported. Nothing is deleted
    unless --prune --yes. Anki must be closed.

    \b
    Example:
        paperdeck sync notes/ --collection ~/Anki2/'User 1'/collection.anki2 --dry-run
    """
    from paperdeck.anki.collection import CollectionError
    from paperdeck.cli.build import waiting_message
    from paperdeck.cli.common import report, resolve_config, terminal_progress
    from paperdeck.diagnostics import PaperdeckError, has_errors
    from paperdeck.sync import sync
    from paperdeck.twoway.decide import SyncPolicy

    config = resolve_config(notes_dir, ignore, deck_prefix=deck_prefix)
    policy = SyncPolicy(
        two_way=not one_way,
        prefer="notes" if prefer == "notes" else "anki" if prefer == "anki" else None,
        deck="notes" if config.sync_deck == "notes" else "anki",
        tags="notes" if config.sync_tags == "notes" else "added",
    )
    try:
        run = sync(
            notes_dir,
            collection,
            config,
            dry_run=dry_run,
            prune=prune,
            delete=yes,
            strict=strict,
            policy=policy,
            progress=terminal_progress(),
            on_wait=waiting_message(notes_dir),
        )
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from exc
    except PaperdeckError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or notes_dir}: {exc.strerror or exc}") from exc
    figures_dir = Path(config.figures_dir)
    for spec in run.rendered:
        click.echo(f"Rendered {figures_dir / spec.name} ({spec.kind})")
    plan, result, diagnostics = run.plan, run.result, run.diagnostics
    if plan is not None and dry_run:
        _echo_plan(collection, plan, run.rewrites, prune=prune)
    elif plan is not None and result is not None:
        _echo_result(notes_dir, collection, plan, result, prune=prune, yes=yes)
        _echo_written(run.written)
    report(diagnostics, strict=strict)
    if has_errors(diagnostics, strict=strict):
        if result is None:
            click.echo(f"Nothing synced; {collection} is unchanged.", err=True)
        sys.exit(1)


def _echo_plan(collection: Path, plan: SyncPlan, rewrites: Rewrites, *, prune: bool) -> None:
    from paperdeck.twoway.diff import fields_diff, note_diff

    click.echo(f"Dry run: nothing in {collection} or the notes is changed.")
    for item in plan.add:
        click.echo(f"add {item.where}: {_short(item.card.question)}")
    for update in plan.update:
        item = update.planned
        click.echo(
            f"update note {item.card.card_id} ({', '.join(update.changes)}) {item.where}: "
            f"{_short(item.card.question)}"
        )
        names = [name for name, _ in update.values]
        after = [value for _, value in update.values]
        click.echo(fields_diff(str(item.card.card_id), names, update.before, after), nl=False)
    for rewrite in rewrites.notes:
        for pulled in rewrite.pulled:
            click.echo(
                f"take note {pulled.card.card_id}'s edit from Anki into "
                f"{rewrite.source.note.path}:{pulled.card.line}"
            )
        if rewrite.tags:
            click.echo(
                f"add tags from Anki to {rewrite.source.note.path}: {' '.join(rewrite.tags)}"
            )
        click.echo(note_diff(rewrite.source.note.path, rewrite.source.text, rewrite.text), nl=False)
    for update in plan.kept:
        click.echo(
            f"keep note {update.planned.card.card_id} as edited in Anki {update.planned.where}"
        )
    for name in plan.media:
        click.echo(f"add media {name}")
    for gone in plan.prune:
        click.echo(f"prune note {gone.note_id} in {gone.deck}: {_short(gone.first_field)}")
    for gone in plan.delete:
        click.echo(f"delete (marked DELETE) note {gone.note_id}: {_short(gone.first_field)}")
    for note_type in plan.restyle:
        click.echo(f"update the templates and styling of note type {note_type.name!r}")
    pruning = f", prune {len(plan.prune)}" if prune else ""
    pruning += f", delete {len(plan.delete)}" if plan.delete else ""
    click.echo(
        f"Plan: add {len(plan.add)}, update {len(plan.update)}, "
        f"unchanged {len(plan.unchanged)}, missing {len(plan.missing)}, "
        f"conflicting {len(plan.conflicting)}{pruning}, media {len(plan.media)}"
        f"{_extras(plan)}"
    )


def _extras(plan: SyncPlan) -> str:
    """``; 3 adopted`` when notes of another tool's types were taken over in place,
    ``; 1 edited in Anki, kept`` for notes left as Anki has them (one-way), ``; 2 edited in
    Anki`` for edits to bring back and ``; 1 changed on both sides`` for conflicts."""
    kept = f"; {len(plan.kept)} edited in Anki, kept" if plan.kept else ""
    pulled = f"; {len(plan.pull)} edited in Anki" if plan.pull else ""
    both = f"; {len(plan.conflicts)} changed on both sides" if plan.conflicts else ""
    adopted = f"; {len(plan.adopted)} adopted (kept their note type)" if plan.adopted else ""
    return adopted + kept + pulled + both


def _echo_written(written: list[NoteRewrite]) -> None:
    """What the notes took from Anki."""
    for rewrite in written:
        path = rewrite.source.note.path
        for pulled in rewrite.pulled:
            click.echo(
                f"{path}:{pulled.card.line}: took note {pulled.card.card_id}'s edit from Anki"
            )
        if rewrite.tags:
            click.echo(f"{path}: added tags from Anki: {' '.join(rewrite.tags)}")


def _echo_result(
    notes_dir: Path,
    collection: Path,
    plan: SyncPlan,
    result: SyncResult,
    *,
    prune: bool,
    yes: bool,
) -> None:
    for name in result.note_types:
        click.echo(f"added note type {name!r}")
    for name in result.restyled:
        click.echo(f"updated the templates and styling of note type {name!r}")
    for item, note_id in result.added:
        click.echo(f"{item.where}: added note {note_id} (written into the note as its ID)")
    for update in result.updated:
        item = update.planned
        click.echo(f"{item.where}: updated note {item.card.card_id} ({', '.join(update.changes)})")
    for update in plan.kept:
        item = update.planned
        click.echo(
            f"{item.where}: kept note {item.card.card_id} as edited in Anki "
            f"({', '.join(update.changes)}); the card has not changed here since the last sync"
        )
    for gone in result.pruned:
        click.echo(f"deleted note {gone.note_id} in {gone.deck}: {_short(gone.first_field)}")
    pruned = f", {len(result.pruned)} deleted" if result.pruned else ""
    click.echo(
        f"Synced {notes_dir} into {collection}: {len(result.added)} added, "
        f"{len(result.updated)} updated, {len(plan.unchanged)} unchanged, "
        f"{len(plan.missing)} missing, {len(plan.conflicting)} conflicting{pruned}, "
        f"{plural(len(result.media), 'media file')} added{_extras(plan)}"
    )
    if prune and not yes and plan.prune:
        count = plural(len(plan.prune), "note")
        click.echo(f"Not deleted: {count} no longer in the vault (add --yes to delete):")
        for gone in plan.prune:
            click.echo(f"  note {gone.note_id} in {gone.deck}: {_short(gone.first_field)}")
    elif prune and not plan.prune:
        click.echo("Nothing to prune.")
    if not yes and plan.delete:
        count = plural(len(plan.delete), "note")
        click.echo(f"Not deleted: {count} marked DELETE in the vault (add --yes to delete):")
        for gone in plan.delete:
            click.echo(f"  note {gone.note_id} in {gone.deck}: {_short(gone.first_field)}")
