"""Anki field HTML back to the note's Markdown (issue 12): the inverse of paperdeck's own
rendering, what Anki's editor writes, and a conflict (``Lossy``) where it would guess.

Every field is rendered the way a build renders it (``render_field`` then ``sanitize``); the
example vault and the hard-case vault go through the real parse and ``render_note``.
"""

from __future__ import annotations

import itertools
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperdeck.anki.note_types import PAPERDECK_TYPES
from paperdeck.build import figure_paths, read_vault
from paperdeck.cards.media import NoteLinker, VaultIndex
from paperdeck.cards.note_render import (
    MediaNames,
    RenderContext,
    card_field_names,
    card_note_type,
    render_note,
)
from paperdeck.cards.render import obsidian_url, render_field
from paperdeck.cards.sanitize import sanitize
from paperdeck.cards.unrender import Lossy, Markdown, card_structure, field_markdown
from paperdeck.config import Config
from paperdeck.notes.cloze import highlights_to_clozes

REPO = Path(__file__).resolve().parent.parent
MEDIA = {"fig-70ca7dc822.png": "fig.png", "talk-1b2c3d4e5f.mp3": "talk.mp3"}
NOTES = {"Other note", "Gumbel"}


def link(name: str) -> str | None:
    """Wikilinks resolve for the notes in :data:`NOTES`, as ``NoteLinker`` would."""
    return obsidian_url("vault", PurePosixPath(f"{name}.md")) if name in NOTES else None


def render(
    markdown: str,
    *,
    media: Mapping[str, str] = MEDIA,
    cloze: bool = False,
    highlights: bool = False,
    widths: Mapping[str, int] | None = None,
) -> str:
    """A field as a build writes it into Anki."""
    if highlights:
        markdown = highlights_to_clozes(markdown)
    names: dict[str, str | None] = {target: name for name, target in media.items()}
    return sanitize(render_field(markdown, names, cloze=cloze, link=link, widths=widths))


def back(html: str, original: str = "", **options: object) -> Markdown | Lossy:
    """``field_markdown`` with this module's media and links."""
    options.setdefault("media", MEDIA)
    options.setdefault("link", link)
    return field_markdown(html, original_markdown=original, **options)  # type: ignore[arg-type]


def text(result: Markdown | Lossy) -> str:
    assert isinstance(result, Markdown), result
    return result.text


# --- The example vault and the hard-case vault, through the real parse and render ------


@dataclass(frozen=True)
class Field:
    """One field of a vault card: its Markdown, the HTML the deck holds, and how it was
    rendered (what ``sync`` will pass to ``field_markdown``)."""

    where: str
    markdown: str
    html: str
    media: dict[str, str]
    cloze: bool
    highlights: bool
    link: Callable[[str], str | None]

    def back(self, html: str | None = None, original: str | None = None) -> Markdown | Lossy:
        return field_markdown(
            self.html if html is None else html,
            original_markdown=self.markdown if original is None else original,
            media=self.media,
            cloze=self.cloze,
            highlights_as_clozes=self.highlights,
            link=self.link,
        )


def vault_fields(root: Path, figures: Path) -> Iterator[Field]:
    """Every card field of the vault at ``root``, rendered as a build renders it (figures
    stand in as small files: their pixels do not matter here)."""
    config = Config()
    vault = read_vault(root, config)
    generated = figure_paths(vault, figures)
    figures.mkdir(exist_ok=True)
    for path in generated.values():
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + path.name.encode())
    context = RenderContext(
        config, root.name, VaultIndex(root, vault.files, generated), MediaNames()
    )
    for source in vault.sources:
        rendered = render_note(source, context)
        media = {
            state.rpartition(" -> ")[2]: target
            for (target, _), state in rendered.embeds.items()
            if " -> " in state
        }
        linker = NoteLinker(context.index, context.vault_name, source.rel)
        cards = [c for c in source.note.cards if not c.delete]
        for card, anki in zip(cards, rendered.notes, strict=True):
            note_type = card_note_type(card, source.note, config)
            if note_type in PAPERDECK_TYPES:
                fields = [card.question, card.answer]
            else:
                by_name = dict(
                    zip(card_field_names(card), [t for _, t in card.fields], strict=True)
                )
                fields = [by_name.get(name, "") for name in note_type.fields[:-1]]
            for k, markdown in enumerate(fields):
                yield Field(
                    f"{source.rel}:{card.line}:{k}",
                    markdown,
                    anki.fields[k],
                    media,
                    card.cloze,
                    card.cloze and note_type in PAPERDECK_TYPES and k == 0,
                    linker,
                )


@pytest.fixture(scope="module")
def vaults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Field]]:
    found: dict[str, list[Field]] = {}
    for name, folder in (("notes", REPO / "notes"), ("hard", REPO / "tests/fixtures/hard_cards")):
        copy = tmp_path_factory.mktemp(name)
        shutil.copytree(folder, copy / "vault")
        found[name] = list(vault_fields(copy / "vault", copy / "figures"))
    return found


def all_fields(vaults: dict[str, list[Field]]) -> list[Field]:
    return [f for fields in vaults.values() for f in fields]


def test_the_vaults_have_the_fields_these_tests_expect(vaults: dict[str, list[Field]]) -> None:
    assert len(vaults["notes"]) == 10
    assert len(vaults["hard"]) == 38
    kinds = "".join(f.html for f in all_fields(vaults))
    for construct in ("\\[", "\\(", "<table>", "pd-highlight", "<img", "{{c1::", "<code>"):
        assert construct in kinds


def test_an_unedited_field_is_the_note_itself(vaults: dict[str, list[Field]]) -> None:
    for f in all_fields(vaults):
        assert f.back() == Markdown(f.markdown, unchanged=True), f.where


def test_a_field_anki_reserialised_is_unchanged(vaults: dict[str, list[Field]]) -> None:
    """Anki's editor writes ``<br>``, bare quotes and ``&nbsp;``, and may drop the newlines
    between tags: the card is the same, so the note is."""
    for f in all_fields(vaults):
        html = f.html.replace("<br />", "<br>").replace("&quot;", '"')
        html = re.sub(r">\n<(?!/?(pre|code))", "><", html)
        html = html.replace("  ", " &nbsp;") if "<pre" not in html else html
        assert f.back(html) == Markdown(f.markdown, unchanged=True), f.where


# What converting a vault field without its note changes (the documented normalisations).
NORMALISED = {
    # runs of spaces are one space
    "$  with": "$ with",
    # a table's delimiter row is written with outer pipes and spaces
    "|---|---|---|---|---|": "| --- | --- | --- | --- | --- |",
}


def test_every_vault_field_converts_back_without_its_note(vaults: dict[str, list[Field]]) -> None:
    """The pure inverse: the rendered field alone gives the note's Markdown back, but for
    the normalisations listed in :data:`NORMALISED`."""
    changed = 0
    for f in all_fields(vaults):
        expected = f.markdown
        for before, after in NORMALISED.items():
            expected = expected.replace(before, after)
        changed += expected != f.markdown
        assert text(f.back(original="")) == expected, f.where
    assert changed == len(NORMALISED)


# --- Edited in Anki: the example vault's answers ---------------------------------------


def field_at(vaults: dict[str, list[Field]], needle: str) -> Field:
    (found,) = [f for f in vaults["notes"] if needle in f.markdown]
    return found


def test_a_typo_fixed_in_anki_changes_that_word_only(vaults: dict[str, list[Field]]) -> None:
    f = field_at(vaults, "The Gumbel-Max trick involves")
    html = f.html.replace("categorical distrubtion", "categorical distribution")
    expected = f.markdown.replace("categorical distrubtion", "categorical distribution")
    assert f.back(html) == Markdown(expected)


def test_a_typo_fixed_in_a_formula_keeps_the_notes_tex(vaults: dict[str, list[Field]]) -> None:
    """The card shows ``\\text{one}\\_\\text{hot}``; the note keeps ``\\text{one\\_hot}``."""
    f = field_at(vaults, "The Gumbel-Max trick involves")
    html = f.html.replace("\\log \\pi_i])\\right)", "\\log \\pi_i]\\right)", 1)
    assert html != f.html
    expected = f.markdown.replace("\\log \\pi_i])\\right)", "\\log \\pi_i]\\right)", 1)
    assert f.back(html) == Markdown(expected)
    assert (
        "$$z = \\text{one\\_hot}\\left(\\text{argmax}_i [g_i + \\log \\pi_i]\\right)$$" in expected
    )


def test_a_word_bolded_in_anki(vaults: dict[str, list[Field]]) -> None:
    f = field_at(vaults, "The Gumbel-Max trick involves")
    html = f.html.replace("The Gubmel-Softmax makes", "The <b>Gubmel-Softmax</b> makes")
    expected = f.markdown.replace("The Gubmel-Softmax makes", "The **Gubmel-Softmax** makes")
    assert "$  with" in expected  # the note's own spacing on the edited line stays
    assert f.back(html) == Markdown(expected)


def test_a_line_added_in_anki_with_br(vaults: dict[str, list[Field]]) -> None:
    f = field_at(vaults, "The Gumbel-Max trick involves")
    html = f.html.replace("with backprop</p>", "with backprop<br>See also $\\tau$.</p>")
    assert f.back(html) == Markdown(f.markdown + "\nSee also \\$\\tau\\$.")  # text, not math
    html = f.html.replace("with backprop</p>", "with backprop<br>See also \\(\\tau\\).</p>")
    assert f.back(html) == Markdown(f.markdown + "\nSee also $\\tau$.")


def test_a_line_added_in_anki_with_a_div(vaults: dict[str, list[Field]]) -> None:
    """A ``<div>`` after the paragraph is a line of its own: a new paragraph."""
    f = field_at(vaults, "As $\\tau \\to 0$")
    html = f.html + "<div>It is <i>annealed</i> in practice.</div><div><br></div>"
    assert f.back(html) == Markdown(f.markdown + "\n\nIt is *annealed* in practice.")


def test_an_image_removed_in_anki(vaults: dict[str, list[Field]]) -> None:
    f = field_at(vaults, "Start with large")
    html = re.sub(r"<br />\n<img [^>]*>", "", f.html)
    assert html != f.html
    assert f.back(html) == Markdown(
        f.markdown.replace("\n![[gumbel-softmax-gradient-variance.png]]", "")
    )


def test_an_image_resized_in_anki(vaults: dict[str, list[Field]]) -> None:
    f = field_at(vaults, "![[gumbel-softmax-simplex.png]]")
    html = f.html.replace("<img ", '<img width="240" ')
    assert f.back(html) == Markdown("![[gumbel-softmax-simplex.png|240]]")


def test_a_question_edited_in_the_hard_math(vaults: dict[str, list[Field]]) -> None:
    (f,) = [f for f in vaults["hard"] if "and inline $\\text{top\\_k}$" in f.markdown]
    html = f.html.replace("and inline", "and, inline,")
    assert f.back(html) == Markdown(f.markdown.replace("and inline", "and, inline,"))
    html = f.html.replace("\\text{costs }\\$\\text{5}", "\\text{costs }\\$\\text{6}")
    assert html != f.html
    assert f.back(html) == Markdown(f.markdown.replace("costs \\$5", "costs \\$6"))


def test_a_table_cell_edited_in_anki(vaults: dict[str, list[Field]]) -> None:
    """Only the edited row changes: the note's ``|---|`` row and spacing stay."""
    (f,) = [f for f in vaults["hard"] if f.markdown.startswith("| estimator")]
    html = f.html.replace("<td>high</td>", "<td>very high</td>")
    assert f.back(html) == Markdown(f.markdown.replace("| high |", "| very high |"))


def test_code_edited_in_anki_keeps_its_fence(vaults: dict[str, list[Field]]) -> None:
    (f,) = [f for f in vaults["hard"] if "```python" in f.markdown]
    html = f.html.replace("temperature</span>", "tau</span>", 1)
    assert html != f.html
    result = text(f.back(html))
    assert result == f.markdown.replace("temperature: float", "tau: float", 1)


def test_a_cloze_edited_in_anki(vaults: dict[str, list[Field]]) -> None:
    (f,) = [f for f in vaults["hard"] if f.markdown.startswith("The Gumbel-Max trick samples")]
    html = f.html.replace("the relaxation replaces", "the relaxation swaps")
    assert f.back(html) == Markdown(f.markdown.replace("relaxation replaces", "relaxation swaps"))
    html = f.html.replace("{{c2::", "{{c3::")
    assert f.back(html) == Markdown(f.markdown.replace("{{c2::", "{{c3::"))


def test_fields_stored_and_edited_in_a_real_collection(
    vaults: dict[str, list[Field]], collection: Any
) -> None:
    """Anki stores every field in Unicode NFC: a note written in NFD is still unchanged.
    An edit made through the ``anki`` package (as a phone's sync lands) comes back."""
    f = field_at(vaults, "The Gumbel-Max trick involves")
    note_nfd = unicodedata.normalize("NFD", f.markdown + "\nCafé naïve.")
    html = render(note_nfd, media=f.media)
    note = collection.new_note(collection.models.by_name("Basic"))
    note["Front"], note["Back"] = "q", html
    collection.add_note(note, collection.decks.id("Default"))
    stored = collection.get_note(note.id)["Back"]
    assert stored != html  # Anki's NFC
    unchanged = field_markdown(stored, original_markdown=note_nfd, media=f.media, link=f.link)
    assert unchanged == Markdown(note_nfd, unchanged=True)

    note = collection.get_note(note.id)
    note["Back"] = stored.replace("distrubtion \\(\\pi_i\\)", "distribution \\(\\pi_i\\)")
    collection.update_note(note)
    edited = collection.get_note(note.id)["Back"]
    result = field_markdown(edited, original_markdown=note_nfd, media=f.media, link=f.link)
    assert result == Markdown(note_nfd.replace("distrubtion $", "distribution $"))


# --- Property: random cards from pieces, in the form the converter writes -------------

WORDS = st.sampled_from(
    ["alpha", "beta", "Gumbel", "softmax", "x1", "café", "naïve", "it's", "(paren)", "e.g.", "a/b"]
)
INLINE = st.one_of(
    WORDS,
    st.sampled_from(
        [
            "$x$",
            "$\\pi_i$",
            "$\\text{one\\_hot}(z)$",
            "$a<b$",
            "$e^{x^{2}}$",
            "$\\{a, b\\}$",
            "*word*",
            "**bold words**",
            "~~gone~~",
            "==marked==",
            "`code`",
            "`a*b`",
            "[a link](https://example.org/a)",
            "<https://example.org>",
            "[[Other note]]",
            "[[Gumbel|the trick]]",
            "[[Nowhere]]",
            "![[fig.png]]",
            "![[fig.png|300]]",
            "![[talk.mp3]]",
            "{{c1::word}}",
            "{{c2::word::hint}}",
            "<u>under</u>",
            "x<sub>2</sub>",
        ]
    ),
)
LINE = st.lists(INLINE, min_size=1, max_size=5).map(" ".join)
PARAGRAPH = st.lists(LINE, min_size=1, max_size=3).map("\n".join)
WORD_LINE = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
BLOCK = st.one_of(
    PARAGRAPH,
    PARAGRAPH,
    st.sampled_from(["$$\\sum_i \\pi_i = 1$$", "$$z = \\text{one\\_hot}(\\arg\\max_i g_i)$$"]),
    st.lists(LINE, min_size=1, max_size=3).map(lambda items: "\n".join(f"- {i}" for i in items)),
    st.tuples(LINE, LINE).map(lambda p: f"- {p[0]}\n  - {p[1]}"),
    st.lists(LINE, min_size=1, max_size=3).map(
        lambda items: "\n".join(f"{n}. {i}" for n, i in enumerate(items, 1))
    ),
    st.sampled_from(["```python\nx = 1  # one\n```", "```\nplain < text\n```", "```js\n```"]),
    st.tuples(WORD_LINE, LINE.map(lambda line: line.replace("|", "\\|"))).map(
        lambda c: f"| {c[0]} | b |\n| --- | :---: |\n| {c[1]} | `c` |"
    ),
    WORD_LINE.map(lambda h: f"## {h}"),
    st.lists(LINE, min_size=1, max_size=2).map(lambda ls: "\n".join(f"> {line}" for line in ls)),
)


def canonical_card(blocks: list[str]) -> str:
    """Blocks joined as the converter joins them: no blank line beside a fence or after a
    ``$$`` line, one elsewhere."""
    out = blocks[:1]
    for before, after in itertools.pairwise(blocks):
        tight = before.startswith(("```", "$$")) or after.startswith("```")
        out.append(("\n" if tight else "\n\n") + after)
    return "".join(out)


def lists_apart(blocks: list[str]) -> bool:
    """Two lists of one kind in a row would be one list (the converter alternates ``*``)."""
    kinds = [b[:2] if b[:2] in ("- ", "1.") else "" for b in blocks]
    return all(not (a and a == b) for a, b in itertools.pairwise(kinds))


CARDS = st.lists(BLOCK, min_size=1, max_size=4).filter(lists_apart).map(canonical_card)


@settings(max_examples=150)
@given(CARDS)
def test_random_cards_convert_back_exactly(markdown: str) -> None:
    """Render then convert gives the same Markdown, with or without the note."""
    html = render(markdown)
    assert back(html, markdown) == Markdown(markdown, unchanged=True)
    assert back(html) == Markdown(markdown)


@settings(max_examples=60)
@given(CARDS)
def test_random_cloze_cards_convert_back_exactly(markdown: str) -> None:
    """In a cloze note math has its ``}}`` spaced; the converter joins them again."""
    html = render(markdown, cloze=True)
    assert back(html, cloze=True) == Markdown(markdown)


# Markdown the converter does not write itself, but must understand.
VARIANTS = st.sampled_from(
    [
        "_em_ and __strong__ and ***both***",
        "* star item\n* another\n\n+ plus item",
        "1) paren\n2) list",
        "    indented code",
        "~~~\ntilde fence\n~~~",
        "Setext heading\n===",
        "hard  \nbreak\\\nlines",
        "***",
        "a \\* b \\_ c \\[d\\] \\`e\\` 1\\. f",
        "\\\\(x\\\\) is math on the card",
        "<b>raw bold</b> and <i>raw</i>",
        "[ref]: https://example.org\n\nsee [ref]",
        "$\\text{a}\\_\\text{b}$",
        "- loose\n\n- list",
        "> quote\n>\n> two paragraphs",
        "![alt text](fig.png)",
        "![sized|120](fig.png)",
        "line\n\n\n\nfar below",
    ]
)


@settings(max_examples=80)
@given(st.lists(st.one_of(VARIANTS, BLOCK), min_size=1, max_size=4))
def test_other_spellings_come_back_as_the_same_card(blocks: list[str]) -> None:
    """Markdown in any spelling converts (without its note) to Markdown that renders to
    the same card, and that is the converter's own form (converting it again keeps it)."""
    markdown = "\n\n".join(blocks)
    html = render(markdown)
    converted = text(back(html))
    assert card_structure(render(converted)) == card_structure(html)
    assert back(render(converted)) == Markdown(converted)


PUNCTUATION = st.text(
    alphabet=st.sampled_from(list("ab 1.-*_#>+=~|`[]()<>!&%$\\{}:;'\"/")), min_size=1, max_size=30
)


@settings(max_examples=200)
@given(PUNCTUATION)
def test_any_text_comes_back_as_that_text(raw: str) -> None:
    """Text full of Markdown's special characters (written in the note fully escaped)
    comes back as Markdown that shows exactly that text, with a backslash only where one
    is needed."""
    escaped = "".join("\\" + c if c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" else c for c in raw)
    html = render(escaped)
    converted = text(back(html))
    assert card_structure(render(converted)) == card_structure(html)
    assert converted.count("\\") <= escaped.count("\\")
    if not re.search(r"[^ab1 ]", raw):
        assert converted == " ".join(raw.split())


# --- Property: an edit in Anki changes that edit only ----------------------------------

NOTE_STYLE = st.sampled_from(
    [
        "_em_ and __strong__ words",
        "$\\text{a}\\_\\text{b}$ kept as written",
        "spaced  out   words",
        "* star\n* items",
        "1) paren\n2) items",
        "| a | b |\n|---|--:|\n| 1 | 2 |",
        "~~~python\nx = 1\n~~~",
        "Setext\n======",
        "- outer\n\t- tab nested",
        "line one  \nline two",
        "trailing spaces   ",
        "$$\n\\sum_i x_i\n$$",
        "%%a comment%% beside text",
    ]
)


EDITS = {
    "changed": "changed",
    "<b>sentinel</b>": "**sentinel**",
    "<i>sentinel</i> word": "*sentinel* word",
}


@settings(max_examples=100)
@given(
    st.lists(st.one_of(NOTE_STYLE, BLOCK), min_size=0, max_size=3),
    st.lists(st.one_of(NOTE_STYLE, BLOCK), min_size=0, max_size=3),
    st.lists(WORDS, min_size=1, max_size=3),
    st.sampled_from(["", *EDITS]),
)
def test_an_edit_in_anki_changes_nothing_else(
    before: list[str], after: list[str], words: list[str], edit: str
) -> None:
    """A note in its own style (``_em_``, ``* items``, ``|---|``, tabs, comments, split
    ``\\text``): one word edited, bolded or removed in Anki changes that word only."""
    markdown = "\n\n".join([*before, " ".join([*words, "sentinel", *words]), *after])
    html = render(markdown)
    assert html.count("sentinel") == 1
    if edit:
        expected = markdown.replace("sentinel", EDITS[edit])
    else:
        expected = markdown.replace(" sentinel", "")
    assert back(html.replace("sentinel", edit), markdown) == Markdown(expected)


# --- What Anki's editor writes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<div>a</div><div>b</div><div><br></div><div>c</div>", "a\nb\n\nc"),
        ("a<br>b<br><br>c<br>", "a\nb\n\nc"),
        ("plain text only", "plain text only"),
        ("<b>bold </b>word and <i>it</i> <u>under</u>", "**bold** word and *it* <u>under</u>"),
        ("<span>no</span> <span><b>meaning</b></span>", "no **meaning**"),
        ("a&nbsp; &nbsp;b&nbsp;", "a b"),
        ("<strike>gone</strike> <s>too</s> <del>also</del>", "~~gone~~ ~~too~~ ~~also~~"),
        ("<b>a</b><b>b</b> <b></b>", "**ab**"),
        ("x<sub>2</sub> e<sup>x</sup>", "x<sub>2</sub> e<sup>x</sup>"),
        ("<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>", "- one\n- two\n  - nested"),
        ('<ol start="3"><li>x</li><li>y</li></ol>', "3. x\n4. y"),
        ("<ul><li>a</li></ul><ul><li>b</li></ul>", "- a\n\n* b"),
        ("<pre><code>line1<br>line2</code></pre>", "```\nline1\nline2\n```"),
        ('<a href="https://e.org/a b">a link</a>', "[a link](https://e.org/a%20b)"),
        ('<a href="https://e.org">https://e.org</a>', "<https://e.org>"),
        ("<strong><em>both</em></strong> <em>a <strong>b</strong></em>", "**_both_** _a **b**_"),
        ("# not a heading", "\\# not a heading"),
        ("- not a list", "\\- not a list"),
        ("1. not a list either", "1\\. not a list either"),
        ("*not em* and 5 * 3 and snake_case", "\\*not em\\* and 5 \\* 3 and snake_case"),
        ("costs $5 or $10", "costs $5 or $10"),
        ("\\(x\\) and \\[y\\]", "$x$ and $$y$$"),
        ("\\[x\\]<br>on a line of its own", "$$x$$\non a line of its own"),
        ("before<br>\\[x\\]", "before\n$$x$$"),
        ("\\( x^2 \\)", "$x^2$"),
        ("x [sound:talk-1b2c3d4e5f.mp3]", "x ![[talk.mp3]]"),
        ('<img src="fig-70ca7dc822.png" alt="fig.png">', "![[fig.png]]"),
        ('<img src="fig-70ca7dc822.png" width="200" height="100">', "![|200x100](fig.png)"),
        ('<img src="https://e.org/x.png">', "![](https://e.org/x.png)"),
        (
            '<a class="wikilink" href="obsidian://open?vault=vault&amp;file=Gumbel">g</a>',
            "[[Gumbel|g]]",
        ),
        ('<span class="wikilink">Nowhere</span>', "[[Nowhere]]"),
        ('<p>q</p><div class="context">Title &gt; Heading</div>', "q"),
        (
            "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>b|c</td></tr></tbody></table>",
            "| a |\n| --- |\n| b\\|c |",
        ),
        ("{{c1::answer::a hint}} and {{c2::\\(x\\)}}", "{{c1::answer::a hint}} and {{c2::$x$}}"),
        ("", ""),
    ],
)
def test_what_ankis_editor_writes(html: str, expected: str) -> None:
    assert text(back(html)) == expected


STAR_LIST = "* first item\n* second item\n\t* tab nested\n* third item"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("second item", "2nd item"), STAR_LIST.replace("second item", "2nd item")),
        (("tab nested", "tab nested, edited"), STAR_LIST.replace("nested", "nested, edited")),
        (("<li>third item</li>", "<li>third item</li><li>fourth</li>"), STAR_LIST + "\n* fourth"),
        (("<li>first item</li>", ""), STAR_LIST.replace("* first item\n", "")),
    ],
)
def test_a_list_edited_in_anki_keeps_the_notes_markers(
    edit: tuple[str, str], expected: str
) -> None:
    html = render(STAR_LIST)
    assert edit[0] in html
    assert back(html.replace(*edit), STAR_LIST) == Markdown(expected)


def test_an_ordered_list_keeps_its_delimiter() -> None:
    note = "1) one\n2) two"
    html = render(note).replace("<li>two</li>", "<li>two</li>\n<li>three</li>")
    assert back(html, note) == Markdown(note + "\n3) three")


def test_paragraphs_deleted_and_added_in_anki() -> None:
    note = "Para one.\n\nPara two.\n\nPara three."
    html = render(note)
    assert back(html.replace("<p>Para two.</p>", ""), note) == Markdown("Para one.\n\nPara three.")
    added = html.replace("<p>Para two.</p>", "<p>Para two.</p><p>New <b>para</b>.</p>")
    assert back(added, note) == Markdown(note.replace("two.", "two.\n\nNew **para**."))


def test_the_notes_spacing_around_fences_and_math_is_kept() -> None:
    note = "Intro\n```\ncode here\n```\nOutro\n$$x$$\nlast"
    html = render(note)
    assert back(html.replace("code here", "code there"), note) == Markdown(
        note.replace("code here", "code there")
    )
    assert back(html.replace("last", "final"), note) == Markdown(note.replace("last", "final"))


def test_a_new_line_in_a_note_with_its_own_lines() -> None:
    note = "First line\nsecond line"
    assert back(render(note) + "<div>third</div>", note) == Markdown(note + "\n\nthird")
    html = render(note).replace("second line", "second line<br>third")
    assert back(html, note) == Markdown(note + "\nthird")


def test_cloze_math_braces_and_highlights() -> None:
    note = "==Gumbel== noise: {{c3::$e^{x^{2}}$}} and ==softmax=="
    html = render(note, cloze=True, highlights=True)
    assert "{{c4::Gumbel}}" in html and "{{c5::softmax}}" in html and "} }" in html
    options = {"cloze": True, "highlights_as_clozes": True}
    assert back(html, note, **options) == Markdown(note, unchanged=True)
    edited = html.replace("noise:", "noise, with")
    assert back(edited, note, **options) == Markdown(note.replace("noise:", "noise, with"))
    edited = html.replace("{{c5::softmax}}", "{{c5::soft max}}")
    assert back(edited, note, **options) == Markdown(note.replace("==softmax==", "==soft max=="))


def test_a_figure_keeps_its_automatic_width() -> None:
    """A generated figure is shown at the width it was drawn for: no size in the note."""
    widths = {"fig-70ca7dc822.png": 640}
    html = render("see ![[fig.png]]", widths=widths)
    assert 'width="640"' in html
    edited = html.replace("see", "look at")
    assert back(edited, "see ![[fig.png]]", widths=widths) == Markdown("look at ![[fig.png]]")


def test_markdown_style_images_keep_their_spelling() -> None:
    note = "A plot: ![the plot|300](<fig.png>)"
    html = render(note)
    assert back(html.replace("A plot", "The plot"), note) == Markdown(
        note.replace("A plot", "The plot")
    )
    resized = html.replace('width="300"', 'width="200"')
    assert back(resized, note) == Markdown("A plot: ![the plot|200](<fig.png>)")


def test_wikilink_label_edited_in_anki() -> None:
    note = "See [[Gumbel#Trick|the trick]] and [[Other note]]."
    html = render(note)
    assert back(html.replace(">the trick<", ">the Gumbel trick<"), note) == Markdown(
        note.replace("|the trick]]", "|the Gumbel trick]]")
    )


def test_line_endings_and_comments_of_the_note_are_kept() -> None:
    note = "one %%private%% line\r\ntwo\r\n\r\n%%a whole-line comment%%\r\nthree"
    html = render(note)
    assert back(html, note) == Markdown(note, unchanged=True)
    assert back(html.replace("two", "2"), note) == Markdown(note.replace("two", "2"))
    assert back(html.replace("three", "3"), note) == Markdown(note.replace("three", "3"))


def test_a_comment_beside_an_edit_is_kept() -> None:
    note = "one %%private%% line"
    assert back(render(note).replace("line", "lines"), note) == Markdown(note + "s")


def test_an_edit_over_a_comment_is_a_conflict() -> None:
    """Anki never showed the comment: rewriting the line around it cannot keep it."""
    note = "one %%private%% line"
    result = back("<p>completely different</p>", note)
    assert isinstance(result, Lossy) and "comment" in result.reason


# --- Lossy: a conflict, never a guess ----------------------------------------------------


@pytest.mark.parametrize(
    ("html", "why"),
    [
        ('<span style="color: rgb(255, 0, 0);">red</span>', "styled"),
        ('<b style="color: red">red</b>', "styled"),
        ('<font color="red">red</font>', "<font>"),
        ('<img src="paste-0123abcd.png">', "added in Anki"),
        ("[sound:recorded-in-anki.mp3]", "added in Anki"),
        ('<img src="fig-70ca7dc822.png" style="width: 50%">', "styled"),
        ("\\(a <b>b</b>\\)", "formula"),
        ("<table><tbody><tr><td>a</td></tr></tbody></table>", "header"),
        ('<table><thead><tr><th colspan="2">a</th></tr></thead></table>', "colspan"),
        ("a<!-- note to self -->b", "comment"),
        ("<iframe src=x></iframe>", "<iframe>"),
        ('<p class="x">a</p>', "<p>"),
        ('<span class="highlight">a</span>', "class"),
        ("<ul><li>a<br><br>b</li></ul>", "same card"),
        ("\\(x\\)5", "same card"),
        ("<h2>a<br>b</h2>", "heading"),
    ],
)
def test_what_cannot_be_written_back_is_lossy(html: str, why: str) -> None:
    result = back(html)
    assert isinstance(result, Lossy)
    assert why in result.reason


def test_lossy_even_with_a_note() -> None:
    """An unconvertible edit is a conflict whatever the note held."""
    note = "some **text**"
    result = back(render(note).replace("text", '<span style="color:red">text</span>'), note)
    assert isinstance(result, Lossy)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<b>",
                "</b>",
                "<div>",
                "</div>",
                "<br>",
                "<ul>",
                "<li>",
                "</ul>",
                "<table>",
                "<tr>",
                "<td>",
                "</table>",
                "\\(",
                "\\)",
                "\\[",
                "\\]",
                "x",
                " ",
                "*",
                "&nbsp;",
                "<img src=fig-70ca7dc822.png>",
                "[sound:x]",
                "{{c1::",
                "}}",
                "<pre>",
                "<code>",
                "</code>",
                "</pre>",
                "<span>",
                "</span>",
                "\n",
                "<!--",
                "-->",
                "\ue000",
            ]
        ),
        max_size=20,
    ).map("".join),
    st.sampled_from(["", "x", "*x* $y$\n\n- z"]),
)
def test_any_html_gives_markdown_or_lossy(html: str, note: str) -> None:
    """Whatever the field holds, the answer is Markdown that renders to the same card, or
    a reason: never an exception, never a guess."""
    result = back(html, note)
    if isinstance(result, Markdown):
        assert card_structure(render(result.text)) == card_structure(html)
    else:
        assert result.reason
