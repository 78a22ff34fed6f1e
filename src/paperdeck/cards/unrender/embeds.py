"""Images, sounds and wikilinks back to the embeds a note writes: from the media name the
deck ships (``fig-70ca7dc822.png``) to the vault file the note names (``![[fig.png]]``).

An image or sound that is no file of the vault, a link to no note, or a size an embed
cannot say has no Markdown: it is lossy, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from paperdeck.cards.render import is_url
from paperdeck.cards.unrender.escapes import mark_specials
from paperdeck.cards.unrender.note_spellings import NoteSpellings
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import El, Sound


def sound_embed(sound: Sound, media: Mapping[str, str]) -> str:
    """``![[talk.mp3]]`` for a sound the deck ships; one added in Anki is lossy."""
    target = media.get(sound.name)
    if target is None:
        raise LossyError(f"a sound added in Anki ({sound.name}), not a file of the vault")
    return f"![[{unquote(target)}]]"


def wikilink_embed(
    node: El, spellings: NoteSpellings, link: Callable[[str], str | None] | None
) -> str:
    """``[[Note]]`` or ``[[Note|label]]``, with the target the note wrote where it has one."""
    text = str(node.children[0]) if node.children else ""
    href = node.attr("href")
    if href:
        target = spellings.link_targets.get(href)
        if target is None:
            target = _link_target(href, link)
        return f"[[{target}]]" if _shown(target) == text else f"[[{target}|{text}]]"
    if re.search(r"[\[\]|#^]", text) or not text:
        raise LossyError(f"a link to a note that the note did not have ({text!r})")
    return f"[[{text}]]"


def _link_target(href: str, link: Callable[[str], str | None] | None) -> str:
    files = parse_qs(urlsplit(href).query).get("file", [])
    if link is not None and files:
        path = files[0]
        for candidate in (path.rpartition("/")[2], path):
            if candidate and link(candidate) == href:
                return candidate
    raise LossyError(f"a link to a note that the note did not have ({href})")


def image_embed(
    node: El, spellings: NoteSpellings, media: Mapping[str, str], widths: Mapping[str, int]
) -> str:
    """``![[fig.png|300]]`` or ``![alt](fig.png)``, as the note wrote that image."""
    src = node.attr("src") or ""
    alt = node.attr("alt") or ""
    width, height = node.attr("width"), node.attr("height")
    if is_url(src):
        if width or height or node.attr("title"):
            raise LossyError("a web image with a size or title")
        destination = f"<{src}>" if re.search(r"[\s()]", src) else src
        return f"![{mark_specials(alt)}]({destination})"
    target = media.get(src)
    if target is None:
        raise LossyError(f"an image added in Anki ({src}), not a file of the vault")
    if node.attr("title") is not None or (height and not width):
        raise LossyError(f"an image with a title or a height only ({src})")
    size = None
    if width and (height or widths.get(src) != _int(width)):
        size = width + (f"x{height}" if height else "")
        if not re.fullmatch(r"[0-9]+(x[0-9]+)?", size):
            raise LossyError(f"an image size an embed cannot say ({size})")
    written, markdown_style = spellings.image_targets.get(src, (target, False))
    if not markdown_style and alt == written:
        return f"![[{written}|{size}]]" if size else f"![[{written}]]"
    destination = (
        written if markdown_style or not re.search(r"[\s()<>]", written) else f"<{written}>"
    )
    return f"![{mark_specials(alt)}{'|' + size if size else ''}]({destination})"


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _shown(target: str) -> str:
    """What ``[[target]]`` shows, as the renderer writes it."""
    note, _, heading = target.partition("#")
    return f"{note} > {heading.lstrip('^')}" if heading and note else note or heading
