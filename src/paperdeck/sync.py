"""``paperdeck sync``: a vault into a live Anki collection, in place, crash-safe.

The steps, all under the vault's lock: read and check the vault; choose IDs for new cards
(avoiding every note id in the collection); render the cards; compare with the
collection; then write. New cards are added in an order that survives a SIGKILL at any
moment: their IDs are first recorded as pending in the vault's card state, then written
into the notes, and only then are the Anki notes created with exactly those ids. A rerun
adds the pending ones that never reached Anki, so no card is lost or added twice, and no
Anki note ever exists whose ID is not in the vault.

The sync is two-way (:mod:`paperdeck.twoway`): a card edited only in Anki is written back
into its note, a card changed on both sides is a conflict that changes neither, and tags
added in Anki come back. Notes take Anki's edits after Anki has taken the vault's changes,
each note in one atomic write, and only if it still holds what was read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from paperdeck.anki.adopt import adopt_options
from paperdeck.anki.apkg import content_digest
from paperdeck.anki.collection import (
    AnkiSide,
    SyncPlan,
    SyncResult,
    apply_sync,
    note_ids,
    open_collection,
    plain_text,
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
    render_context,
    save_state,
    settle_mods,
)
from paperdeck.cards.macros.source import read_macros_file
from paperdeck.citations.load import read_bibliography
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, has_errors, warning
from paperdeck.figures.cache import Progress
from paperdeck.figures.cache import render as render_figures
from paperdeck.figures.spec import FigureSpec
from paperdeck.fileio import replace_if_unchanged
from paperdeck.notes.lock import STATE_DIR, vault_lock
from paperdeck.notes.model import Note
from paperdeck.notes.state import CardState
from paperdeck.notes.vault import SourceNote, display_path, parser
from paperdeck.twoway.base import anki_base
from paperdeck.twoway.decide import DEFAULT_POLICY, SyncPolicy
from paperdeck.twoway.rewrite import NoteRewrite, Rewrites, plan_rewrites

if TYPE_CHECKING:
    from anki.collection import Collection

    from paperdeck.anki.apkg import AnkiNote
    from paperdeck.cards.note_render import RenderContext
    from paperdeck.notes.vault import Parser


@dataclass
class SyncRun:
    """What a sync found and did."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    plan: SyncPlan | None = None
    """``None`` when the vault had errors and nothing was compared."""
    result: SyncResult | None = None
    """``None`` for a dry run, or when nothing was changed because of errors."""
    rendered: list[FigureSpec] = field(default_factory=list)
    rewrites: Rewrites = field(default_factory=Rewrites)
    """The notes that take edits or tags from Anki (planned, for a dry run)."""
    written: list[NoteRewrite] = field(default_factory=list)
    """Those of ``rewrites`` that were written into the vault."""


def sync(
    root: Path,
    collection: Path,
    config: Config,
    *,
    dry_run: bool = False,
    prune: bool = False,
    delete: bool = False,
    strict: bool = False,
    policy: SyncPolicy = DEFAULT_POLICY,
    progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> SyncRun:
    """Sync the vault at ``root`` into the collection; see the module's docstring.

    ``prune`` lists paperdeck notes whose cards left the vault; ``delete`` removes them
    and the notes of cards marked ``DELETE`` (which are always listed). ``policy`` says how
    edits made in Anki, conflicts, deck moves and tags are settled.
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
            parse = parser(config.parse_options())
            ids = plan_ids(vault, write=True, parse=parse, taken=in_anki)
            run.diagnostics += ids.diagnostics
            if has_errors(run.diagnostics):
                return run
            figures_dir = Path(config.figures_dir)
            if not dry_run:
                run.rendered = render_figures(vault.figures, figures_dir, progress=progress)
            generated = figure_paths(vault, figures_dir)
            macros = read_macros_file(root, config.macros)  # read once: both directions
            bibliography = read_bibliography(root, config)  # render with the same copy
            content = collect_deck(
                vault, config, generated, macros=macros, bibliography=bibliography
            )
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
                anki=state.anki,
                policy=policy,
            )
            run.diagnostics += run.plan.diagnostics
            context = render_context(
                vault, config, generated, macros=macros, bibliography=bibliography
            )
            run.rewrites = plan_rewrites(
                vault.sources,
                run.plan.pull,
                run.plan.added_tags,
                context,
                lambda source: _note_parser(parse, source),
            )
            run.diagnostics += conflict_diagnostics(run.plan, run.rewrites, policy)
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
            run.written, problems = write_rewrites(run.rewrites)
            run.diagnostics += problems
            state.pending -= {note_id for _, note_id in run.result.added}
            in_vault = {
                c.card_id for s in vault.sources for c in s.note.cards if c.card_id is not None
            } - writer.not_written
            rebuilt = _rendered_again(run.written, parse, context)
            built = [rebuilt.get(n.note_id, n) for n in content.notes if n.note_id in in_vault]
            record_built(built, state)
            record_synced(run.plan, run.result, state, rebuilt)
            record_anki_bases(col, run.plan, run.result, run.written, state, run.rewrites)
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


def record_synced(
    plan: SyncPlan,
    result: SyncResult,
    state: CardState,
    rebuilt: Mapping[int | None, AnkiNote] | None = None,
) -> None:
    """Remember the vault's digest of every card that now agrees with its note in Anki:
    pushed, added, unchanged, or rewritten from Anki (``rebuilt``: rendered again)."""
    in_anki = [
        *(item for item, _ in result.added),
        *(update.planned for update in result.updated),
        *plan.unchanged,
    ]
    for item in in_anki:
        if item.note.note_id is not None:
            state.synced[item.note.note_id] = content_digest(item.note)
    for note_id, note in (rebuilt or {}).items():
        if note_id is not None:
            state.synced[note_id] = content_digest(note)


def record_anki_bases(
    col: Collection,
    plan: SyncPlan,
    result: SyncResult,
    written: list[NoteRewrite],
    state: CardState,
    rewrites: Rewrites,
) -> None:
    """Remember each settled card's note as Anki now holds it: the next sync's base.

    A conflict, a kept edit (one-way) and an edit that could not be written back are not
    settled: their base stays, so the next sync sees the same difference."""
    from anki.notes import NoteId

    pulled = {p.card.card_id for rewrite in written for p in rewrite.pulled}
    pulled |= set(rewrites.settled)  # edits that say the same in Markdown
    settled = [
        *(item for item, _ in result.added),
        *(update.planned for update in result.updated),
        *plan.unchanged,
        *(side.planned for side in plan.pull if side.planned.card.card_id in pulled),
    ]
    for item in settled:
        note_id = item.note.note_id
        if note_id is None:
            continue
        note = col.get_note(NoteId(note_id))
        state.anki[note_id] = anki_base(note.fields, note.tags, item.note.deck, item.note.tags)


def conflict_diagnostics(
    plan: SyncPlan, rewrites: Rewrites, policy: SyncPolicy
) -> list[Diagnostic]:
    """A warning at ``path:line`` for each card whose two sides disagree, with both
    versions and how to settle it; one for tags that stay in Anki only."""
    out = []
    for side in plan.conflicts:
        item = side.planned
        out.append(
            warning(
                item.source.note.path,
                item.card.line,
                f"card {item.card.card_id} changed both here and in Anki since the last sync; "
                "neither was changed.\n" + _both_versions(side) + "\n  Settle it: make one "
                "side match the other, or run sync with --prefer notes or --prefer anki",
            )
        )
    for source, refused in rewrites.refused:
        card = refused.card
        out.append(
            warning(
                source.note.path,
                card.line,
                f"card {card.card_id} was edited in Anki but cannot be written back: "
                f"{refused.reason}; neither side was changed (--prefer notes overwrites "
                "the edit in Anki)",
            )
        )
    for source, tags in rewrites.tags_kept_in_anki:
        first = source.note.cards[0].line if source.note.cards else 1
        out.append(
            warning(
                source.note.path,
                first,
                f"tags added in Anki kept there only (not on every card of this note, or "
                f"not tags Obsidian can write): {' '.join(tags)}",
            )
        )
    del policy  # the policy decided what is a conflict; it does not change the message
    return out


def _both_versions(side: AnkiSide) -> str:
    card = side.planned.card
    wanted = side.planned.note.fields
    lines = []
    for label, note_text, anki_html, html in (
        ("question", card.question, side.fields[0] if side.fields else None, wanted[0]),
        ("answer", card.answer, side.fields[1] if len(side.fields) > 1 else None, wanted[1]),
    ):
        if anki_html is None or plain_text(anki_html) == plain_text(html):
            continue
        lines.append(f"  {label} in the note: {_one_line(note_text)}")
        lines.append(f"  {label} in Anki:     {_one_line(plain_text(anki_html))}")
    return "\n".join(lines) or "  (the fields differ in their markup only)"


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def write_rewrites(rewrites: Rewrites) -> tuple[list[NoteRewrite], list[Diagnostic]]:
    """Write each note's new text, only if the file still holds what the sync read."""
    written: list[NoteRewrite] = []
    problems: list[Diagnostic] = []
    for rewrite in rewrites.notes:
        source = rewrite.source
        line = rewrite.pulled[0].card.line if rewrite.pulled else 1
        try:
            done = replace_if_unchanged(source.path, source.data, rewrite.text.encode("utf-8"))
        except OSError as exc:
            why = exc.strerror or str(exc)
            problems.append(error(source.note.path, line, f"cannot write Anki's edits: {why}"))
            continue
        if done:
            written.append(rewrite)
        else:
            problems.append(
                warning(
                    source.note.path,
                    line,
                    "the note changed during the sync; Anki's edits were not written into "
                    "it (run sync again)",
                )
            )
    return written, problems


def _note_parser(parse: Parser, source: SourceNote) -> Callable[[str], Note]:
    """Parse new text of ``source`` the way the vault was parsed."""
    return lambda text: parse(source.rel, source.note.path, text.encode("utf-8"), text)[0]


def _rendered_again(
    written: list[NoteRewrite], parse: Parser, context: RenderContext
) -> dict[int | None, AnkiNote]:
    """The cards of each rewritten note, rendered from its new text, by card ID."""
    from paperdeck.cards.note_render import render_note

    out: dict[int | None, AnkiNote] = {}
    for rewrite in written:
        old = rewrite.source
        data = rewrite.text.encode("utf-8")
        note, _ = parse(old.rel, old.note.path, data, rewrite.text)
        fresh = SourceNote(old.path, old.rel, data, rewrite.text, note, old.mtime)
        for rendered in render_note(fresh, context).notes:
            out[rendered.note_id] = rendered
    return out
