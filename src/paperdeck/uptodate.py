"""Whether the last build still holds: when nothing it depended on has changed (settings,
paths, the file list, every note's bytes, every embedded file, the figures, the card state
and the deck), a build is the same build, and is over once this has been checked.

Every check looks at file stamps and only reads a file whose stamp cannot vouch for it
(see :data:`~paperdeck.notes.vault.RACY_NS`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from paperdeck.buildcache import FileCheck, LastBuild
from paperdeck.cards.media import Embed, Located, MediaNames, located_state
from paperdeck.config import Config
from paperdeck.fileio import read_regular_file
from paperdeck.notes.vault import file_stamp
from paperdeck.vaultread import Scan


def file_check(path: Path) -> FileCheck:
    """The file at ``path`` as it is now (its stamp, and its digest for when the stamp was
    taken too soon after a change to vouch for it)."""
    now = time.time_ns()
    try:
        data, status = read_regular_file(path)
    except OSError:
        return FileCheck(os.path.abspath(path), None, True, b"")
    stamp = file_stamp(status)
    digest = hashlib.sha256(data).digest()
    return FileCheck(os.path.abspath(path), stamp, stamp.settled(now), digest)


def same_file(check: FileCheck, path: Path) -> bool:
    """Is the file at ``path`` the one ``check`` saw (by stamp if settled, else by bytes)?"""
    if check.path != os.path.abspath(path):
        return False
    try:
        status = os.stat(path)
    except OSError:
        return check.stamp is None
    if check.stamp is None:
        return False
    if check.settled and file_stamp(status) == check.stamp:
        return True
    try:
        data, _ = read_regular_file(path)
    except OSError:
        return False
    return hashlib.sha256(data).digest() == check.digest


def inputs_digest(
    root: Path,
    out: Path,
    config: Config,
    scan: Scan,
    digests: Mapping[str, bytes],
    mtimes: Mapping[str, float],
    *,
    write_ids: bool,
    strict: bool,
    macros: str = "",
    bibliography: str = "",
) -> str:
    """A digest of what a build reads besides embedded files, figures, the card state and
    the deck: the card CSS, settings, paths, flags, the file list and every note's bytes. Without
    ``write_ids`` the card state is not kept, so a card's time is its note's: then the
    notes' modification times (``mtimes``) count too. ``macros`` is the digest of the
    vault's macros file, as the build read it, ``bibliography`` that of its BibTeX files."""
    from paperdeck.anki.note_types import card_css

    digest = hashlib.sha256(card_css().encode())  # the note types' look is in the deck too
    settings = json.dumps(asdict(config), sort_keys=True, default=repr)
    where = (os.getcwd(), os.path.abspath(root), os.path.realpath(root), os.path.abspath(out))
    digest.update(repr((settings, where, write_ids, strict, scan.diagnostics)).encode())
    digest.update(f"\0macros {macros}\0".encode())
    digest.update(f"\0bibliography {bibliography}\0".encode())
    digest.update("\n".join(scan.files).encode())
    for rel in scan.notes:
        digest.update(b"\n" + rel.encode() + b"\0" + digests.get(rel, b"-"))
        if not write_ids:
            digest.update(b"\0%d" % int(mtimes.get(rel, -1)))
    return digest.hexdigest()


def still_holds(
    last: LastBuild, root: Path, config: Config, inputs: str, media_names: MediaNames
) -> bool:
    """Does the last build hold for a build with these ``inputs`` (see :func:`inputs_digest`):
    same inputs, same figures, every embed resolving to the same file and content, and the
    card state and the deck as it left them?"""
    if last.inputs != inputs or not last.files or os.path.realpath(root) != last.real_root:
        return False
    if last.figures:
        from paperdeck.figures.cache import stale

        if stale(list(last.figures), Path(config.figures_dir)):
            return False
    if not embeds_hold(last.embeds, Path(last.real_root), media_names):
        return False
    return all(same_file(check, Path(check.path)) for check in last.files)


def embeds_hold(
    embeds: Mapping[tuple[str, str, str], tuple[str | None, bool, str]],
    real_root: Path,
    media_names: MediaNames,
) -> bool:
    """Does every embed (by ``(target, style, folder)``: the file it pointed to, whether that
    is a generated figure, and how it resolved) still resolve to the same file and content,
    in a vault whose file list is as it was?"""
    for (target, style, _), (path, generated, state) in embeds.items():
        if path is None:  # missing, or outside by its text: the file list says it all
            continue
        found = Located(Path(path), generated=generated)
        embed = Embed(target, 0, style == "md")
        if located_state(found, embed, real_root, media_names) != state:
            return False
    return True
