"""The links a bibliography entry gives (pure): DOI, arXiv, the PDF, Zotero.

A PDF inside the vault is linked as Obsidian opens it (``obsidian://open``, a page as the
``#page=N`` subpath Obsidian's own PDF links use, percent-encoded into ``file`` as its
URI documentation says for headings); a PDF elsewhere (Zotero's storage) as a ``file://``
URL, a page as ``#page=N``, which PDF viewers may or may not honour.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

ARXIV_ID = r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
"""A new-style (``1611.01144``, ``1611.01144v2``) or old-style (``hep-th/9901001``) id."""

_ARXIV_ID_RE = re.compile(rf"^(?:arxiv:)?({ARXIV_ID})$", re.IGNORECASE)
_ARXIV_URL_RE = re.compile(rf"arxiv\.org/(?:abs|pdf)/({ARXIV_ID})", re.IGNORECASE)
_ARXIV_DOI_RE = re.compile(rf"^10\.48550/arxiv\.({ARXIV_ID})$", re.IGNORECASE)
_ARXIV_TEXT_RE = re.compile(rf"\barxiv:\s?({ARXIV_ID})", re.IGNORECASE)
_DOI_PREFIX_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s?)", re.IGNORECASE)
_WINDOWS_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")


def doi_url(doi: str) -> str | None:
    """``https://doi.org/...`` for a DOI (written bare, ``doi:...`` or as a doi.org URL)."""
    bare = _DOI_PREFIX_RE.sub("", doi.strip())
    if not bare.startswith("10.") or "/" not in bare:
        return None
    return "https://doi.org/" + quote(bare, safe="/:;()._-")


def arxiv_id(fields: Mapping[str, str]) -> str | None:
    """The arXiv id of an entry: ``eprint`` with ``archivePrefix`` (or biblatex's
    ``eprinttype``) arXiv, an arxiv.org URL, an arXiv DOI, or ``arXiv:ID`` in the
    journal or note (as Google Scholar writes it)."""
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    eprint = fields.get("eprint", "").strip()
    if archive == "arxiv" and (found := _ARXIV_ID_RE.match(eprint)):
        return found.group(1)
    if found := _ARXIV_URL_RE.search(fields.get("url", "")):
        return found.group(1)
    if found := _ARXIV_DOI_RE.match(_DOI_PREFIX_RE.sub("", fields.get("doi", "").strip())):
        return found.group(1)
    for name in ("journal", "journaltitle", "note"):
        if found := _ARXIV_TEXT_RE.search(fields.get(name, "")):
            return found.group(1)
    return None


def arxiv_abs_url(arxiv: str) -> str:
    """The paper's arXiv abstract page."""
    return f"https://arxiv.org/abs/{arxiv}"


def arxiv_pdf_url(arxiv: str, page: int | None = None) -> str:
    """The paper's PDF on arXiv (a browser's PDF viewer opens it at ``#page=N``)."""
    return f"https://arxiv.org/pdf/{arxiv}" + (f"#page={page}" if page else "")


def zotero_url(key: str) -> str:
    """Selects the item in Zotero (Better BibTeX's ``zotero://select/items/@key``)."""
    return "zotero://select/items/@" + quote(key, safe=":._-+")


def attachments(value: str) -> list[tuple[str, str]]:
    """``(path, mime type)`` of each attachment in a ``file`` field as Better BibTeX (and
    JabRef) writes it: ``description:path:type``, several joined by ``;``, with ``\\:``,
    ``\\;`` and ``\\\\`` escaping those characters (``C\\:\\\\Users\\\\x.pdf``). A field of
    just a path is read as one too. A backslash before any other character is kept, so a
    Windows path written without escapes survives."""
    found: list[tuple[str, str]] = []
    for item in _split_unescaped(value, ";"):
        parts = [_unescape(p) for p in _split_unescaped(item, ":")]
        if len(parts) >= 3:
            path, mime = ":".join(parts[1:-1]), parts[-1]
        elif len(parts) == 2 and _WINDOWS_DRIVE_RE.match(":".join(parts)):
            path, mime = ":".join(parts), ""
        else:
            path, mime = parts[-1], ""
        if path.strip():
            found.append((path.strip(), mime.strip().lower()))
    return found


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "\\:;":
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\:;])", r"\1", text)


def first_pdf(value: str) -> str | None:
    """The first PDF among a ``file`` field's attachments (by type, else by name)."""
    for path, mime in attachments(value):
        if mime == "application/pdf" or path.lower().endswith(".pdf"):
            return path
    return None


def absolute_pdf_path(path: str, bib_folder: str) -> str:
    """The attachment's path made absolute: a relative one (a Zotero export with its files)
    is taken from the BibTeX file's folder; a Windows path is kept as Windows writes it."""
    if _WINDOWS_DRIVE_RE.match(path) or path.startswith("\\\\"):
        return path
    return posixpath.normpath(posixpath.join(bib_folder, path))


@dataclass(frozen=True)
class VaultPlace:
    """Where the vault is, to tell a PDF inside it (opened in Obsidian) from one outside."""

    name: str
    """The vault's name, as ``obsidian://`` links name it."""
    roots: tuple[str, ...]
    """The vault folder's absolute path and its real path (symlinks followed)."""

    def relative(self, path: str) -> PurePosixPath | None:
        """``path`` relative to the vault, or ``None`` when it is outside."""
        if _WINDOWS_DRIVE_RE.match(path):
            return None
        candidate = PurePosixPath(posixpath.normpath(path))
        for root in self.roots:
            if candidate.is_relative_to(root) and candidate != PurePosixPath(root):
                return candidate.relative_to(root)
        return None


def pdf_url(path: str, vault: VaultPlace, page: int | None = None) -> str:
    """A link that opens the PDF at ``path`` (absolute), at ``page`` when given."""
    rel = vault.relative(path)
    if rel is not None:
        subpath = quote(f"#page={page}", safe="") if page else ""
        target = quote(rel.as_posix(), safe="")
        return f"obsidian://open?vault={quote(vault.name, safe='')}&file={target}{subpath}"
    windows = bool(_WINDOWS_DRIVE_RE.match(path)) or path.startswith("\\\\")
    uri = PureWindowsPath(path).as_uri() if windows else PurePosixPath(path).as_uri()
    return uri + (f"#page={page}" if page else "")
