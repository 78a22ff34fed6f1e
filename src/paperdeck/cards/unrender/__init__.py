r"""Anki field HTML back to the note's Markdown: the inverse of :mod:`paperdeck.cards.render`.

Two-way sync needs it: a field edited in Anki (desktop or phone) must come back into the
note as the Markdown a person would have written, or be reported as a conflict. It never
guesses: every Markdown it returns has been rendered again, as a build renders it, and
shown to give the same card (equal :func:`card_structure`); anything else is
:class:`Lossy`, with the reason.

How it works:

1. Anki's HTML and the HTML the note renders to are read into one normalised structure
   (:func:`card_structure`), so a spelling that does not change the card is not an edit
   (see *Normalisations*). A field whose structure is still the note's gives the note's
   Markdown back as it is (``unchanged``): an unedited field never changes the note.
2. The note's blocks (paragraphs, lists, tables, code, ...) are matched against Anki's.
   An unchanged block keeps the note's bytes. In an edited block the lines Anki did not
   change keep the note's bytes, and a changed line is the note's line with Anki's change
   made to it (a fixed typo changes that typo only; the line's ``_em_``, double spaces or
   ``%%comments%%`` stay); a new line takes the note's indentation and list markers
   (``\t* item``, ``1) item``). A formula, embed or link that is as it was is written as
   the note wrote it (``\text{one\_hot}``, ``![[fig.png|300]]``, ``[[Note|label]]``), and
   an edited formula is the note's formula with Anki's change made to its TeX.
3. A new text gets a backslash only where rendering shows it needs one (``1\. not a
   list``); ``*``, ``_``, ``~``, `````, ``[``, ``]``, ``=`` and ``$`` are escaped all alike
   in a block (``\*not em\*``).
   Each step falls back to the next coarser one (lines, blocks, the whole field written
   anew, emphasis as HTML tags) when its Markdown does not render back to the same card.

The inverse of paperdeck's rendering: ``\(..\)`` and ``\[..\]`` are ``$..$`` and
``$$..$$`` (HTML entities decoded, :mod:`~paperdeck.cards.tex`'s ``\text{a}\_\text{b}``
joined back into ``\text{a\_b}``, a cloze note's ``} }`` back into ``}}``); ``<p>`` and
``<br>`` are paragraphs and lines; ``<strong>``, ``<em>``, ``<s>``, ``<mark>``, ``<code>``
are ``**``, ``*``, ``~~``, ``==`` and backticks; links, wikilinks (``<a class="wikilink">``
and ``<span class="wikilink">``), lists, fenced code (Pygments' highlighted
``<pre class="pd-highlight">`` too), GFM tables, headings, block quotes, ``<details>``,
images and ``[sound:...]`` come back as the embed the note had (by media name); clozes
``{{c1::...}}`` stay text, and in a cloze question those that were ``==highlights==`` are
highlights again. What Anki's editor writes is read too: ``<div>`` lines, ``<br>``,
``&nbsp;``, ``<b>``, ``<i>``, ``<u>``, ``<sub>``, ``<sup>`` and plain ``<span>`` wrappers.

Normalisations (in what is written anew; the note's own bytes are kept as above):

- ``*em*``, ``**strong**`` (``_em_`` beside a ``**``), ``~~s~~``; bullets ``-`` (``*``
  for a list right after another), ordered items numbered from the start with ``.``;
  code fenced with backticks (an indented block comes back fenced), ``#`` headings,
  ``---`` rules, tables with outer pipes and ``| --- |`` rows, ``$$..$$`` on a line of its
  own (``$$`` lines around it where the note writes them so); no blank line beside a
  fence or after a ``$$..$$`` line, one between other blocks;
- ``<b>``/``<i>``/``<strike>``/``<del>`` are ``<strong>``/``<em>``/``<s>``; ``<u>``,
  ``<sub>``, ``<sup>`` and the like stay HTML (Markdown has none);
- text is compared in Unicode NFC, as Anki stores it (an unedited line keeps the note's
  own form); ``&nbsp;`` is a space, a run of white space one space, a space at the edge of emphasis
  moves outside it (``<b>word </b>`` is ``**word** ``), touching emphasis is one;
- a hard line break (two spaces, ``\``) comes back as a line break; an empty line in Anki
  (``<br><br>``, ``<div><br></div>``) ends a paragraph; a ``<div>`` after a paragraph is a
  paragraph; a trailing ``<br>`` (which shows nothing) is dropped; a ``<br>`` beside display
  math is a line break there (paperdeck renders that one without ``<br>``);
- spaces just inside math delimiters are dropped; where no formula of the note is like an
  edited one, ``\text{}`` escapes between two text groups, or ending the formula, go back
  in; others stay out (the same glyphs);
- a code block ends with exactly one line break; ``alt=""`` is no ``alt`` (an image
  without one comes back as ``![](target)``); a link's URL is percent-encoded;
- ``\\(x\\)`` written as text in a note is math on the card: it comes back as ``$x$``;
- the heading trail paperdeck adds under a first field (a last ``<div class="context">``)
  is not note text: it is dropped.

Lossy (a conflict): styles (``style=``, ``<font>``), classes, attributes and tags
paperdeck does not write (``<iframe>``, ``<figure>``, comments), an image or sound added
in Anki (not a file of the vault), an image size an embed cannot say, a formula split by
formatting, a table without one header row or with merged cells, a line break in a
heading, an edit over a note's ``%%comment%%`` or ``<!-- -->`` (Anki never showed it), and
anything else whose Markdown would not render back to the same card (``\(x\)5``: ``$x$5``
is no math).

Pure: strings in, a result out; rendering is :func:`~paperdeck.cards.render.render_field`
then :func:`~paperdeck.cards.sanitize.sanitize`, as in a build, so the caller must pass what
the build passed (media, cloze, links, figure widths).

The modules, in the order the data flows: ``html_tree`` reads HTML into a tree,
``read_inline`` and ``read_blocks`` read it into the card ``structure`` (``whitespace`` as a
browser shows it, ``tex`` for formulas); ``note_spellings`` learns how the note wrote each
formula, embed and link; ``markdown_out`` (with ``embeds``) writes Markdown, ``escapes``
keeps only the backslashes needed and ``cloze_highlights`` restores a cloze question's
highlights; ``match`` keeps the note's bytes for what Anki did not change; ``roundtrip``
checks every answer and ``convert`` tries the ways to write a field, best first;
``results`` is what comes out.
"""

from paperdeck.cards.unrender.convert import field_markdown
from paperdeck.cards.unrender.read_blocks import card_structure
from paperdeck.cards.unrender.results import Converted, Lossy, Markdown
from paperdeck.cards.unrender.structure import El, Math, Sound

__all__ = [
    "Converted",
    "El",
    "Lossy",
    "Markdown",
    "Math",
    "Sound",
    "card_structure",
    "field_markdown",
]
