"""Where a note names its paper by citation key (pure): ``@key`` in the ``Title:`` line,
or ``citekey:`` in the front matter.

Only the key is read here; what it stands for is looked up in the vault's bibliography
when the note is rendered (:mod:`paperdeck.citations`), so a note parses the same with
or without one.
"""

from __future__ import annotations

import re
from typing import Any

KEY_CHARS = r"[^\s,{}()\"'#%=\\~@]+"
"""What a BibTeX key may hold: no space, comma, brace or quote (Better BibTeX keys also
use ``:``, ``.``, ``-``, ``+``, ``/`` and non-ASCII letters)."""

_KEY_RE = re.compile(KEY_CHARS)
_TITLE_KEY_RE = re.compile(rf"(?<!\S)@({KEY_CHARS})(?!\S)")
_FRONT_MATTER_KEY_RE = re.compile(r"^citekey[ \t]*:", re.IGNORECASE)
_TRAILING = ".:;"
"""Punctuation after a key in a title (``... @jang2017.``) that is not part of it."""


def split_title(title: str) -> tuple[str, str | None]:
    """``Categorical reparameterization @jang2017categorical`` -> the title without the key,
    and the key. The last ``@key`` standing on its own is the key (an ``@`` inside a word,
    as in an e-mail address, is not); a title of only a key is ``""``."""
    found = list(_TITLE_KEY_RE.finditer(title))
    if not found:
        return title, None
    last = found[-1]
    key = last.group(1).rstrip(_TRAILING)
    if not key:
        return title, None
    rest = (title[: last.start()] + title[last.end() :]).strip()
    return re.sub(r"[ \t]{2,}", " ", rest), key


def front_matter_key(value: Any) -> str | None:
    """The key of front matter ``citekey: key`` or ``citekey: "@key"``; ``None`` when the
    value is not a key (a list, a mapping, text with spaces)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    key = str(value).strip().removeprefix("@")
    return key if _KEY_RE.fullmatch(key) else None


def is_front_matter_key_line(line: str) -> bool:
    """Is this front matter line the one that sets ``citekey``?"""
    return bool(_FRONT_MATTER_KEY_RE.match(line))
