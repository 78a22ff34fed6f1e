"""Obsidian's rules for embeds, links, highlights, math, tags and folders, with the real CLI
where the whole path matters (issue 14 items 4, 5, 6, 8; issue 9's media, links, marks)."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperdeck.cards.media import Embed, NoteLinker, OutsideVault, VaultIndex, find_embeds
from paperdeck.cards.render import media_kind, obsidian_url, render_field
from paperdeck.notes.tags import find_tags, front_matter_tags, header_tags, split_tag_list
from paperdeck.notes.vault import hard_link_warning, scan_vault

from conftest import cli, cli_ok, import_apkg

PNG = b"\x89PNG\r\n\x1a\n fake image"
MP3 = b"ID3 fake audio"


def deck(path: str = "cards/notes.apkg") -> tuple[list[list[str]], dict[str, bytes]]:
    """The fields of every note in a built deck, and its media by name."""
    with zipfile.ZipFile(path) as apkg:
        names = json.loads(apkg.read("media"))
        media = {name: apkg.read(index) for index, name in names.items()}
        db = Path(path).with_suffix(".anki2")
        db.write_bytes(apkg.read("collection.anki2"))
    with sqlite3.connect(db) as con:
        fields = [row[0].split("\x1f") for row in con.execute("select flds from notes")]
    db.unlink()
    return fields, media


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# --- A: images found as Obsidian finds them --------------------------------------------------


def test_angle_bracket_destination_with_a_space_is_shipped(empty_vault: Path) -> None:
    write(empty_vault / "attachments" / "my plot.png", PNG)
    write(
        empty_vault / "n.md",
        "Q: plot?\nA: ![a](<attachments/my plot.png>) and ![b](attachments/my%20plot.png)\n"
        "<!--ID: 1700000000001-->\n",
    )

    result = cli_ok("build", str(empty_vault), "--strict", "--no-write")

    assert "missing" not in result.output
    ((_, answer, _),), media = deck()
    (name,) = [n for n in media if n.startswith("my-plot-")]
    assert media[name] == PNG
    assert answer.count(f'<img src="{name}"') == 2
    assert "missing-media" not in answer


def test_partial_path_matches_a_path_suffix(empty_vault: Path) -> None:
    write(empty_vault / "attachments" / "deep" / "partial.png", PNG)
    write(empty_vault / "n.md", "Q: where?\nA: ![[deep/partial.png]] ![[eep/partial.png]]\n")

    result = cli("build", str(empty_vault), "--no-write")

    assert result.exit_code == 0, result.output
    assert "notes/n.md:2: warning: missing image 'eep/partial.png'" in result.output
    assert "'deep/partial.png'" not in result.output
    ((_, answer, _),), media = deck()
    (name,) = media
    assert f'<img src="{name}" alt="deep/partial.png">' in answer


def index_of(root: Path) -> VaultIndex:
    files, problems = scan_vault(root, ())
    assert not [p for p in problems if p.severity.value == "error"]
    return VaultIndex(root, files)


def test_suffix_lookup_prefers_the_note_folder_then_the_shallowest(tmp_path: Path) -> None:
    for rel in ("z/a/b/x.png", "y/b/x.png", "m/b/x.png", "n/b/x.png", "b/x.png.bak", "n/x.png"):
        write(tmp_path / rel, PNG)
    index = index_of(tmp_path)
    note = PurePosixPath("n/note.md")

    assert index.lookup("b/x.png", note) == PurePosixPath("n/b/x.png")  # relative to the note
    assert index.lookup("b/x.png", PurePosixPath("note.md")) == PurePosixPath("m/b/x.png")
    assert index.lookup("a/b/x.png", note) == PurePosixPath("z/a/b/x.png")
    assert index.lookup("x.png", note) == PurePosixPath("n/x.png")
    assert index.lookup("B/X.PNG", PurePosixPath("q/note.md")) == PurePosixPath("m/b/x.png")
    assert index.lookup("../b/x.png", note) is None  # a relative path: never a suffix
    assert index.lookup("./b/x.png", PurePosixPath("q/note.md")) is None  # no suffix search
    assert index.lookup("/b/x.png", note) is None


def test_a_suffix_match_that_is_a_link_out_of_the_vault_is_refused(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    write(tmp_path / "secret.png", b"private")
    (vault / "attachments" / "deep").mkdir(parents=True)
    (vault / "attachments" / "deep" / "secret.png").symlink_to(tmp_path / "secret.png")
    index = index_of(vault)

    with pytest.raises(OutsideVault, match="leaves the notes folder"):
        index.resolve(Embed("deep/secret.png", 0, False), PurePosixPath("n.md"))
    with pytest.raises(OutsideVault, match="outside the notes folder"):
        index.resolve(Embed("../secret.png", 0, True), PurePosixPath("n.md"))


def test_embeds_are_found_where_the_renderer_shows_them() -> None:
    field = (
        "a `![[code.png]]` $![[math.png]]$ %%![[comment.png]]%%\n"
        "b ![[one.png|300]] ![[note]] ![[song.mp3]]\n"
        "\n"
        "- item\n"
        '  ![alt](<two words.png> "title") ![x](https://example.org/x.png)\n'
        "\n"
        "```\n"
        "![[fenced.png]]\n"
        "```\n"
        "| a | b |\n"
        "|---|---|\n"
        "| c | ![[cell.png]] |\n"
    )
    found = find_embeds(field)

    assert [(e.target, e.line_offset, e.markdown_style) for e in found] == [
        ("one.png", 1, False),
        ("song.mp3", 1, False),
        ("two%20words.png", 4, True),
        ("cell.png", 11, False),
    ]
    assert [e.kind for e in found] == ["image", "audio", "image", "image"]
    assert found[2].shown == "'two words.png'"


def test_comments_spanning_lines_keep_later_embeds_on_their_line() -> None:
    (embed,) = find_embeds("a %%one\ntwo%% b\nc ![[x.png]]")
    assert embed.line_offset == 2


PIECES = [
    "![[a.png]]",
    "![[b.mp3|x]]",
    "![](c.png)",
    "![](<d e.png>)",
    "![x](f%20g.png 't')",
    "`",
    "$",
    "%%",
    "==",
    "[[n]]",
    "\n",
    "\n\n",
    "    ",
    "- ",
    "> ",
    "```\n",
    "|",
    "text",
    " ",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_every_embed_the_renderer_shows_was_found(pieces: list[str]) -> None:
    """The finder and the renderer cannot disagree: none shows as missing without a warning."""
    field = "".join(pieces)
    names = {embed.target: "found.png" for embed in find_embeds(field)}
    assert "missing-media" not in render_field(field, names)
    assert "missing-media" not in render_field(field, names, cloze=True)


# --- B: symlinked folders and hard links -----------------------------------------------------


def test_notes_in_a_symlinked_folder_are_read(empty_vault: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    write(outside / "linked.md", "Q: linked question?\nA: yes\n<!--ID: 1700000000101-->\n")
    write(outside / "sub" / "deeper.md", "Q: deeper?\nA: yes\n<!--ID: 1700000000102-->\n")
    (empty_vault / "papers").symlink_to(outside, target_is_directory=True)
    write(empty_vault / "own.md", "Q: own?\nA: yes\n<!--ID: 1700000000103-->\n")

    result = cli_ok("check", str(empty_vault))

    assert "linked question?" in result.output and "deeper?" in result.output
    assert "notes/papers: warning: folder link leads out of the vault" in result.output
    assert "its notes are read" in result.output


def test_folder_links_that_loop_or_repeat_are_warnings_not_hangs(empty_vault: Path) -> None:
    write(empty_vault / "real" / "n.md", "Q: once?\nA: yes\n<!--ID: 1700000000111-->\n")
    (empty_vault / "real" / "up").symlink_to(empty_vault, target_is_directory=True)
    (empty_vault / "real" / "self").symlink_to(empty_vault / "real", target_is_directory=True)
    (empty_vault / "alias").symlink_to(empty_vault / "real", target_is_directory=True)
    (empty_vault / "above").symlink_to(empty_vault.parent, target_is_directory=True)

    result = cli("build", str(empty_vault), "--no-write")

    assert result.exit_code == 0, result.output  # warnings only; no duplicate ID
    assert "duplicate" not in result.output
    out = result.output
    assert "notes/real/up: warning: folder link loops back to the vault" in out
    assert "notes/real/self: warning: folder link loops back to an enclosing folder" in out
    assert "notes/above: warning: folder link loops back to the vault or a folder above" in out
    assert "notes/alias: warning: folder link to " in out
    assert "which is read where it is in the vault: not followed" in out
    ((question, _, _),), _ = deck()
    assert question == "<p>once?</p>"


def test_two_links_to_one_outside_folder_read_it_once(empty_vault: Path, tmp_path: Path) -> None:
    outside = tmp_path / "shared"
    write(outside / "s.md", "Q: shared?\nA: yes\n<!--ID: 1700000000121-->\n")
    (empty_vault / "a").symlink_to(outside, target_is_directory=True)
    (empty_vault / "b").symlink_to(outside, target_is_directory=True)

    result = cli("build", str(empty_vault), "--no-write")

    assert result.exit_code == 0, result.output
    assert "notes/b: warning: folder " in result.output
    assert "is already read as a/: not read again" in result.output
    assert len(deck()[0]) == 1


def test_an_image_inside_a_folder_linked_from_outside_is_still_refused(
    empty_vault: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    write(outside / "fig.png", PNG)
    write(outside / "n.md", "Q: fig?\nA: ![[fig.png]]\n")
    (empty_vault / "linked").symlink_to(outside, target_is_directory=True)

    result = cli("build", str(empty_vault), "--no-write")

    assert result.exit_code == 1
    assert "notes/linked/n.md:2: error: embed 'fig.png' is a link that leaves" in result.output
    assert not Path("cards/notes.apkg").exists()


def test_hard_link_warning(tmp_path: Path) -> None:
    note = write(tmp_path / "n.md", "Q: q\nA: a\n")
    assert hard_link_warning(note, note.stat()) is None
    os.link(note, tmp_path / "other.md")
    message = hard_link_warning(note, note.stat())
    assert message == (
        "n.md is hard-linked (another name); writing its IDs by atomic rename would "
        "separate it from them"
    )
    os.link(note, tmp_path / "third.md")
    assert "(2 other names)" in (hard_link_warning(note, note.stat()) or "")


# --- C: tags by Obsidian's rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value,tags",
    [
        ("alpha beta", ["alpha", "beta"]),
        ("alpha, beta", ["alpha", "beta"]),
        ("#alpha  #beta,gamma", ["alpha", "beta", "gamma"]),
        (["alpha", "#beta", 2017, "y2017", None, " ", {"a": 1}], ["alpha", "beta", "y2017"]),
        ("2017 nested/2017 1984_", ["nested/2017", "1984_"]),
        (2017, []),
        (None, []),
    ],
)
def test_front_matter_tags(value: object, tags: list[str]) -> None:
    assert front_matter_tags(value) == tags


def test_header_tags_need_a_non_digit_but_anki_tag_lines_keep_all() -> None:
    assert header_tags("#2017 #ICLR #y2017") == ["ICLR", "y2017"]
    assert split_tag_list("2017 ICLR") == ["2017", "ICLR"]  # Obsidian_to_Anki's Anki tags


@pytest.mark.parametrize(
    "line,tags",
    [
        ("[text #intext](http://a.b) #real", ["real"]),
        ("![alt #inalt](x.png) [a](b#frag) #real", ["real"]),
        (r"[a \] #esc](u) #real", ["real"]),
        ("#2017 #y2017", ["y2017"]),
        ("$5-$10 #price", ["price"]),
        ("$x$ #after", ["after"]),
        ("[not a link #tag]", ["tag"]),
    ],
)
def test_inline_tags(line: str, tags: list[str]) -> None:
    assert find_tags(line) == tags


# --- D: prices are not math ------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,html",
    [
        ("$5-$10", "<p>$5-$10</p>"),
        ("$5/$10", "<p>$5/$10</p>"),
        ("from $5 to $10 and $x$", r"<p>from $5 to $10 and \(x\)</p>"),
        # The first `$` that could close decides, as in Obsidian: `$x$5` is text...
        ("$x$5", "<p>$x$5</p>"),
        # ...but a digit after a space, or before the opening `$`, changes nothing.
        ("$x$ 5", r"<p>\(x\) 5</p>"),
        ("2$x$", r"<p>2\(x\)</p>"),
        ("$ x$", "<p>$ x$</p>"),
        ("$x $", "<p>$x $</p>"),
        ("$$a$$5", r"<p>\[a\]5</p>"),
        (r"\$5 $y$", r"<p>$5 \(y\)</p>"),
    ],
)
def test_inline_math_follows_obsidian(source: str, html: str) -> None:
    assert render_field(source) == html


def test_prices_reach_the_card_as_text(empty_vault: Path) -> None:
    write(empty_vault / "n.md", "Q: cost?\nA: $5-$10, or $5/$10, for $n$ items\n")
    cli_ok("build", str(empty_vault), "--no-write")
    ((_, answer, _),), _ = deck()
    assert answer == r"<p>$5-$10, or $5/$10, for \(n\) items</p>"


# --- E: --deck-prefix wins over the deck template ---------------------------------------------


def deck_of_each_note(path: str) -> dict[int, str]:
    """The deck each note of a built package is in, by note id."""
    with zipfile.ZipFile(path) as apkg:
        db = Path(path).with_suffix(".anki2")
        db.write_bytes(apkg.read("collection.anki2"))
    with sqlite3.connect(db) as con:
        (decks_json,) = con.execute("select decks from col").fetchone()
        names = {int(k): v["name"] for k, v in json.loads(decks_json).items()}
        placed = {nid: names[did] for nid, did in con.execute("select nid, did from cards")}
    db.unlink()
    return placed


def test_deck_prefix_flag_wins_over_the_deck_template(empty_vault: Path, collection: Any) -> None:
    (empty_vault / "paperdeck.toml").write_text('deck = "Reading::{title}"\n')
    write(empty_vault / "n.md", "Title: Paper\n\nQ: q?\nA: a\n<!--ID: 1700000000201-->\n")
    write(
        empty_vault / "own.md",
        "---\ndeck: Mine\n---\nQ: own deck?\nA: a\n<!--ID: 1700000000202-->\n",
    )

    cli_ok("build", str(empty_vault), "--no-write", "-o", "template.apkg")
    cli_ok("build", str(empty_vault), "--no-write", "--deck-prefix", "X", "-o", "flag.apkg")

    assert deck_of_each_note("template.apkg") == {
        1700000000201: "Reading::Paper",
        1700000000202: "Mine",
    }
    import_apkg(collection, Path("flag.apkg"))
    decks = {
        nid: collection.decks.name(collection.get_note(nid).cards()[0].did)
        for nid in (1700000000201, 1700000000202)
    }
    assert decks == {1700000000201: "X::Paper", 1700000000202: "Mine"}  # front matter wins


# --- F: highlights and wikilinks --------------------------------------------------------------


@pytest.mark.parametrize(
    "source,html",
    [
        ("a ==hi **b**== c", "<p>a <mark>hi <strong>b</strong></mark> c</p>"),
        ("==a $x==y$ b==", r"<p><mark>a \(x==y\) b</mark></p>"),
        ("`==x==` a == b", "<p><code>==x==</code> a == b</p>"),
        ("== x ==", "<p>== x ==</p>"),
        ("===x===", "<p>=<mark>x</mark>=</p>"),
    ],
)
def test_highlights_are_marks(source: str, html: str) -> None:
    assert render_field(source) == html


def test_cloze_rendering_is_unchanged_and_leftover_highlights_are_marks() -> None:
    assert render_field("{{c1::$e^{x^{2}}$}} rest", cloze=True) == (
        r"<p>{{c1::\(e^{x^{2} }\)}} rest</p>"
    )
    assert render_field("{{c1::a}} ==b==", cloze=True) == "<p>{{c1::a}} <mark>b</mark></p>"


def test_wikilinks_become_obsidian_links(tmp_path: Path) -> None:
    from paperdeck.cards.note_render import source_html
    from paperdeck.notes.parse import parse_note

    for rel in ("papers/Some Note.md", "papers/here.md", "other/file.pdf"):
        write(tmp_path / rel, "x")
    here = PurePosixPath("papers/here.md")
    linker = NoteLinker(index_of(tmp_path), "My Vault", here)
    field = (
        "[[Some Note]] [[Some Note|alias]] [[Some Note#Part]] [[#Top]] "
        "[[Nowhere]] [[file.pdf]] ![[Some Note]]"
    )

    html = render_field(field, link=linker)

    url = "obsidian://open?vault=My%20Vault&amp;file=papers%2FSome%20Note"
    assert html == (
        f'<p><a class="wikilink" href="{url}">Some Note</a> '
        f'<a class="wikilink" href="{url}">alias</a> '
        f'<a class="wikilink" href="{url}">Some Note &gt; Part</a> '
        '<a class="wikilink" href="obsidian://open?vault=My%20Vault&amp;file=papers%2Fhere">'
        "Top</a> "
        '<span class="wikilink">Nowhere</span> '
        '<a class="wikilink" href="obsidian://open?vault=My%20Vault&amp;file=other%2Ffile.pdf">'
        "file.pdf</a> "
        '<span class="embed">Some Note</span></p>'
    )
    assert render_field("[[Some Note|alias]]") == '<p><span class="wikilink">alias</span></p>'
    assert linker.resolved["Nowhere"] is None
    # The same URL as the Source field's "Open in Obsidian".
    note, _ = parse_note("Q: q\nA: a\n", path="p")
    rel = PurePosixPath("papers/Some Note.md")
    assert obsidian_url("My Vault", rel).replace("&", "&amp;") in source_html(note, rel, "My Vault")


# --- G: audio and video embeds ----------------------------------------------------------------


def test_media_kinds() -> None:
    assert [media_kind(t) for t in ("a.PNG", "b.mp3", "c.M4A", "d.mp4", "e.webm", "f.pdf")] == [
        "image",
        "audio",
        "audio",
        "video",
        "video",
        None,
    ]


def test_audio_and_video_become_sounds_packed_and_imported(
    empty_vault: Path, collection: Any
) -> None:
    write(empty_vault / "test.mp3", MP3)
    write(empty_vault / "media" / "deep" / "clip.mp4", b"fake video")
    write(empty_vault / "media" / "voice note.ogg", b"fake ogg")
    write(empty_vault / "plot.png", PNG)
    write(
        empty_vault / "n.md",
        "Q: listen ![[test.mp3]]\n"
        "A: ![[deep/clip.mp4]] ![v](<media/voice note.ogg>) ![[plot.png|100]]\n"
        "<!--ID: 1700000000301-->\n",
    )

    cli_ok("build", str(empty_vault), "--strict")

    ((question, answer, _),), media = deck()
    mp3 = next(n for n in media if n.startswith("test-") and n.endswith(".mp3"))
    mp4 = next(n for n in media if n.startswith("clip-") and n.endswith(".mp4"))
    ogg = next(n for n in media if n.startswith("voice-note-") and n.endswith(".ogg"))
    png = next(n for n in media if n.endswith(".png"))
    assert (media[mp3], media[mp4]) == (MP3, b"fake video")
    assert question == f"<p>listen [sound:{mp3}]</p>"
    assert (
        answer == f'<p>[sound:{mp4}] [sound:{ogg}] <img src="{png}" alt="plot.png" width="100"></p>'
    )

    import_apkg(collection, Path("cards/notes.apkg"))
    note = collection.get_note(1700000000301)
    assert note["Question"] == f"<p>listen [sound:{mp3}]</p>"
    folder = Path(collection.media.dir())
    assert (folder / mp3).read_bytes() == MP3
    assert (folder / mp4).read_bytes() == b"fake video"
    assert list(collection.media.check().missing) == []


def test_audio_follows_the_image_rules(empty_vault: Path, tmp_path: Path) -> None:
    write(tmp_path / "private.mp3", MP3)
    (empty_vault / "out.mp3").symlink_to(tmp_path / "private.mp3")
    write(empty_vault / "n.md", "Q: q\nA: ![[gone.wav]]\n")

    missing = cli("build", str(empty_vault), "--no-write")
    assert missing.exit_code == 0, missing.output
    assert "notes/n.md:2: warning: missing" in missing.output and "'gone.wav'" in missing.output
    ((_, answer, _),), _ = deck()
    assert answer == '<p><span class="missing-media">[missing audio: gone.wav]</span></p>'
    assert cli("build", str(empty_vault), "--no-write", "--strict").exit_code == 1

    write(empty_vault / "n.md", "Q: q\nA: ![[out.mp3]]\n")
    refused = cli("build", str(empty_vault), "--no-write")
    assert refused.exit_code == 1
    assert "notes/n.md:2: error: embed 'out.mp3' is a link that leaves" in refused.output


def test_wikilinks_in_a_built_deck_follow_the_vault_as_it_changes(empty_vault: Path) -> None:
    (empty_vault / "a.md").write_text("Q: See [[Later note|the later note]]?\nA: Yes.\n")
    cli_ok("build", str(empty_vault))
    [[question, _, _]] = deck()[0]
    assert question == '<p>See <span class="wikilink">the later note</span>?</p>'  # no note yet

    (empty_vault / "Later note.md").write_text("Title: Later\n")
    cli_ok("build", str(empty_vault))  # a.md is unchanged: its cached rendering is checked
    [[question, _, _]] = deck()[0]
    url = "obsidian://open?vault=notes&amp;file=Later%20note"
    assert question == f'<p>See <a class="wikilink" href="{url}">the later note</a>?</p>'


def test_missing_audio_is_named_as_audio(empty_vault: Path) -> None:
    (empty_vault / "a.md").write_text("Q: Listen\nA: ![[talk.mp3]]\n")
    result = cli_ok("build", str(empty_vault))
    assert "notes/a.md:2: warning: missing audio 'talk.mp3'" in result.output


def test_a_hard_linked_note_keeps_its_link_and_gets_no_id(empty_vault: Path) -> None:
    note = empty_vault / "a.md"
    note.write_bytes(b"Q: Linked?\nA: Yes.\n")
    os.link(note, empty_vault.parent / "elsewhere.md")
    result = cli_ok("build", str(empty_vault))
    assert "notes/a.md:1: warning: card has no ID yet (not written: a.md is hard-linked" in (
        result.output
    )
    assert note.read_bytes() == b"Q: Linked?\nA: Yes.\n"
    assert os.stat(note).st_nlink == 2


@pytest.mark.parametrize(
    ("head", "tags"),
    [
        ("Tags: #2017 #deep_learning", ("deep_learning",)),
        ("---\ntags: alpha beta\n---", ("alpha", "beta")),
        ("---\ntags: alpha, beta\n---", ("alpha", "beta")),
        ("---\ntags:\n  - 2017\n  - y2017\n---", ("y2017",)),
    ],
)
def test_note_tags_follow_obsidian(head: str, tags: tuple[str, ...]) -> None:
    from paperdeck.notes.parse import parse_note

    note, problems = parse_note(f"{head}\n\nQ: a\nA: b\n", path="n.md")
    assert not problems
    assert note.meta.tags == tags


def test_a_cloze_paragraph_with_prices_is_no_math(empty_vault: Path) -> None:
    (empty_vault / "a.md").write_text("It cost $5 to {{c1::$10}} here.\n")
    cli_ok("build", str(empty_vault))
    [[text, _, _]] = deck()[0]
    assert "{{c1::$10}}" in text
