"""A note that names its paper by key, with what its bibliography entry says (pure).

The entry fills what the note's own header or front matter leaves out (title, year, link:
what the note writes wins), and gives the Source line the authors (when the note names
none), the venue and links: DOI, arXiv, the PDF and Zotero. Author tags come only from
the note's own authors: a bibliography entry can list dozens.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from paperdeck.citations.bibtex import BibEntry, decode_entry
from paperdeck.citations.links import (
    VaultPlace,
    absolute_pdf_path,
    arxiv_abs_url,
    arxiv_id,
    arxiv_pdf_url,
    doi_url,
    first_pdf,
    pdf_url,
    zotero_url,
)
from paperdeck.citations.load import Bibliography, Found
from paperdeck.diagnostics import Diagnostic, clip, warning
from paperdeck.notes.model import NoteMeta

VENUE_FIELDS = ("journal", "journaltitle", "booktitle", "school", "institution", "publisher")
"""Where an entry names its venue, the first found wins; an arXiv preprint with none
shows "arXiv"."""

MAX_AUTHORS = 3
"""More authors than this show as "First Author et al."."""

_ARXIV_VENUE_RE = re.compile(r"^arxiv\b", re.IGNORECASE)


@dataclass(frozen=True)
class Cited:
    """What a note's citation key adds to its cards."""

    meta: NoteMeta
    """The note's metadata, what it leaves out filled from the entry."""
    authors: str = ""
    """The entry's authors as the Source line shows them (``""``: none, or the note's own)."""
    parts: tuple[str, ...] = ()
    """HTML for the Source line after the year: the venue, then the links."""
    pdf: str | None = None
    """The entry's PDF (absolute path), if it has one."""
    arxiv: str | None = None
    place: VaultPlace = field(default_factory=lambda: VaultPlace("", ()))

    def page_url(self, page: int) -> str | None:
        """A link that opens the paper at ``page``: its PDF, else its PDF on arXiv."""
        if self.pdf is not None:
            return pdf_url(self.pdf, self.place, page)
        return arxiv_pdf_url(self.arxiv, page) if self.arxiv else None


def cite(
    meta: NoteMeta, path: str, bibliography: Bibliography
) -> tuple[Cited | None, list[Diagnostic]]:
    """Look up the note's citation key. ``None`` when the note has none, or (with a warning
    at the key's line) when it cannot be used: the note is then built as if it had none."""
    key = meta.citekey
    if key is None:
        return None, []
    found = bibliography.find(key) if bibliography.configured else None
    entry = decode_entry(found.entry) if found is not None and found.entry else None
    if found is None or not isinstance(entry, BibEntry):
        message = _unusable(f"@{clip(key)}", bibliography, found, entry)
        return None, [warning(path, meta.citekey_line, message)]
    attached = first_pdf(entry.get("file") or "")
    pdf = absolute_pdf_path(attached, found.source.folder) if attached else None
    place = bibliography.place
    return Cited(
        meta=_filled(meta, entry),
        authors="" if meta.authors else _authors(entry.authors),
        parts=tuple(_parts(entry, pdf_url(pdf, place) if pdf else None)),
        pdf=pdf,
        arxiv=arxiv_id(entry.fields),
        place=place,
    ), []


def _unusable(
    key: str, bibliography: Bibliography, found: Found | None, decoded: BibEntry | str | None
) -> str:
    """Why a key cannot be used (``decoded``: its entry, or why it could not be decoded)."""
    if not bibliography.configured:
        return (
            f"citation key {key} is not looked up: no bibliography is configured "
            '(bibliography = ["refs.bib"] in paperdeck.toml)'
        )
    if found is None:
        return f"unknown citation key {key} (not in {clip(bibliography.names, 120)})"
    where = f"{found.source.shown}:{found.line}"
    if found.entry is None:
        return f"citation key {key}: its entry at {where} could not be read"
    why = decoded if isinstance(decoded, str) else ""
    return f"citation key {key}: its entry at {where} is broken ({clip(why, 120)})"


def _filled(meta: NoteMeta, entry: BibEntry) -> NoteMeta:
    """The note's metadata with the title, year and link it leaves out taken from the entry."""
    year = entry.get("year") or (entry.get("date") or "")[:4] or None
    return replace(
        meta,
        title=meta.title or entry.title,
        year=meta.year or year,
        link=meta.link or _paper_url(entry),
    )


def _paper_url(entry: BibEntry) -> str | None:
    """The paper on the web: the entry's URL, else its DOI, else its arXiv page."""
    url = entry.get("url")
    if url and urlsplit(url.strip()).scheme.lower() in {"http", "https"}:
        return url.strip()
    doi = entry.get("doi")
    if doi and (found := doi_url(doi)):
        return found
    arxiv = arxiv_id(entry.fields)
    return arxiv_abs_url(arxiv) if arxiv else None


def _authors(names: tuple[str, ...]) -> str:
    """``A, B, C``, or ``A et al.`` for more than :data:`MAX_AUTHORS` (or ``and others``)."""
    others = bool(names) and names[-1].strip().lower() == "others"
    named = [n for n in names if n.strip().lower() != "others"]
    if not named:
        return ""
    if others or len(named) > MAX_AUTHORS:
        return f"{named[0]} et al."
    return ", ".join(named)


def _venue(entry: BibEntry) -> str | None:
    venue = next((v for name in VENUE_FIELDS if (v := entry.get(name))), None)
    if venue is not None and _ARXIV_VENUE_RE.match(venue):
        return "arXiv"
    if venue is None and arxiv_id(entry.fields):
        return "arXiv"
    return venue


def _parts(entry: BibEntry, pdf: str | None) -> list[str]:
    """The venue, then the links: DOI, arXiv, the PDF (``pdf``: its URL), Zotero. A
    preprint's venue "arXiv" is itself the link to its abstract."""
    parts: list[str] = []
    venue = _venue(entry)
    arxiv = arxiv_id(entry.fields)
    if venue and not (arxiv and venue == "arXiv"):
        parts.append(html.escape(venue))
    doi = entry.get("doi")
    if doi and (url := doi_url(doi)):
        parts.append(_link(url, "DOI"))
    if arxiv:
        parts.append(_link(arxiv_abs_url(arxiv), "arXiv"))
    if pdf:
        parts.append(_link(pdf, "PDF"))
    parts.append(_link(zotero_url(entry.key), "Zotero"))
    return parts


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url)}">{html.escape(label)}</a>'
