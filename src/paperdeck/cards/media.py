"""Resolving embeds inside the vault, as Obsidian does, and naming media for Anki.

A deck may only ever carry files from inside the vault (or figures paperdeck generated):
an embed that leaves the vault, by ``..``, an absolute path or a symlink, is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from paperdeck.cards.render import is_image, split_link
from paperdeck.diagnostics import clip

_WIKI_EMBED_RE = re.compile(r"!\[\[([^\]\n]+?)\]\]")
_MD_IMAGE_RE = re.compile(r"!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN_RE = re.compile(r"(`+).*?\1")
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Embed:
    """An image an embed asks for, with the line it is on (0-based within the field)."""

    target: str
    """Exactly as written (the key the renderer looks up)."""
    line_offset: int
    markdown_style: bool
    """``![alt](path)``: the path is relative to the note's folder and URL-encoded."""

    @property
    def shown(self) -> str:
        """The target quoted for a message, cut short if it is long."""
        return clip(repr(self.target))


def find_embeds(markdown: str) -> list[Embed]:
    """Image embeds in a card field, in order, outside inline code."""
    found: list[Embed] = []
    for offset, line in enumerate(markdown.split("\n")):
        line = _CODE_SPAN_RE.sub(lambda m: " " * len(m.group(0)), line)
        for m in _WIKI_EMBED_RE.finditer(line):
            target, _ = split_link(m.group(1))
            if is_image(target):
                found.append(Embed(m.group(1).partition("|")[0].strip(), offset, False))
        for m in _MD_IMAGE_RE.finditer(line):
            if not _URL_RE.match(m.group(1)):
                found.append(Embed(m.group(1), offset, True))
    return found


class OutsideVault(ValueError):
    """An embed that would pull a file from outside the vault into the deck."""


@dataclass
class VaultIndex:
    """The vault's files by path and by name, for Obsidian-style lookup."""

    root: Path
    files: list[PurePosixPath]
    generated: Mapping[str, Path] = field(default_factory=dict)
    """Figures paperdeck renders, by embed name; they live outside the vault on purpose."""
    _by_name: dict[str, list[PurePosixPath]] = field(init=False, repr=False)
    _by_path: dict[str, PurePosixPath] = field(init=False, repr=False)
    _inside: dict[PurePosixPath, bool] = field(init=False, repr=False)
    _real_root: Path = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {}
        self._by_path = {}
        self._inside = {}
        self._real_root = self.root.resolve()
        for rel in self.files:
            self._by_name.setdefault(rel.name.casefold(), []).append(rel)
            self._by_path[rel.as_posix().casefold()] = rel

    def resolve(self, embed: Embed, note_rel: PurePosixPath) -> Path | None:
        """The file an embed means, or ``None`` if missing; raises :class:`OutsideVault`."""
        target = unquote(embed.target) if embed.markdown_style else embed.target
        if target in self.generated:
            return self.generated[target]
        if target.startswith(("/", "\\", "~")) or re.match(r"^[a-zA-Z]:[\\/]", target):
            raise OutsideVault(f"embed {embed.shown} is an absolute path outside the vault")
        # Obsidian reads a path relative to the note's folder or to the vault root.
        inside = [
            normal
            for normal in (_normalise(note_rel.parent / target), _normalise(PurePosixPath(target)))
            if normal is not None
        ]
        if not inside:
            raise OutsideVault(f"embed {embed.shown} points outside the notes folder")
        for normal in inside:
            if hit := self._by_path.get(normal.as_posix().casefold()):
                return self._checked(hit, embed)
        if "/" not in target:
            matches = self._by_name.get(target.casefold(), [])
            if matches:
                same_folder = [m for m in matches if m.parent == note_rel.parent]
                best = same_folder or sorted(matches, key=lambda m: (len(m.parts), m.as_posix()))
                return self._checked(best[0], embed)
        return None

    def _checked(self, rel: PurePosixPath, embed: Embed) -> Path:
        path = self.root / rel
        inside = self._inside.get(rel)
        if inside is None:
            real = path.resolve()
            inside = self._inside[rel] = real == self._real_root or self._real_root in real.parents
        if not inside:
            raise OutsideVault(f"embed {embed.shown} is a link that leaves the notes folder")
        return path


def _normalise(path: PurePosixPath) -> PurePosixPath | None:
    """Collapse ``.`` and ``..``; ``None`` when the path climbs above the vault root."""
    parts: list[str] = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def media_name(path: Path, data: bytes) -> str:
    """A flat, collision-free name for Anki's media folder: ``stem-<content hash>.ext``.

    Two different ``x.png`` in different folders get different names, the same file
    always gets the same one, and an edited image gets a new name, so the card that shows
    it is updated on re-import.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.") or "image"
    digest = hashlib.sha256(data).hexdigest()[:10]
    return f"{stem}-{digest}{path.suffix.lower()}"
