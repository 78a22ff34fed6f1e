"""One parsed note to its Anki notes: fields rendered, images resolved, deck and tags chosen.

Pure apart from reading image files (through :class:`MediaNames`, which hashes them), so a
build cache can keep the result of :func:`render_note` and reuse it while nothing it
depended on has changed.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import quote, urlsplit

from paperdeck.anki.apkg import AnkiNote, guid_for
from paperdeck.anki.note_types import (
    BASIC,
    CLOZE,
    PAPERDECK_TYPES,
    REVERSED,
    SOURCE,
    NoteType,
    cloze_note_type,
    custom_note_type,
)
from paperdeck.cards.macros.vault_tex import VaultTex
from paperdeck.cards.media import (
    Embed,
    MediaNames,
    NoteLinker,
    VaultIndex,
    embed_state,
    embeds_in,
    find_embeds,
)
from paperdeck.cards.pages import PageLinks, page_links
from paperdeck.cards.render import parse_field, render_tokens
from paperdeck.cards.sanitize import sanitize
from paperdeck.citations.cite import Cited, cite
from paperdeck.citations.load import Bibliography
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, warning
from paperdeck.figures.display import read_figure_display
from paperdeck.notes.cloze import highlights_to_clozes
from paperdeck.notes.fields import FIRST_FIELD
from paperdeck.notes.model import Card, Note
from paperdeck.notes.tags import anki_tag, unique
from paperdeck.notes.vault import SourceNote

T = TypeVar("T")


@dataclass
class RenderContext:
    """What rendering a note depends on besides the note itself."""

    config: Config
    vault_name: str
    index: VaultIndex
    media_names: MediaNames
    tex: VaultTex = field(default_factory=VaultTex)
    """The vault's macros (and what Anki's MathJax knows), for every card's math."""
    bibliography: Bibliography = field(default_factory=Bibliography)
    """The vault's BibTeX entries, for notes that name their paper by citation key."""

    def fingerprint(self) -> str:
        """A hash of the settings, figure paths and macros; a change re-renders every note."""
        payload = {
            "config": asdict(self.config),
            "vault": self.vault_name,
            "generated": {k: str(v) for k, v in sorted(self.index.generated.items())},
            "tex": self.tex.fingerprint(),
            "bibliography": self.bibliography.digest,
        }
        text = json.dumps(payload, sort_keys=True, default=repr)  # regex styles hold patterns
        return hashlib.sha256(text.encode()).hexdigest()

    def embed_state(self, embed: Embed, note_rel: PurePosixPath) -> str:
        """How an embed resolves now: ``missing``, ``outside: why``, ``not regular: what``,
        ``unreadable: why``, or ``path -> media name``."""
        return embed_state(self.index, self.media_names, embed, note_rel)


@dataclass
class RenderedNote:
    """The Anki notes of one source note (``mod`` still to be set), with what they used."""

    notes: list[AnkiNote]
    media: dict[str, Path]
    diagnostics: list[Diagnostic]
    embeds: dict[tuple[str, bool], str]
    """Each embed (target, Markdown style) and how it resolved, to validate a cached copy."""
    links: dict[str, str | None] = field(default_factory=dict)
    """Each ``[[wikilink]]`` target and the URL it became (``None``: no such note)."""


def deck_name(note: Note, rel: PurePosixPath, config: Config) -> str:
    """Front matter ``deck:`` (or TARGET DECK) wins, then the nearest folder deck, then the
    vault's ``deck`` template, then ``Papers::<Title>``."""
    title = note.meta.title or rel.stem
    if note.meta.deck:
        return note.meta.deck
    by_folder = _nearest(config.folder_decks, rel)
    if by_folder:
        return by_folder[0]
    if config.deck:
        return config.deck.format(title=title, folder=rel.parent.as_posix().strip("."))
    return f"{config.deck_prefix}::{title}" if config.deck_prefix else title


def note_tags(note: Note, rel: PurePosixPath, config: Config) -> tuple[str, ...]:
    """Folder, header, front matter and inline tags, Anki-safe; authors as
    ``author::Name``. The tags of every enclosing folder add up, innermost first."""
    folder = [t for tags in _nearest(config.folder_tags, rel) for t in tags]
    tags = [anki_tag(t) for t in (*folder, *note.meta.tags, *note.inline_tags)]
    tags += [f"author::{anki_tag(a)}" for a in note.meta.authors]
    return unique(t for t in tags if t)


def _nearest(by_folder: Mapping[str, T], rel: PurePosixPath) -> list[T]:
    """The entries for the folders enclosing ``rel``, innermost first."""
    if not by_folder:
        return []
    wanted = {key.strip("/"): value for key, value in by_folder.items()}
    return [wanted[p.as_posix()] for p in rel.parents if p.as_posix() in wanted and p.name]


def source_html(note: Note, rel: PurePosixPath, vault_name: str, cited: Cited | None = None) -> str:
    """The Source field: title (linked to the paper), authors, year, and a link to the note;
    for a note that cites its paper, the entry's authors (if the note names none), venue
    and links (DOI, arXiv, PDF, Zotero) before that.

    The title is a link only for a web address: anything else would be removed by the
    sanitizer anyway, leaving a link-coloured title that cannot be clicked."""
    meta = note.meta
    title = html.escape(meta.title or rel.stem)
    web_link = meta.link and urlsplit(meta.link.strip()).scheme.lower() in {"http", "https"}
    parts = [f'<a href="{html.escape(meta.link or "")}">{title}</a>' if web_link else title]
    if meta.authors:
        parts.append(html.escape(", ".join(a.replace("_", " ") for a in meta.authors)))
    elif cited is not None and cited.authors:
        parts.append(html.escape(cited.authors))
    if meta.year:
        parts.append(html.escape(meta.year))
    parts.extend(cited.parts if cited is not None else ())
    target = quote(rel.with_suffix("").as_posix(), safe="")
    url = f"obsidian://open?vault={quote(vault_name, safe='')}&file={target}"
    parts.append(f'<a href="{html.escape(url)}">Open in Obsidian</a>')
    return " · ".join(parts)


_PAPERDECK_NAMES = {"basic", "basic (and reversed card)", "cloze"}
"""Note types a card may name that paperdeck's own types stand for."""


def card_note_type(card: Card, note: Note, config: Config) -> NoteType:
    """The note type a card uses: paperdeck's cloze, both-ways (by block, note or vault) or
    basic Q/A; or, for a card naming another type, one made with the card's field names."""
    if card.note_type is not None and card.note_type.lower() not in _PAPERDECK_NAMES:
        maker = cloze_note_type if card.cloze else custom_note_type
        return maker(card.note_type, card_field_names(card))
    if card.cloze:
        return CLOZE
    return REVERSED if card.reverse or note.meta.reverse or config.reverse else BASIC


def card_field_names(card: Card) -> tuple[str, ...]:
    """The card's field names; an unlabelled first field (the type's first, whatever Anki
    calls it) is named as Anki's stock types name theirs."""
    names = [name for name, _ in card.fields]
    if names and names[0] == FIRST_FIELD:
        names[0] = next(n for n in ("Front", "Text", "Field 1", "Field 0") if n not in names)
    return tuple(names)


def card_guid(card: Card, rel: PurePosixPath) -> str:
    """From the ID alone, so edits update the card; a card with no ID yet hashes its place."""
    if card.card_id is not None:
        return guid_for(card.card_id)
    digest = hashlib.sha256(f"{rel.as_posix()}\0{card.question}".encode()).digest()
    return guid_for(int.from_bytes(digest[:8], "big"))


def render_note(source: SourceNote, context: RenderContext) -> RenderedNote:
    """Render every card of a note; missing media are warnings, media from outside errors.

    Every field is sanitized here, once assembled (Source line and heading context
    included): the one place all of a card's HTML passes."""
    rel = source.rel
    rendering, cited = _rendering_for(source, context)
    note = replace(source.note, meta=cited.meta) if cited is not None else source.note
    deck = deck_name(note, rel, context.config)  # the entry fills what the note lacks
    tags = note_tags(note, rel, context.config)
    source_field = source_html(note, rel, context.vault_name, cited)
    for card in note.cards:
        if card.delete:  # marked DELETE: its note leaves Anki on sync, never rebuilt
            continue
        note_type = card_note_type(card, note, context.config)
        rendering.out.notes.append(
            AnkiNote(
                guid=card_guid(card, rel),
                note_id=card.card_id,
                deck=deck,
                fields=tuple(map(sanitize, rendering.card_fields(card, note_type, source_field))),
                tags=unique([*tags, *(anki_tag(t) for t in card.tags)]),
                mod=0,
                note_type=note_type,
            )
        )
    rendering.out.links = dict(rendering.linker.resolved)
    return rendering.out


def _rendering_for(source: SourceNote, context: RenderContext) -> tuple[_Rendering, Cited | None]:
    """How the fields of ``source`` are rendered (its paper's page links and title
    included), and its bibliography entry, if it cites one."""
    meta = source.note.meta
    cited, citing = cite(meta, source.note.path, context.bibliography)
    title = cited.meta.title if cited is not None else meta.title
    pages = page_links(context.config.page_pattern, cited.page_url) if cited else None
    rendering = _Rendering(
        source,
        context,
        RenderedNote([], {}, citing, {}),
        NoteLinker(context.index, context.vault_name, source.rel),
        title,
        pages,
    )
    return rendering, cited


@dataclass
class _Rendering:
    """One note being rendered: where its text comes from, and what its fields used."""

    source: SourceNote
    context: RenderContext
    out: RenderedNote
    linker: NoteLinker
    title: str | None = None
    """The paper's title (the note's, else its bibliography entry's)."""
    pages: PageLinks | None = None
    """How page references become links to the cited paper's PDF (``None``: no paper)."""

    def card_fields(self, card: Card, note_type: NoteType, source_field: str) -> tuple[str, ...]:
        """The card's fields as HTML, in the note type's order, Source filled in, and the
        heading context (when the card has one) after the first field."""
        if note_type in PAPERDECK_TYPES:
            question_md = highlights_to_clozes(card.question) if card.cloze else card.question
            first = self.field(question_md, card.line, card.cloze)
            answer = self.field(card.answer, card.answer_line, card.cloze)
            return first + self.context_line(card), answer, source_field
        lines = card.field_lines or (card.line,) * len(card.fields)
        rendered = {
            name: self.field(text, line, card.cloze)
            for name, (_, text), line in zip(
                card_field_names(card), card.fields, lines, strict=False
            )
        }
        rendered.setdefault(SOURCE, source_field)
        values = [rendered.get(name, "") for name in note_type.fields]
        values[0] += self.context_line(card)
        return tuple(values)

    def context_line(self, card: Card) -> str:
        """``Title > Heading > Subheading`` under the first field, for a card with context."""
        if not card.context:
            return ""
        title = self.title or self.source.rel.stem
        trail = " &gt; ".join(html.escape(part) for part in (title, *card.context))
        return f'<div class="context">{trail}</div>'

    def field(self, markdown: str, first_line: int, cloze: bool) -> str:
        """One field as HTML: its embeds resolved (problems reported at their lines).
        The field is parsed once: its embeds are found in the tokens that are rendered."""
        tokens = parse_field(markdown, self.pages)
        names, widths = self.resolve(embeds_in(tokens) if "![" in markdown else [], first_line)
        tex = self.context.tex.field()
        rendered = render_tokens(
            tokens, names, cloze=cloze, link=self.linker, widths=widths, tex=tex
        )
        for problem in tex.problems:  # the vault's macros, commands nothing defines
            report = error if problem.error else warning
            line = first_line + problem.line
            self.out.diagnostics.append(report(self.source.note.path, line, problem.message))
        return rendered

    def resolve_embeds(
        self, markdown: str, first_line: int
    ) -> tuple[dict[str, str | None], dict[str, int]]:
        """:meth:`resolve` for the embeds of a field's Markdown."""
        return self.resolve(find_embeds(markdown), first_line)

    def resolve(
        self, embeds: Iterable[Embed], first_line: int
    ) -> tuple[dict[str, str | None], dict[str, int]]:
        """Each embed's media name (``None``: not shown) and the widths figures ask for;
        problems are reported at their lines."""
        names: dict[str, str | None] = {}
        widths: dict[str, int] = {}
        shown, context, out = self.source.note.path, self.context, self.out
        for embed in embeds:
            line = first_line + embed.line_offset
            state = context.embed_state(embed, self.source.rel)
            out.embeds[embed.target, embed.markdown_style] = state
            names[embed.target] = None
            what = f"{embed.kind} {embed.shown}"
            if state.startswith("outside: "):
                out.diagnostics.append(error(shown, line, state.removeprefix("outside: ")))
            elif state == "missing":
                out.diagnostics.append(warning(shown, line, f"missing {what}"))
            elif state.startswith("not regular: "):  # a FIFO or device: as good as missing
                why = state.removeprefix("not regular: ")
                out.diagnostics.append(warning(shown, line, f"cannot use {what}: {why}"))
            elif state.startswith("unreadable: "):
                path = context.index.resolve(embed, self.source.rel)
                if path is not None and path in context.index.generated.values():
                    names[embed.target] = path.name  # `check` does not render figures
                else:
                    why = state.removeprefix("unreadable: ")
                    out.diagnostics.append(error(shown, line, f"cannot read {what}: {why}"))
            else:
                path_text, _, name = state.rpartition(" -> ")
                out.media[name] = Path(path_text)
                names[embed.target] = name
                if name.lower().endswith(".png") and (
                    shown_as := read_figure_display(Path(path_text))
                ):
                    widths[name] = shown_as.css_width
        return names, widths


@dataclass(frozen=True)
class FieldInputs:
    """What :func:`~paperdeck.cards.render.render_field` is given for one field of a note:
    the media name of each embed, the widths figures ask for, and how wikilinks resolve."""

    names: dict[str, str | None]
    widths: dict[str, int]
    link: NoteLinker
    render: Callable[[str], str]
    """Any Markdown for this field rendered as the build renders it (macros, page links
    and embeds included; not yet sanitized)."""


def field_inputs(
    source: SourceNote, context: RenderContext, markdown: str, first_line: int, *, cloze: bool
) -> FieldInputs:
    """The inputs a build renders one field of ``source`` with (two-way sync converts Anki's
    HTML back with the same ones, so that it can check its answer by rendering it)."""
    rendering, _ = _rendering_for(source, context)
    names, widths = rendering.resolve_embeds(markdown, first_line)
    return FieldInputs(
        names, widths, rendering.linker, lambda text: rendering.field(text, first_line, cloze)
    )


def cached_still_valid(
    rendered: RenderedNote,
    note: PurePosixPath | SourceNote,
    context: RenderContext,
    seen: dict[tuple[str, ...], str | None] | None = None,
) -> bool:
    """Does every embed of a cached rendering of ``note`` (its vault-relative path, or the
    note) still resolve to the same file and content, and every wikilink to the same note?

    ``seen`` remembers, for one build, how each embed and link resolved from each folder
    (every note of a folder that shows ``plot.png`` asks the same question): the file is
    then checked by ``stat()`` once, not once per note."""
    memo: dict[tuple[str, ...], str | None] = {} if seen is None else seen
    if isinstance(note, SourceNote):
        rel_text, folder = note.rel_text, note.folder
    else:
        rel_text, folder = note.as_posix(), note.parent.as_posix()
        folder = "" if folder == "." else folder
    for (target, style), state in rendered.embeds.items():
        key: tuple[str, ...] = ("embed", target, "md" if style else "wiki", folder)
        if key not in memo:
            note_rel = note.rel if isinstance(note, SourceNote) else note
            memo[key] = context.embed_state(Embed(target, 0, style), note_rel)
        if memo[key] != state:
            return False
    if not rendered.links:
        return True
    note_rel = note.rel if isinstance(note, SourceNote) else note
    linker = NoteLinker(context.index, context.vault_name, note_rel)
    for target, url in rendered.links.items():
        key = ("link", target, folder if target else rel_text)
        if key not in memo:
            memo[key] = linker(target)
        if memo[key] != url:
            return False
    return True
