"""Resolving embeds and links inside the vault, as Obsidian does, and naming media for Anki.

A deck may only ever carry files from inside the vault (or figures paperdeck generated):
an embed that leaves the vault, by ``..``, an absolute path or a symlink, is refused.
Embeds are found in the very tokens the renderer renders, so every embed a card shows
was resolved (and reported when missing) here.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote

from paperdeck.diagnostics import clip
from paperdeck.fileio import NotRegularFile, check_regular, read_regular_file
from paperdeck.notes.vault import FileStamp, file_stamp

if TYPE_CHECKING:
    from markdown_it.token import Token

    from paperdeck.cards.render import MediaKind


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
        from paperdeck.cards.render import media_kind

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
    from paperdeck.cards.render import parse_field

    return embeds_in(parse_field(markdown))


def embeds_in(tokens: Sequence[Token]) -> list[Embed]:
    """:func:`find_embeds` for a field already parsed (by
    :func:`~paperdeck.cards.render.parse_field`)."""
    from paperdeck.cards.render import is_url, media_kind

    found: list[Embed] = []
    for token in tokens:
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
    files: Sequence[PurePosixPath]
    generated: Mapping[str, Path] = field(default_factory=dict)
    """Figures paperdeck renders, by embed name; they live outside the vault on purpose."""
    _by_name: dict[str, list[PurePosixPath]] = field(init=False, repr=False)
    _by_path: dict[str, PurePosixPath] = field(init=False, repr=False)
    _inside: dict[Path, bool] = field(init=False, repr=False)
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
        found = self.locate(embed, note_rel)
        if found is None or found.generated:
            return found.path if found is not None else None
        return self._checked(found.path, embed)

    def locate(self, embed: Embed, note_rel: PurePosixPath) -> Located | None:
        """Where an embed points by its text and the vault's file list alone (no file is
        looked at): a generated figure, a vault file (:meth:`resolve` checks that it does
        not lead out of the vault), or ``None``; raises :class:`OutsideVault` for a path
        that leaves the vault by its text."""
        target = embed.path_text
        if target in self.generated:
            return Located(self.generated[target], generated=True)
        if _is_absolute(target):
            raise OutsideVault(f"embed {embed.shown} is an absolute path outside the vault")
        if (
            _normalise(note_rel.parent / target) is None
            and _normalise(PurePosixPath(target)) is None
        ):
            raise OutsideVault(f"embed {embed.shown} points outside the notes folder")
        hit = self.lookup(target, note_rel)
        return Located(self.root / hit, generated=False) if hit is not None else None

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

    def _checked(self, path: Path, embed: Embed) -> Path:
        inside = self._inside.get(path)
        if inside is None:
            inside = self._inside[path] = inside_vault(path, self._real_root)
        if not inside:
            raise _leaves(embed)
        return path


@dataclass(frozen=True)
class Located:
    """Where an embed points, before the file is looked at."""

    path: Path
    generated: bool
    """A figure paperdeck renders (outside the vault on purpose, never refused)."""


def inside_vault(path: Path, real_root: Path) -> bool:
    """Is ``path``, with every link in it followed, inside the vault (``real_root``)?"""
    real = path.resolve()
    return real == real_root or real_root in real.parents


def _leaves(embed: Embed) -> OutsideVault:
    return OutsideVault(f"embed {embed.shown} is a link that leaves the notes folder")


def embed_state(index: VaultIndex, names: MediaNames, embed: Embed, note_rel: PurePosixPath) -> str:
    """How an embed resolves now: ``missing``, ``outside: why``, ``not regular: what``,
    ``unreadable: why``, or ``path -> media name``."""
    try:
        path = index.resolve(embed, note_rel)
    except OutsideVault as exc:
        return f"outside: {exc}"
    return file_state(path, names)


def located_state(found: Located, embed: Embed, real_root: Path, names: MediaNames) -> str:
    """:func:`embed_state` of an embed already located (by a build whose vault had the
    same files): only the file itself is looked at again."""
    if not found.generated and not inside_vault(found.path, real_root):
        return f"outside: {_leaves(embed)}"
    return file_state(found.path, names)


def file_state(path: Path | None, names: MediaNames) -> str:
    """The media name of the file an embed resolved to, or why there is none."""
    if path is None:
        return "missing"
    try:
        return f"{path} -> {names.name(path)}"
    except NotRegularFile as exc:
        return f"not regular: {exc.strerror}"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


@dataclass
class NoteLinker:
    """Maps the note a wikilink names to its ``obsidian://`` URL (``None``: no such note, the
    link stays text), and remembers each answer so a cached rendering can be checked."""

    index: VaultIndex
    vault_name: str
    note_rel: PurePosixPath
    resolved: dict[str, str | None] = field(default_factory=dict)

    def __call__(self, target: str) -> str | None:
        from paperdeck.cards.render import obsidian_url

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


@dataclass
class MediaNames:
    """Media names by file, hashed once per file version and remembered.

    A file's version is its :class:`~paperdeck.notes.vault.FileStamp`. A name is reused in
    a later run only if the file's status was settled when it was hashed (an edit in the
    same clock tick would otherwise go unseen); within one run, the same stamp is enough.
    """

    known: dict[str, tuple[FileStamp, bool, str]] = field(default_factory=dict)
    """By absolute path: the stamp hashed, whether it was settled then, and the name."""
    added: set[str] = field(default_factory=set, compare=False, repr=False)
    """The paths hashed in this build (not kept with the cache)."""
    handed: set[str] = field(default_factory=set, compare=False, repr=False)
    """Those of ``added`` already handed back by :meth:`take_added`."""

    def name(self, path: Path) -> str:
        """``stem-<content hash>.ext`` for the file as it is now; raises OSError if unreadable
        (:class:`NotRegularFile` for a FIFO or device, which is never opened to block)."""
        stat = path.stat()
        check_regular(stat, path)
        key = os.path.abspath(path)
        cached = self.known.get(key)
        if (
            cached is not None
            and cached[0] == file_stamp(stat)
            and (cached[1] or key in self.added)
        ):
            return cached[2]
        now = time.time_ns()
        data, stat = read_regular_file(path)
        name = media_name(path, data)
        stamp = file_stamp(stat)
        self.known[key] = (stamp, stamp.settled(now), name)
        self.added.add(key)
        return name

    def take_added(self) -> dict[str, tuple[FileStamp, bool, str]]:
        """The names hashed by this process since the last call (a worker process hands
        them back to the build)."""
        fresh = self.added - self.handed
        self.handed |= fresh
        return {key: self.known[key] for key in fresh if key in self.known}

    def learn(self, names: Mapping[str, tuple[FileStamp, bool, str]]) -> None:
        """Take the names another process of this build hashed."""
        self.known.update(names)
        self.added.update(names)
        self.handed.update(names)

    def __getstate__(self) -> dict[str, object]:
        return {"known": self.known}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.known = state["known"]  # type: ignore[assignment]
        self.added, self.handed = set(), set()
