"""Page references on a card as links to that page of the paper's PDF.

Two spellings: a page reference in the text of a card of a note that cites a paper
(``p. 5`` in the form the vault configures, see ``page_pattern``), linked to the cited
entry's PDF; and Obsidian's own PDF link ``[[paper.pdf#page=5]]`` to a PDF in the vault,
linked with its subpath as ``obsidian://open`` takes one (``file=paper.pdf%23page%3D5``).
Page references in code, math or the text of a link are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

_PAGE_SUBPATH_RE = re.compile(r"^page=(\d+)")


@dataclass(frozen=True)
class PageLinks:
    """How page references of one note become links."""

    pattern: re.Pattern[str]
    """A page reference; its group ``page``, else its first group, is the page number."""
    url: Callable[[int], str | None]
    """The link that opens the paper at a page (``None``: leave the text as it is)."""


def page_links_plugin(md: MarkdownIt) -> None:
    """Link page references in text (only when rendering is given ``env["pages"]``)."""
    md.core.ruler.push("page_links", _link_pages)


def _link_pages(state: StateCore) -> None:
    pages: PageLinks | None = state.env.get("pages") if isinstance(state.env, dict) else None
    if pages is None:
        return
    for token in state.tokens:
        if token.type == "inline" and token.children:
            token.children = _linked(token.children, pages)


def _linked(children: list[Token], pages: PageLinks) -> list[Token]:
    out: list[Token] = []
    inside_link = 0
    for child in children:
        if child.type == "link_open":
            inside_link += 1
        elif child.type == "link_close":
            inside_link -= 1
        if child.type != "text" or inside_link:
            out.append(child)
            continue
        out.extend(_split(child, pages))
    return out


def _split(token: Token, pages: PageLinks) -> list[Token]:
    """A text token as text and links, one link per page reference."""
    text, out, done = token.content, [], 0
    for found in pages.pattern.finditer(text):
        number = found.group("page") if "page" in pages.pattern.groupindex else found.group(1)
        url = pages.url(int(number)) if number and number.isdigit() else None
        if not found.group(0) or url is None:
            continue
        if found.start() > done:
            out.append(_text(text[done : found.start()]))
        out += [Token("link_open", "a", 1, attrs={"href": url}), _text(found.group(0))]
        out.append(Token("link_close", "a", -1))
        done = found.end()
    if not out:
        return [token]
    if done < len(text):
        out.append(_text(text[done:]))
    return out


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def pdf_page_link(url: str, target: str, label: str | None) -> tuple[str, str] | None:
    """For a wikilink to a PDF with a subpath (``paper.pdf#page=5``) whose file resolved to
    ``url`` (an ``obsidian://open`` link, ``file`` last): the link with the subpath, and
    the text it shows (``paper.pdf, p. 5`` unless the link has its own)."""
    name, _, subpath = target.partition("#")
    if not subpath or not name.lower().endswith(".pdf") or "&file=" not in url:
        return None
    page = _PAGE_SUBPATH_RE.match(subpath)
    shown = label or (f"{name}, p. {page.group(1)}" if page else f"{name} > {subpath}")
    return url + quote("#" + subpath, safe=""), shown


def page_links(pattern: str, url: Callable[[int], str | None]) -> PageLinks:
    """The page links of one note: ``pattern`` (the vault's ``page_pattern``, checked when
    the configuration was read) and the link that opens its paper at a page."""
    return PageLinks(re.compile(pattern), url)
