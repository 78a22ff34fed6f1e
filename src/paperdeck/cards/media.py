"""Resolving embeds and links inside the vault, as Obsidian does, and naming media for Anki.

A deck may only ever carry files from inside the vault (or figures paperdeck generated):
an embed that leaves the vault, by ``..``, an absolute path or a symlink, is refused.
Embeds are found in the very tokens the renderer renders, so every embed a card shows
was resolved (and reported when missing) here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from markdown_it.token import Token

from paperdeck.cards.render import MediaKind, is_url, media_kind, obsidian_url, parse_field
from paperdeck.diagnostics import clip


@dataclass(frozen=True)
class Embed:
    """A file an embed asks for (image, audio, video), with its line (0-based in the field)."""

    target: str
    """The key the renderer looks up: a wikilink's target as written; a Markdown image's
    destination as markdown-it normalises it (URL-encoded, ``<...>`` removed)."""
    line_offset: int
    markdown_style: bool
    """``![alt](path)``: the path is relative to the note's folder and URL-encoded."""

    @property
    def path_text(self) -> str:
        """The path the embed names, decoded."""
        return unquote(self.target) if self.markdown_style else self.target

    @property
    def kind(self) -> MediaKind:
        """``image``, ``audio`` or ``video``, for messages (a Markdown image of any suffix is
        an image)."""
        return media_kind(self.path_text) or "image"

    @property
    def shown(self) -> str:
        """The target quoted for a message, cut short if it is long."""
        return clip(repr(self.path_text))


def find_embeds(markdown: str) -> list[Embed]:
    """Media embeds in a card field, in order: exactly those :func:`render_field` looks up
    (so none in code, math or comments), each with its line."""
    if "![" not in markdown:
        return []
    found: list[Embed] = []
    for token in parse_field(markdown):
        if token.type != "inline" or token.map is None:
            continue
        line = token.map[0]
        for child in token.children or []:
            if child.type == "wikilink_embed" and media_kind(child.meta["target"]):
                found.append(Embed(child.meta["target"], line, False))
            elif child.type == "image":
                src = str(child.attrGet("src") or "")
                if src and not is_url(src):
                    found.append(Embed(src, line, True))
            line += _line_breaks(child)
    return found


def _line_breaks(token: Token) -> int:
    """How many source lines an inline token spans beyond its first."""
    if token.type in ("softbreak", "hardbreak"):
        return 1
    return token.content.count("\n") + sum(_line_breaks(c) for c in token.children or [])


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
        target = embed.path_text
        if target in self.generated:
            return self.generated[target]
        if _is_absolute(target):
            raise OutsideVault(f"embed {embed.shown} is an absolute path outside the vault")
        if (
            _normalise(note_rel.parent / target) is None
            and _normalise(PurePosixPath(target)) is None
        ):
            raise OutsideVault(f"embed {embed.shown} points outside the notes folder")
        hit = self.lookup(target, note_rel)
        return self._checked(hit, embed) if hit is not None else None

    def lookup(self, target: str, note_rel: PurePosixPath) -> PurePosixPath | None:
        """The vault file a link target names, in Obsidian's order: the path relative to the
        note's folder, then to the vault root, then any file whose path ends with the target
        (``deep/partial.png`` finds ``attachments/deep/partial.png``; a bare name is such a
        suffix): one in the note's folder first, then the shallowest. Never outside the vault,
        though the file found may be a link leading out (:meth:`resolve` checks that)."""
        if _is_absolute(target):
            return None
        for base in (note_rel.parent, PurePosixPath()):
            normal = _normalise(base / target)
            if normal is not None and (hit := self._by_path.get(normal.as_posix().casefold())):
                return hit
        path = PurePosixPath(target)
        if not path.parts or any(part in (".", "..") for part in target.split("/")):
            return None
        tail = "/" + path.as_posix().casefold()
        matches = [
            m
            for m in self._by_name.get(path.name.casefold(), [])
            if ("/" + m.as_posix().casefold()).endswith(tail)
        ]
        if not matches:
            return None
        same_folder = [m for m in matches if m.parent == note_rel.parent]
        return (same_folder or sorted(matches, key=lambda m: (len(m.parts), m.as_posix())))[0]

    def find_note(self, target: str, note_rel: PurePosixPath) -> PurePosixPath | None:
        """The file a ``[[wikilink]]`` names: ``Note`` is ``Note.md``, ``""`` the note itself."""
        if not target:
            return note_rel
        if not target.lower().endswith(".md"):
            hit = self.lookup(target + ".md", note_rel)
            if hit is not None:
                return hit
        return self.lookup(target, note_rel)

    def _checked(self, rel: PurePosixPath, embed: Embed) -> Path:
        path = self.root / rel
        inside = self._inside.get(rel)
        if inside is None:
            real = path.resolve()
            inside = self._inside[rel] = real == self._real_root or self._real_root in real.parents
        if not inside:
            raise OutsideVault(f"embed {embed.shown} is a link that leaves the notes folder")
        return path


@dataclass
class NoteLinker:
    """Maps the note a wikilink names to its ``obsidian://`` URL (``None``: no such note, the
    link stays text), and remembers each answer so a cached rendering can be checked."""

    index: VaultIndex
    vault_name: str
    note_rel: PurePosixPath
    resolved: dict[str, str | None] = field(default_factory=dict)

    def __call__(self, target: str) -> str | None:
        if target not in self.resolved:
            rel = self.index.find_note(target, self.note_rel)
            self.resolved[target] = obsidian_url(self.vault_name, rel) if rel else None
        return self.resolved[target]


def _is_absolute(target: str) -> bool:
    return target.startswith(("/", "\\", "~")) or bool(re.match(r"^[a-zA-Z]:[\\/]", target))


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
