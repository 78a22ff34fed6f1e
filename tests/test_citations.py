"""Citations: a note names its paper by key, the vault's BibTeX files (a Better BibTeX export
as it is) give the card's Source line its authors, year, venue and links, and page
references open the PDF at that page. Checked on a real BibTeX file, through the real CLI
and a real Anki collection."""

from __future__ import annotations

import os
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from paperdeck.cards.sanitize import sanitize
from paperdeck.citations.bibtex import BibEntry, decode_entry, read_bibtex
from paperdeck.citations.links import (
    VaultPlace,
    arxiv_id,
    attachments,
    doi_url,
    first_pdf,
    pdf_url,
    zotero_url,
)
from paperdeck.notes.citekey import split_title
from paperdeck.notes.parse import parse_note

from conftest import cli, cli_ok, import_apkg

FIXTURES = Path(__file__).parent / "fixtures" / "citations"
VAULT = FIXTURES / "vault"
REFS = VAULT / "refs.bib"
JANG = "jangCategoricalReparameterizationGumbelSoftmax2017"
JANG_PDF = "Jang et al. - 2017 - Categorical Reparameterization.pdf"


def entry(key: str, bib: Path = REFS) -> BibEntry:
    raw = read_bibtex(bib.read_text(encoding="utf-8")).entries[key]
    decoded = decode_entry(raw)
    assert isinstance(decoded, BibEntry), decoded
    return decoded


# -- reading BibTeX ---------------------------------------------------------------------------


def test_every_entry_of_the_export_is_read_at_its_line() -> None:
    parsed = read_bibtex(REFS.read_text(encoding="utf-8"))
    assert parsed.problems == ()
    lines = {key: raw.line for key, raw in parsed.entries.items()}
    assert lines == {
        "godelUberFormalUnentscheidbare1931": 1,
        JANG: 13,
        "devlinBERTPretrainingDeep2019": 28,
        "erdosRandomGraphs1959": 41,
        "vandermaatenVisualizingDataUsing2008": 51,
        "vaswani2017attention": 62,
        "maddisonConcreteDistributionContinuous2017": 69,
        "williamsSimpleStatisticalGradientfollowing1992": 83,
    }
    assert parsed.entries["devlinBERTPretrainingDeep2019"].entry_type == "inproceedings"


def test_latex_accents_and_protecting_braces_become_unicode_text() -> None:
    godel = entry("godelUberFormalUnentscheidbare1931")
    assert godel.title == (
        "Über formal unentscheidbare Sätze der Principia Mathematica und verwandter Systeme I"
    )
    assert godel.authors == ("Kurt Gödel",)
    assert godel.get("journal") == "Monatshefte für Mathematik und Physik"
    bert = entry("devlinBERTPretrainingDeep2019")
    assert bert.title == (
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    )
    assert bert.get("booktitle") == (
        "Proceedings of the 2019 Conference of the North American Chapter of the "
        "Association for Computational Linguistics"
    )
    assert entry("erdosRandomGraphs1959").authors == ("Paul Erdős", "Alfréd Rényi")
    assert entry("vandermaatenVisualizingDataUsing2008").authors == (
        "Laurens van der Maaten",
        "Geoffrey Hinton",
    )
    assert "Łukasz Kaiser" in entry("vaswani2017attention").authors


def test_biblatex_entries_as_better_biblatex_writes_them() -> None:
    concrete = entry("maddisonConcreteDistributionContinuous2017")
    assert concrete.entry_type == "online"
    assert concrete.title == (
        "The Concrete Distribution: A Continuous Relaxation of Discrete Random Variables"
    )
    assert concrete.authors == ("Chris J. Maddison", "Andriy Mnih", "Yee Whye Teh")
    assert (concrete.get("date"), arxiv_id(concrete.fields)) == ("2017-03-05", "1611.00712")
    williams = entry("williamsSimpleStatisticalGradientfollowing1992")
    assert williams.get("journaltitle") == (
        "Machine Learning \u2013 Special Issue on Reinforcement Learning"
    )


def test_identifiers_and_paths_are_kept_as_written() -> None:
    """LaTeX decoding would turn Better BibTeX's escaped Windows path into something else."""
    erdos = entry("erdosRandomGraphs1959")
    assert erdos.get("file") == (
        r"Erdos and Renyi - 1959.pdf:C\:\\Users\\reader\\Zotero\\storage\\ABCD1234"
        r"\\Erdos and Renyi - 1959.pdf:application/pdf"
    )
    assert entry(JANG).get("doi") == "10.48550/arXiv.1611.01144"


def test_a_broken_file_keeps_its_good_entries_and_names_the_bad_lines() -> None:
    parsed = read_bibtex((VAULT / "broken.bib").read_text(encoding="utf-8"))
    assert sorted(parsed.entries) == ["afterTheBreak2022", "badNames2020"]
    assert [(p.line, p.key) for p in parsed.problems] == [(7, "truncated2021"), (19, None)]
    assert "could not be read" in parsed.problems[0].message
    assert parsed.problems[1].message == (
        "duplicate key @afterTheBreak2022 (first at line 13): the first entry is used"
    )
    assert "Too many commas" in str(decode_entry(parsed.entries["badNames2020"]))
    later = decode_entry(parsed.entries["afterTheBreak2022"])
    assert isinstance(later, BibEntry)
    assert later.title == "Read Although the Entry Above Is Broken"


def test_hostile_bibtex_is_a_problem_never_an_exception() -> None:
    assert read_bibtex("\x00 @@ {{ }").entries == {}
    twice = read_bibtex("\n@article{d, title={a}, title={b}}\n").problems
    assert [(p.line, p.message, p.key) for p in twice] == [
        (2, "entry could not be read: title given twice", "d")
    ]
    deep = read_bibtex("@article{n, title={" + "{" * 5000 + "x" + "}" * 5000 + "}}\n")
    assert isinstance(decode_entry(deep.entries["n"]), str)  # too deep to decode: broken


def test_reading_a_broken_file_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """bibtexparser logs what it cannot read; the problems come back as data instead."""
    read_bibtex("@article{cut,\n  title = {never closed\n")
    assert capfd.readouterr() == ("", "")


# -- links -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            "Full Text PDF:/home/r/Zotero/storage/A1/Paper.pdf:application/pdf",
            [("/home/r/Zotero/storage/A1/Paper.pdf", "application/pdf")],
        ),
        (
            "Full Text PDF:/z/p.pdf:application/pdf;Snapshot:/z/s.html:text/html",
            [("/z/p.pdf", "application/pdf"), ("/z/s.html", "text/html")],
        ),
        (
            r"x.pdf:C\:\\Users\\r\\x.pdf:application/pdf",
            [(r"C:\Users\r\x.pdf", "application/pdf")],
        ),
        ("/home/r/only a path.pdf", [("/home/r/only a path.pdf", "")]),
        (r"C:\Users\r\unescaped.pdf", [(r"C:\Users\r\unescaped.pdf", "")]),
        (r"semi\;colon:/z/a\;b.pdf:application/pdf", [("/z/a;b.pdf", "application/pdf")]),
    ],
)
def test_file_fields_as_better_bibtex_writes_them(
    field: str, expected: list[tuple[str, str]]
) -> None:
    assert attachments(field) == expected


def test_the_first_pdf_attachment_is_the_paper() -> None:
    assert first_pdf("Snapshot:/z/s.html:text/html;Full:/z/p.pdf:application/pdf") == "/z/p.pdf"
    assert first_pdf("Snapshot:/z/s.html:text/html") is None


def test_arxiv_ids_are_found_where_exports_put_them() -> None:
    assert arxiv_id({"eprint": "1611.01144", "archiveprefix": "arXiv"}) == "1611.01144"
    assert arxiv_id({"eprint": "hep-th/9901001v2", "eprinttype": "arxiv"}) == "hep-th/9901001v2"
    assert arxiv_id({"eprint": "1611.01144"}) is None  # an eprint of another archive
    assert arxiv_id({"url": "http://arxiv.org/abs/1706.03762v5"}) == "1706.03762v5"
    assert arxiv_id({"doi": "10.48550/arXiv.1611.01144"}) == "1611.01144"
    assert arxiv_id({"journal": "arXiv preprint arXiv:1706.03762"}) == "1706.03762"
    assert arxiv_id({"journal": "Nature"}) is None


def test_doi_and_zotero_links() -> None:
    assert doi_url("10.1007/BF01700692") == "https://doi.org/10.1007/BF01700692"
    assert doi_url("https://doi.org/10.1/x") == "https://doi.org/10.1/x"
    assert doi_url("doi:10.1002/(SICI)1097") == "https://doi.org/10.1002/(SICI)1097"
    assert doi_url("not a doi") is None
    assert zotero_url("smith:2020 a") == "zotero://select/items/@smith:2020%20a"


def test_a_pdf_inside_the_vault_opens_in_obsidian_and_one_outside_as_a_file() -> None:
    place = VaultPlace("My Vault", ("/home/r/vault", "/data/vault"))
    assert pdf_url("/data/vault/papers/a b.pdf", place, 5) == (
        "obsidian://open?vault=My%20Vault&file=papers%2Fa%20b.pdf%23page%3D5"
    )
    assert pdf_url("/home/r/vault/a.pdf", place) == "obsidian://open?vault=My%20Vault&file=a.pdf"
    assert pdf_url("/home/r/Zotero/a b.pdf", place, 5) == "file:///home/r/Zotero/a%20b.pdf#page=5"
    assert pdf_url(r"C:\Users\r\x.pdf", place) == "file:///C:/Users/r/x.pdf"
    assert pdf_url("/home/r/vault-2/a.pdf", place) == "file:///home/r/vault-2/a.pdf"


def test_the_sanitizer_keeps_zotero_links_and_file_links_to_pdfs_only() -> None:
    kept = [
        "zotero://select/items/@key",
        "file:///home/r/Zotero/a%20b.pdf#page=5",
        "file:///C:/Users/r/X.PDF",
    ]
    for url in kept:
        assert sanitize(f'<a href="{url}">x</a>') == f'<a href="{url}">x</a>'
    for url in ("file:///home/r/run.sh", "file:///x.pdf.exe", "file:///etc/passwd#.pdf"):
        assert sanitize(f'<a href="{url}">x</a>') == "<a>x</a>"
    assert sanitize('<img src="file:///x.pdf">') == "<img>"  # a link, never an image
    assert sanitize('<a href="javascript:alert(1)//x.pdf">x</a>') == "<a>x</a>"


# -- the note's key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("@jang2017categorical", ("", "jang2017categorical")),
        (
            "Categorical reparameterization @jang2017",
            ("Categorical reparameterization", "jang2017"),
        ),
        ("@smith:2020-a. Its title", ("Its title", "smith:2020-a")),
        ("Mail me at a@b.org", ("Mail me at a@b.org", None)),
        ("Learning @ scale", ("Learning @ scale", None)),
    ],
)
def test_a_key_in_the_title_line(title: str, expected: tuple[str, str | None]) -> None:
    assert split_title(title) == expected


def test_front_matter_and_title_keys_are_read_at_their_lines() -> None:
    note, problems = parse_note(
        '---\ntags: [a]\ncitekey: "@jang2017"\n---\nQ: q?\nA: a\n', path="n.md"
    )
    assert (note.meta.citekey, note.meta.citekey_line, problems) == ("jang2017", 3, [])
    note, _ = parse_note("---\ncitekey: x\n---\nTitle: Kept @fromTitle\n", path="n.md")
    assert (note.meta.title, note.meta.citekey, note.meta.citekey_line) == (
        "Kept",
        "fromTitle",
        4,
    )
    note, problems = parse_note("---\ncitekey: [a, b]\n---\n", path="n.md")
    assert note.meta.citekey is None
    assert [str(p) for p in problems] == [
        "n.md:2: warning: front matter 'citekey' must be one citation key, such as "
        "jang2017categorical"
    ]


# -- through the CLI and Anki ------------------------------------------------------------------


@pytest.fixture
def cited(empty_vault: Path) -> Path:
    """A copy of the fixture vault (notes citing entries of refs.bib) as ``./notes``."""
    shutil.copytree(VAULT, empty_vault, dirs_exist_ok=True)
    return empty_vault


def notes_in(apkg: Path) -> dict[int, tuple[list[str], str]]:
    """Each note's fields and tags, as the deck holds them."""
    with zipfile.ZipFile(apkg) as package:
        data = package.read("collection.anki2")
    copy = apkg.with_suffix(".read.anki2")
    copy.write_bytes(data)
    with sqlite3.connect(copy) as db:
        rows = db.execute("select id, flds, tags from notes").fetchall()
    copy.unlink()
    return {nid: (fields.split("\x1f"), tags) for nid, fields, tags in rows}


def test_the_source_line_shows_the_entry_in_real_anki(cited: Path, collection: Any) -> None:
    result = cli_ok("build", str(cited))
    import_apkg(collection, Path("cards/notes.apkg"))
    note = {nid: collection.get_note(nid) for nid in collection.find_notes("")}
    vault = f"obsidian://open?vault={cited.name}&amp;file="
    pdf = (
        vault
        + "attachments%2FJang%20et%20al.%20-%202017%20-%20Categorical%20Reparameterization.pdf"
    )

    gumbel = note[1700000000201]
    assert gumbel["Source"] == (
        '<a href="https://doi.org/10.48550/arXiv.1611.01144">'
        "Categorical Reparameterization with Gumbel-Softmax</a>"
        " · Eric Jang, Shixiang Gu, Ben Poole · 2017"
        ' · <a href="https://doi.org/10.48550/arXiv.1611.01144">DOI</a>'
        ' · <a href="https://arxiv.org/abs/1611.01144">arXiv</a>'
        f' · <a href="{pdf}">PDF</a>'
        f' · <a href="zotero://select/items/@{JANG}">Zotero</a>'
        f' · <a href="{vault}papers%2Fgumbel">Open in Obsidian</a>'
    )
    deck = collection.decks.name(gumbel.cards()[0].did)
    assert deck == "Papers::Categorical Reparameterization with Gumbel-Softmax"
    assert f'(<a href="{pdf}%23page%3D3">p. 3</a>)' in gumbel["Question"]
    assert f'(<a href="{pdf}%23page%3D3">pp. 3-4</a>)' in gumbel["Answer"]
    assert f'href="{pdf}%23page%3D7">{JANG_PDF}, p. 7</a>' in gumbel["Answer"]
    assert "<code>p. 9</code>" in gumbel["Answer"] and r"\(p. 9\)" in gumbel["Answer"]

    bert = note[1700000000202]["Source"]
    zotero_pdf = (
        "file:///home/reader/Zotero/storage/UJ8R2D3W/Devlin%20et%20al.%20-%202019%20-%20BERT.pdf"
    )
    assert (
        " · Jacob Devlin et al. · 2019 · Proceedings of the 2019 Conference of the North " in bert
    )
    assert f'<a href="{zotero_pdf}">PDF</a>' in bert
    assert f'<a href="{zotero_pdf}#page=4">p. 4</a>' in note[1700000000202]["Question"]

    godel = note[1700000000203]["Source"]  # the note's own title, authors and year win
    assert godel.startswith(
        '<a href="https://doi.org/10.1007/BF01700692">Incompleteness, as I call it</a>'
        " · Kurt Gödel · 1930 · Monatshefte für Mathematik und Physik · "
    )
    assert "(p. 5)" in note[1700000000203]["Question"]  # no PDF, no arXiv: no page link

    erdos = note[1700000000204]
    windows_pdf = (
        "file:///C:/Users/reader/Zotero/storage/ABCD1234/Erdos%20and%20Renyi%20-%201959.pdf"
    )
    assert erdos["Source"].startswith("Random graphs · Paul Erdős, Alfréd Rényi · 1959 · Public")
    assert f'<a href="{windows_pdf}">PDF</a>' in erdos["Source"]

    tsne = note[1700000000205]["Source"]
    assert tsne.startswith('<a href="http://jmlr.org/papers/v9/vandermaaten08a.html">')
    assert "Laurens van der Maaten, Geoffrey Hinton · 2008 · Journal of Machine" in tsne

    concrete = note[1700000000211]
    assert concrete["Source"].startswith(
        '<a href="http://arxiv.org/abs/1611.00712">The Concrete Distribution: A Continuous '
        "Relaxation of Discrete Random Variables</a> · Chris J. Maddison, Andriy Mnih, "
        'Yee Whye Teh · 2017 · <a href="https://doi.org/10.48550/arXiv.1611.00712">DOI</a> · '
        '<a href="https://arxiv.org/abs/1611.00712">arXiv</a> · <a href="file:///home/reader/'
        "Zotero/storage/QW3E8R7T/Maddison%20et%20al.%20-%202017%20-%20The%20Concrete%20"
        'Distribution.pdf">PDF</a> · '
    )

    attention = note[1700000000206]
    assert " · Ashish Vaswani et al. · 2017 · " in attention["Source"]
    assert '<a href="https://arxiv.org/pdf/1706.03762#page=2">p. 2</a>' in attention["Question"]

    assert set(note[1700000000203].tags) == {"author::Kurt_Gödel"}  # the note's own authors
    assert set(gumbel.tags) == {"ICLR"}  # not the entry's
    assert "Traceback" not in result.output


def test_unknown_keys_and_broken_entries_are_warnings_at_their_lines(cited: Path) -> None:
    result = cli_ok("build", str(cited))
    warnings = sorted(line for line in result.output.splitlines() if ": warning: " in line)
    assert warnings == [
        "notes/broken.bib:19: warning: duplicate key @afterTheBreak2022 (first at line 13): "
        "the first entry is used",
        "notes/broken.bib:7: warning: entry could not be read: Unexpected block start: "
        "`@article`. Was still looking for field-value closing `}`",
        "notes/papers/bad-names.md:1: warning: citation key @badNames2020: its entry at "
        "notes/broken.bib:1 is broken (Cannot split the following name "
        "`Doe, John, Jr, Something Else` into parts: Too many commas)",
        "notes/papers/broken-entry.md:3: warning: citation key @truncated2021: its entry at "
        "notes/broken.bib:7 could not be read",
        "notes/papers/problems.md:1: warning: unknown citation key @noSuchKey2024 "
        "(not in notes/refs.bib, notes/broken.bib)",
    ]
    assert cli("build", str(cited), "--strict", "-o", "cards/strict.apkg").exit_code == 1


def test_a_missing_bibliography_is_a_warning_naming_it(cited: Path) -> None:
    (cited / "paperdeck.toml").write_text('bibliography = ["refs.bib", "gone.bib"]\n')
    result = cli_ok("check", str(cited))
    assert "notes/gone.bib: warning: cannot read bibliography: No such file or directory" in (
        result.output
    )


def test_a_key_without_a_bibliography_is_a_warning_and_the_card_still_builds(
    cited: Path,
) -> None:
    (cited / "paperdeck.toml").unlink()
    result = cli_ok("build", str(cited))
    assert (
        "notes/papers/bert.md:2: warning: citation key @devlinBERTPretrainingDeep2019 is not "
        'looked up: no bibliography is configured (bibliography = ["refs.bib"] in '
        "paperdeck.toml)"
    ) in result.output
    fields, _ = notes_in(Path("cards/notes.apkg"))[1700000000202]
    link = "obsidian://open?vault=notes&amp;file=papers%2Fbert"
    assert fields[2] == f'bert · <a href="{link}">Open in Obsidian</a>'


def test_notes_without_a_key_are_built_exactly_as_before(cited: Path) -> None:
    """The same note, with and without a bibliography in the vault: the same fields."""
    cli_ok("build", str(cited), "-o", "cards/with.apkg")
    with_bib = notes_in(Path("cards/with.apkg"))[1700000000210]
    (cited / "paperdeck.toml").unlink()
    for other in cited.glob("papers/*.md"):
        if other.name != "no-key.md":
            other.unlink()
    cli_ok("build", str(cited), "-o", "cards/without.apkg")
    assert notes_in(Path("cards/without.apkg"))[1700000000210] == with_bib
    assert with_bib[0][0] == "<p>Is p. 5 linked here?</p>"


def test_the_example_vault_builds_the_same_deck_with_a_bibliography(vault: Path) -> None:
    """The example note names no key: configuring a bibliography changes nothing in it."""
    cli_ok("build", str(vault), "-o", "cards/plain.apkg")
    shutil.copy(REFS, vault / "refs.bib")
    (vault / "paperdeck.toml").write_text('bibliography = ["refs.bib"]\n')
    cli_ok("build", str(vault), "-o", "cards/cited.apkg")
    assert Path("cards/plain.apkg").read_bytes() == Path("cards/cited.apkg").read_bytes()


def test_a_configured_page_pattern(cited: Path) -> None:
    (cited / "paperdeck.toml").write_text(
        "bibliography = [\"refs.bib\"]\npage_pattern = '\\bpage (?P<page>\\d+)'\n"
    )
    (cited / "papers" / "gumbel.md").write_text(
        f"Title: @{JANG}\n\nQ: What is on page 12, not p. 3?\nA: x\n<!--ID: 1700000000201-->\n"
    )
    cli_ok("build", str(cited))
    question = notes_in(Path("cards/notes.apkg"))[1700000000201][0][0]
    assert question.startswith("<p>What is on <a href=")
    assert '%23page%3D12">page 12</a>, not p. 3?</p>' in question


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("'['", "is not a valid regular expression"),
        ("'p\\. \\d+'", "needs a group for the page number"),
        ("'(\\d*)'", "needs a group for the page number"),
        ("5", "must be a regular expression"),
    ],
)
def test_a_bad_page_pattern_is_a_clean_error(cited: Path, value: str, why: str) -> None:
    (cited / "paperdeck.toml").write_text(f"page_pattern = {value}\n")
    result = cli("build", str(cited))
    assert result.exit_code == 1
    assert why in result.output


def test_a_bad_bibliography_setting_is_a_clean_error(cited: Path) -> None:
    (cited / "paperdeck.toml").write_text("bibliography = [1]\n")
    result = cli("build", str(cited))
    assert result.exit_code == 1
    assert "'bibliography' must be a list of BibTeX file paths" in result.output


def test_a_bibliography_outside_the_vault_and_not_utf8(cited: Path) -> None:
    outside = cited.parent / "library.bib"
    text = (VAULT / "refs.bib").read_text(encoding="utf-8")
    outside.write_bytes(text.replace("Poole, Ben", "P\xf6ole, Ben").encode("latin-1"))
    (cited / "paperdeck.toml").write_text(f'bibliography = ["{os.fspath(outside)}"]\n')
    result = cli_ok("build", str(cited))
    line = text[: text.index("Poole, Ben")].count("\n") + 1
    assert f"library.bib:{line}: warning: bibliography is not valid UTF-8" in result.output
    source = notes_in(Path("cards/notes.apkg"))[1700000000201][0][2]
    assert "Eric Jang, Shixiang Gu, Ben P\ufffdole · 2017" in source
