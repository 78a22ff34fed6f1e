"""Fenced code blocks highlighted with Pygments: CSS classes, styled by ``highlight.css``.

Token classes carry the ``pd-hl-`` prefix (Pygments' own are one or two letters, such as
``k`` or ``s2``, which a note type or an add-on could use for something else), and the
colours live in the note type's CSS, not in ``style`` attributes, so that one style sheet
serves light and night mode. The lexer is the one the fence names; a fence that names no
language, or one Pygments does not know, is left to markdown-it's plain escaped code:
guessing the language from the code gets it wrong often enough to mislead.
"""

from __future__ import annotations

import html
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pygments is imported by the first fence that names a language
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

CLASS_PREFIX = "pd-hl-"
"""Prefix of every token class (``pd-hl-k`` for a keyword)."""
BLOCK_CLASS = "pd-highlight"
"""The class of a highlighted ``<pre>``: what ``highlight.css`` gives its background."""


@cache
def _formatter() -> HtmlFormatter[str]:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True, classprefix=CLASS_PREFIX)


@lru_cache(maxsize=256)
def lexer_class(language: str) -> type[Lexer] | None:
    """The Pygments lexer for a fence's language name or alias, ``None`` if there is none
    (or it is plain text, which has nothing to colour)."""
    if not language:
        return None
    from pygments.lexers import find_lexer_class_by_name
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

    try:
        found: type[Lexer] = find_lexer_class_by_name(language.lower())
    except ClassNotFound:
        return None
    return None if issubclass(found, TextLexer) else found


def highlight_code(code: str, language: str) -> str | None:
    """``code`` as HTML, its tokens in ``<span class="pd-hl-...">``; ``None`` when there
    is no lexer for ``language``, so the caller shows it plain."""
    lexer = lexer_class(language)
    if lexer is None:
        return None
    # Leading and trailing blank lines are the author's: Pygments would strip them.
    from pygments import highlight

    spans: str = highlight(code, lexer(stripnl=False, ensurenl=False), _formatter())
    return spans


def highlighted_block(code: str, language: str) -> str | None:
    """The ``<pre><code>`` block markdown-it would write for a fence, with its code
    highlighted, or ``None`` when there is no lexer for ``language``."""
    spans = highlight_code(code, language)
    if spans is None:
        return None
    lang = html.escape(language)
    return f'<pre class="{BLOCK_CLASS}"><code class="language-{lang}">{spans}</code></pre>\n'
