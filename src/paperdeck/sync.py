"""``paperdeck sync``: a vault into a live Anki collection, in place, crash-safe.

The steps, all under the vault's lock: read and check the vault; choose IDs for new cards
(avoiding every note id in the collection); render the cards; compare with the
collection; then write. New cards are added in an order that survives a SIGKILL at any
moment: their IDs are first recorded as pending in the vault's card state, then written
into the notes, and only then are the Anki notes created with exactly those ids. A rerun
adds the pending ones that never reached Anki, so no card is lost or added twice, and no
Anki note ever exists whose ID is not in the vault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from paperdeck.anki.adopt import adopt_options
from paperdeck.anki.apkg import content_digest
from paperdeck.anki.collection import (
    SyncPlan,
    SyncResult,
    apply_sync,
    note_ids,
    open_collection,
    plan_sync,
)
from paperdeck.build import (
    IdPlan,
    collect_deck,
    commit_ids,
    figure_paths,
    plan_ids,
    read_vault,
    record_built,
    save_state,
    settle_mods,
)
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, has_errors, warning
from paperdeck.figures.cache import Progress
from paperdeck.figures.cache import render as render_figures
from paperdeck.figures.spec import FigureSpec
from paperdeck.notes.lock import STATE_DIR, vault_lock
from paperdeck.notes.state import CardState
from paperdeck.notes.vault import display_path, parser


@dataclass
class SyncRun:
    """What a sync found and did."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    plan: SyncPlan | None = None
    """``None`` when the vault had errors and nothing was compared."""
    result: SyncResult | None = None
    """``None`` for a dry run, or when nothing was changed because of errors."""
    rendered: list[FigureSpec] = field(default_factory=list)


def sync(
    root: Path,
    collection: Path,
    config: Config,
    *,
    dry_run: bool = False,
    prune: bool = False,
    delete: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> SyncRun:
    """Sync the vault at ``root`` into the collection; see the module's docstring.

    ``prune`` lists paperdeck notes whose cards left the vault; ``delete`` removes them
    and the notes of cards marked ``DELETE`` (which are always listed).
    Raises :class:`~paperdeck.anki.collection.CollectionError` for a collection that
    cannot be used (missing, locked), before anything is written.
    """
    adopt = adopt_options(config)
    with vault_lock(root, command="sync", on_wait=on_wait):
        run = SyncRun()
        state = CardState.load(root)
        vault = read_vault(root, config, remove_temps=True)
        run.diagnostics += vault.diagnostics
        if has_errors(run.diagnostics, strict=strict):
            return run
        with open_collection(collection) as col:
            in_anki = note_ids(col)
            ids = plan_ids(
                vault,
                write=True,
                parse=parser(config.parse_options()),
                taken=in_anki,
            )
            run.diagnostics += ids.diagnostics
            if has_errors(run.diagnostics):
                return run
            figures_dir = Path(config.figures_dir)
            if not dry_run:
                run.rendered = render_figures(vault.figures, figures_dir, progress=progress)
            content = collect_deck(vault, config, figure_paths(vault, figures_dir))
            run.diagnostics += content.diagnostics
            if has_errors(run.diagnostics, strict=strict):
                return run
            content.notes = settle_mods(content.notes, state)
            chosen = {card_id for write in ids.writes for _, card_id in write.ids}
            run.plan = plan_sync(
                col,
                vault,
                content,
                to_add=chosen | state.pending,
                known=set(state.cards),
                prune=prune,
                adopt=adopt,
                synced=state.synced,
            )
            run.diagnostics += run.plan.diagnostics
            if dry_run or has_errors(run.diagnostics, strict=strict):
                return run
            writer = _IdWriter(root, state, ids)
            run.result = apply_sync(
                col,
                run.plan,
                write_ids=writer,
                prune=prune and delete,
                delete_marked=delete,
                adopt=adopt,
            )
            run.diagnostics += run.result.diagnostics
            state.pending -= {note_id for _, note_id in run.result.added}
            in_vault = {
                c.card_id for s in vault.sources for c in s.note.cards if c.card_id is not None
            } - writer.not_written
            built = [n for n in content.notes if n.note_id in in_vault]
            record_built(built, state)
            record_synced(run.plan, run.result, state)
            gone = set(state.cards) - in_vault - note_ids(col)
            state.forget(gone | {p.note_id for p in run.result.pruned})
            state.pending &= in_vault  # a pending ID whose card left the vault is no card
        run.diagnostics += save_state(root, state)
    return run


@dataclass
class _IdWriter:
    """Writes new cards' IDs into their notes for :func:`apply_sync`, journal first."""

    root: Path
    state: CardState
    ids: IdPlan
    not_written: set[int] = field(default_factory=set)
    """Planned IDs that did not reach the vault (the note changed, or could not be written)."""

    def __call__(self, wanted: set[int]) -> tuple[set[int], list[Diagnostic]]:
        """Record ``wanted`` as pending, then write them; return those now in the vault."""
        self.state.pending |= wanted
        writes = [w for w in self.ids.writes if any(i in wanted for _, i in w.ids)]
        journal = save_state(self.root, self.state)
        if journal:  # without the journal a crash could lose track of them: add nothing
            self.state.pending -= wanted
            self.not_written |= {i for w in writes for _, i in w.ids}
            where = display_path(self.root / STATE_DIR)
            return set(), [error(where, 0, "cannot record new IDs; no cards added"), *journal]
        committed = commit_ids(IdPlan(writes, []))
        problems = list(committed.diagnostics)
        problems += [
            warning(
                w.before.note.path,
                w.ids[0][0],
                "the note was edited during the sync; its new cards were not added "
                "(run sync again)",
            )
            for w in committed.changed
        ]
        written = {card_id for _, _, card_id in committed.written}
        self.not_written |= {i for w in writes for _, i in w.ids} - written
        self.state.pending -= self.not_written
        return (wanted - self.not_written), problems


def record_synced(plan: SyncPlan, result: SyncResult, state: CardState) -> None:
    """Remember the digest of every card whose note now holds what the vault says."""
    in_anki = [
        *(item for item, _ in result.added),
        *(update.planned for update in result.updated),
        *plan.unchanged,
    ]
    for item in in_anki:
        if item.note.note_id is not None:
            state.synced[item.note.note_id] = content_digest(item.note)
