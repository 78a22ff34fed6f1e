"""``paperdeck report`` and ``check --collection`` against a real collection with a review
history made through Anki's scheduler (:mod:`study_history`).

Every number of the report is checked against the collection read independently: SQL on
the review log and the cards, and Anki's own searches (``is:due``, ``prop:due<0``,
``tag:leech``); the leeches' ``path:line`` against the note files' text. The collection must
come out of every command byte for byte as it went in.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from paperdeck.config import load_config
from paperdeck.figures.display import read_figure_display
from paperdeck.report.model import CardRow, CollectionRows, Paper, PaperCard, ReviewRow
from paperdeck.report.stats import (
    calendar_start,
    is_leech,
    papers_of,
    study_report,
)
from study_history import (
    ADAM,
    ADDED_LATER,
    ATTENTION,
    BATCHNORM,
    NOT_SYNCED,
    studied_collection,
)

from conftest import cli, cli_ok, opened

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def studied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The work folder (``notes/``, ``anki/collection.anki2``) after 60 days of study."""
    work = tmp_path_factory.mktemp("studied")
    _, collection = studied_collection(work)
    return work, collection


@pytest.fixture
def work(studied: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The studied work folder as the current directory (notes show as ``notes/...``)."""
    monkeypatch.chdir(studied[0])
    return studied[0]


@pytest.fixture
def col_file(studied: tuple[Path, Path]) -> Path:
    return studied[1]


# -- what the collection and the notes say, read independently ------------------------------


def card_places(notes: Path) -> dict[int, tuple[str, int]]:
    """Each ID in the note files, with the path and first line of its card's paragraph."""
    places: dict[int, tuple[str, int]] = {}
    for file in sorted(notes.rglob("*.md")):
        lines = file.read_text(encoding="utf-8").splitlines()
        start = 1
        for number, line in enumerate(lines, 1):
            if not line.strip():
                start = number + 1
            found = re.fullmatch(r"<!--ID: (\d+)-->", line.strip())
            if found:
                places[int(found[1])] = (f"notes/{file.relative_to(notes).as_posix()}", start)
    return places


def ids_of(notes: Path, rel: str) -> list[int]:
    return [i for i, (path, _) in card_places(notes).items() if path == f"notes/{rel}"]


def in_list(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def expected(col: Any, notes: Path, rel: str) -> dict[str, Any]:
    """One paper's numbers, from SQL on the collection and Anki's own searches."""
    ids = ids_of(notes, rel)
    nids = in_list(ids)
    cards = f"select id from cards where nid in ({nids})"
    cutoff, today = col.sched.day_cutoff, col.sched.today
    since = (cutoff - 30 * 86_400) * 1000  # the last 30 Anki days, today included
    reviews, passed = col.db.first(
        f"select count(), coalesce(sum(ease > 1), 0) from revlog where type = 1 and ease > 0 "
        f"and id >= ? and id < ? and cid in ({cards})",
        since,
        cutoff * 1000,
    )
    due_sql = col.db.scalar(
        f"select count() from cards where nid in ({nids}) and ((queue in (2, 3) and "
        f"(case when odue then odue else due end) <= ?) or (queue in (1, 4) and due < ?))",
        today,
        cutoff,
    )
    due_anki = len(col.find_cards(f"nid:{nids} is:due"))
    assert due_sql == due_anki  # no card is in learning at the end: the two definitions agree
    return {
        "cards": col.db.scalar(f"select count() from cards where nid in ({nids})"),
        "due": due_anki,
        "overdue": len(col.find_cards(f"nid:{nids} prop:due<0")),
        "reviews": reviews,
        "passed": passed,
        "lapses": col.db.scalar(f"select sum(lapses) from cards where nid in ({nids})"),
    }


def anki_leeches(col: Any, notes: Path) -> set[str]:
    """``path:line`` of every vault card whose note Anki would call a leech: tagged, or a
    card with at least its deck options' ``leechFails`` lapses."""
    places = card_places(notes)
    leeches = {int(n) for n in col.find_notes("tag:leech")}
    for cid in col.find_cards(""):
        card = col.get_card(cid)
        options = col.decks.config_dict_for_deck_id(card.odid or card.did)
        if card.lapses >= options["lapse"]["leechFails"] > 0:
            leeches.add(card.nid)
    return {f"{places[n][0]}:{places[n][1]}" for n in leeches if n in places}


def state(path: Path) -> dict[str, Any]:
    """The collection file's bytes and times, and everything beside it."""
    status = path.stat()
    return {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "mtime": status.st_mtime_ns,
        "size": status.st_size,
        "beside": sorted(str(p.relative_to(path.parent)) for p in path.parent.rglob("*")),
    }


def revlog(path: Path) -> list[tuple[int, ...]]:
    with opened(path) as col:
        return [tuple(row) for row in col.db.all("select * from revlog order by id")]


@pytest.fixture
def unchanged(col_file: Path) -> Iterator[None]:
    """The test's commands leave the collection exactly as they found it."""
    rows = revlog(col_file)
    before = state(col_file)
    yield
    assert state(col_file) == before
    assert revlog(col_file) == rows


# -- the report ------------------------------------------------------------------------------


def test_each_paper_s_numbers_are_the_review_log_s(work: Path, col_file: Path) -> None:
    from paperdeck.build import read_vault
    from paperdeck.report.make import read_report

    notes = work / "notes"
    with opened(col_file) as col:
        wanted = {rel: expected(col, notes, rel) for rel in (ATTENTION, BATCHNORM, ADAM)}
        leeches = anki_leeches(col, notes)
    config = load_config(notes)
    report = read_report(read_vault(notes, config), col_file, config)

    got = {str(p.paper.rel): {k: getattr(p, k) for k in wanted[ATTENTION]} for p in report.papers}
    nothing = {"cards": 0, "due": 0, "overdue": 0, "reviews": 0, "passed": 0, "lapses": 0}
    assert got == {**wanted, NOT_SYNCED: nothing}
    # The history is not trivial: every number is there to be wrong.
    assert all(w["reviews"] > 0 and w["cards"] > 0 for w in wanted.values())
    assert sum(w["overdue"] for w in wanted.values()) > 0
    assert any(w["passed"] < w["reviews"] for w in wanted.values())
    assert [str(p.paper.rel) for p in report.papers] == [ATTENTION, BATCHNORM, ADAM, NOT_SYNCED]
    # ADDED_LATER and the paper written after the last sync: not in Anki
    assert [p.not_in_anki for p in report.papers] == [1, 0, 0, 1]
    assert report.papers[-1].retention is None
    assert report.other_cards == 1  # the Default deck's own note
    assert (
        {leech.where for leech in report.leeches}
        == leeches
        == {
            f"notes/{ATTENTION}:13",  # always forgotten: tagged and suspended by Anki at 8
            f"notes/{BATCHNORM}:13",  # its deck's threshold is 3; the tag was removed since
            f"notes/{ADAM}:20",  # tagged by hand, 1 lapse
        }
    )
    by_place = {leech.where: leech for leech in report.leeches}
    attention = by_place[f"notes/{ATTENTION}:13"]
    assert (attention.lapses, attention.threshold, attention.tagged, attention.suspended) == (
        8,
        8,
        True,
        True,
    )
    batchnorm = by_place[f"notes/{BATCHNORM}:13"]
    assert (batchnorm.lapses, batchnorm.threshold, batchnorm.tagged) == (3, 3, False)
    assert batchnorm.question == "Name one problem of batch normalization with small batches."
    adamax = by_place[f"notes/{ADAM}:20"]
    assert adamax.tagged and adamax.lapses < adamax.threshold == 8
    # Adam's first card lapsed 4 times: under its deck's 8, so no leech (a threshold of 3,
    # the batch-norm deck's, would make it one).
    with opened(col_file) as col:
        [first] = [i for i, p in card_places(notes).items() if p == (f"notes/{ADAM}", 9)]
        assert col.db.scalar("select lapses from cards where nid = ?", first) == 4
    assert adamax.url == "obsidian://open?vault=notes&file=papers%2FAdam"


def test_load_and_calendar_are_the_collection_s(work: Path, col_file: Path) -> None:
    from paperdeck.build import read_vault
    from paperdeck.report.make import read_report

    notes = work / "notes"
    config = load_config(notes)
    report = read_report(read_vault(notes, config), col_file, config)
    ours = in_list(list(card_places(notes)))
    with opened(col_file) as col:
        today, cutoff = col.sched.today, col.sched.day_cutoff
        load = [0] * 30
        for (days,) in col.db.all(
            f"select max(0, due - ?) from cards where nid in ({ours}) and queue in (2, 3)", today
        ):
            if days < 30:
                load[days] += 1
        start = calendar_start(report.today_date)
        span = (report.today_date - start).days + 1
        per_day = dict(
            col.db.all(
                f"select (? - 1 - id) / {DAY_MS}, count() from revlog where ease > 0 and cid in "
                f"(select id from cards where nid in ({ours})) group by 1",
                cutoff * 1000,
            )
        )
    assert list(report.load) == load and sum(load) > 0
    assert [d for d, _ in report.calendar] == [start + timedelta(days=i) for i in range(span)]
    assert [n for _, n in report.calendar] == [per_day.get(span - 1 - i, 0) for i in range(span)]
    assert report.calendar[-1] == (report.today_date, per_day[0])  # Adam's reviews of today
    assert sum(n for _, n in report.calendar) == sum(per_day.values())  # all 60 days fit


def test_report_command_writes_the_page_and_prints_the_summary(
    work: Path, col_file: Path, unchanged: None
) -> None:
    notes = work / "notes"
    with opened(col_file) as col:
        wanted = [expected(col, notes, rel) for rel in (ATTENTION, BATCHNORM, ADAM)]
    total = {key: sum(w[key] for w in wanted) for key in wanted[0]}
    page = work / "out" / "report.html"

    result = cli_ok("report", "notes", "--collection", str(col_file), "-o", str(page), "--no-open")
    adamax = lapses(wanted_lapses(col_file, notes, ADAM, 20))

    retention = round(100 * total["passed"] / total["reviews"])
    assert result.output.splitlines() == [
        f"Wrote {page}: 4 papers, {total['cards']} cards: {total['due']} due today "
        f"({total['overdue']} overdue), retention {retention} % ({total['passed']} of "
        f"{total['reviews']} reviews in 30 days), {total['lapses']} lapses, 3 leeches",
        f"notes/{ATTENTION}:13: leech: 8 lapses (threshold 8), tagged leech, suspended",
        f"notes/{BATCHNORM}:13: leech: 3 lapses (threshold 3)",
        f"notes/{ADAM}:20: leech: {adamax} (threshold 8), tagged leech",
    ]
    text = page.read_text(encoding="utf-8")
    assert text.count('<article class="paper"') == 4
    for rel in (ATTENTION, BATCHNORM, ADAM, NOT_SYNCED):
        assert f"notes/{rel}".replace("&", "&amp;") in text
    assert '<span class="where">notes/papers/Adam.md:20</span>' in text
    assert 'href="obsidian://open?vault=notes&amp;file=papers%2FAdam"' in text
    assert text.count('<img src="data:image/png;base64,') == 3
    assert "Batch Normalization: Accelerating Deep Network Training" in text


def lapses(count: int) -> str:
    return f"{count} lapse{'' if count == 1 else 's'}"


def wanted_lapses(col_file: Path, notes: Path, rel: str, line: int) -> int:
    places = card_places(notes)
    [nid] = [i for i, p in places.items() if p == (f"notes/{rel}", line)]
    with opened(col_file) as col:
        return int(col.db.scalar("select max(lapses) from cards where nid = ?", nid))


def test_the_page_s_plots_are_drawn_to_be_read_on_a_phone(work: Path, col_file: Path) -> None:
    page = work / "plots.html"
    cli_ok("report", "notes", "--collection", str(col_file), "-o", str(page), "--no-open")
    uris = re.findall(r'<img src="data:image/png;base64,([^"]+)" width="(\d+)"', page.read_text())
    assert len(uris) == 3
    shown_on_phone = 390 - 2 * 16  # the page's padding
    for encoded, width in uris:
        png = work / "plot.png"
        png.write_bytes(base64.b64decode(encoded))
        display = read_figure_display(png)
        assert display is not None
        assert display.css_width == int(width) <= shown_on_phone  # never shrunk on a phone
        assert display.pixel_width == 2 * display.css_width - 1  # 3.6 in at 192 dpi: 691 px
        # Its smallest text, as shown, is at least 11 CSS pt (96 px to the inch).
        assert display.text_css_px(shown_on_phone) >= 11 * 96 / 72 - 0.1


def test_the_figures_draw_only_texts_of_at_least_11_points(work: Path, col_file: Path) -> None:
    from paperdeck.build import read_vault
    from paperdeck.figures.text_sizes import text_sizes
    from paperdeck.report.make import read_report
    from paperdeck.report.plots import (
        _style,
        calendar_figure,
        load_figure,
        retention_figure,
    )

    notes = work / "notes"
    config = load_config(notes)
    report = read_report(read_vault(notes, config), col_file, config)
    with _style():
        for draw in (retention_figure, load_figure, calendar_figure):
            figure = draw(report)
            sizes = [size for _, size in text_sizes(figure)]
            assert len(sizes) > 10 and min(sizes) >= 11, draw.__name__
            width, height = figure.get_size_inches()
            assert width == 3.6 and height > width * 0.9, draw.__name__  # tall, not wide


def test_check_lists_leeches_as_warnings_at_their_lines(
    work: Path, col_file: Path, unchanged: None
) -> None:
    result = cli("check", "notes", "--collection", str(col_file))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if ": warning: " in line]
    adamax = lapses(wanted_lapses(col_file, work / "notes", ADAM, 20))
    assert warnings == [
        f"notes/{ATTENTION}:13: warning: leech in Anki: 8 lapses (threshold 8), tagged leech, "
        "suspended; rewrite or split the card",
        f"notes/{BATCHNORM}:13: warning: leech in Anki: 3 lapses (threshold 3); rewrite or "
        "split the card",
        f"notes/{ADAM}:20: warning: leech in Anki: {adamax} (threshold 8), tagged leech; "
        "rewrite or split the card",
    ]
    assert "0 errors, 3 warnings" in result.output
    strict = cli("check", "notes", "--collection", str(col_file), "--strict")
    assert strict.exit_code == 1
    assert f"notes/{ADAM}:20: error: leech in Anki" in strict.output
    plain = cli_ok("check", "notes")
    assert "leech" not in plain.output


def test_a_collection_anki_has_open_is_refused_and_left_alone(
    work: Path, col_file: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "anki" / "collection.anki2"
    copy.parent.mkdir()
    shutil.copy2(col_file, copy)
    page = tmp_path / "report.html"
    with opened(copy):  # what Anki itself does while a profile is open
        before = state(copy)
        report = cli("report", "notes", "--collection", str(copy), "-o", str(page), "--no-open")
        check = cli("check", "notes", "--collection", str(copy))
        assert state(copy) == before
    for result in (report, check):
        assert result.exit_code == 1, result.output
        assert f"Error: {copy} is locked: Anki has it open" in result.output
    assert not page.exists()


def test_a_missing_collection_or_a_broken_one_is_a_clean_error(work: Path, tmp_path: Path) -> None:
    missing = cli("report", "notes", "--collection", str(tmp_path / "none.anki2"), "--no-open")
    assert missing.exit_code == 1
    assert f"Error: {tmp_path / 'none.anki2'}: no such collection" in missing.output
    broken = tmp_path / "broken.anki2"
    broken.write_bytes(b"not a database" * 100)
    result = cli("report", "notes", "--collection", str(broken), "--no-open")
    assert result.exit_code == 1
    assert f"Error: {broken}: cannot use this Anki collection" in result.output
    assert broken.read_bytes() == b"not a database" * 100
    folder = cli("report", "notes", "--collection", str(tmp_path), "--no-open")
    assert folder.exit_code == 1 and "is a folder" in folder.output


def test_errors_in_the_notes_write_no_page(work: Path, col_file: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(work / "notes", notes)
    text = (notes / ADAM).read_text(encoding="utf-8")
    (notes / ADAM).write_text(text.replace('title: "Adam', "title: [Adam"), encoding="utf-8")
    page = tmp_path / "report.html"
    result = cli("report", str(notes), "--collection", str(col_file), "-o", str(page))
    assert result.exit_code == 1
    assert "Adam.md:2: error:" in result.output
    assert f"Report not written; {page} is unchanged." in result.output
    assert not page.exists()


def test_commands_with_nothing_to_draw_import_neither_anki_nor_matplotlib(
    work: Path, col_file: Path
) -> None:
    probe = (
        "import sys\n"
        "from paperdeck.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    print('EXIT', exit.code)\n"
        "print('HEAVY', sorted(m for m in ('torch', 'matplotlib', 'anki') if m in sys.modules))\n"
    )

    def heavy(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False
        )
        return done.stdout.splitlines()[-1]

    assert heavy("check", "notes") == "HEAVY []"
    assert heavy("check", "notes", "--collection", str(col_file)) == "HEAVY ['anki']"
    assert heavy("report", "notes", "--collection", "none.anki2") == "HEAVY ['anki']"


def test_without_matplotlib_the_report_says_what_to_install(
    work: Path, col_file: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    probe = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if not installed\n"
        "from paperdeck.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    args = ["report", "notes", "--collection", str(col_file), "-o", str(page), "--no-open"]
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "Error: the report's plots need matplotlib: pip install 'paperdeck[report]'\n"
    )
    assert not page.exists()


# -- the pure core, case by case ---------------------------------------------------------------

CUTOFF = 1_800_000_000
TODAY = 500


def rows(cards: Sequence[CardRow], reviews: Sequence[ReviewRow] = ()) -> CollectionRows:
    return CollectionRows(TODAY, CUTOFF, date(2027, 1, 14), tuple(cards), tuple(reviews))


def card(card_id: int = 1, note_id: int = 10, **kw: Any) -> CardRow:
    fields = {"queue": 2, "due": TODAY + 3, "original_due": 0, "lapses": 0}
    fields.update({"leech_tagged": False, "leech_threshold": 8}, **kw)
    return CardRow(card_id, note_id, **fields)


PAPER = Paper("notes/p.md", PurePosixPath("p.md"), "P", (PaperCard(10, 3, "Q?"),))


def test_due_follows_each_queue_s_own_clock() -> None:
    cards = [
        card(1, queue=2, due=TODAY),  # due today
        card(2, queue=2, due=TODAY - 2),  # overdue
        card(3, queue=2, due=TODAY + 1),
        card(4, queue=3, due=TODAY - 1),  # day learning, overdue
        card(5, queue=1, due=CUTOFF - 1),  # relearning, due before the day ends
        card(6, queue=1, due=CUTOFF),  # tomorrow
        card(7, queue=2, due=-100_000, original_due=TODAY - 1),  # in a filtered deck: due
        card(12, queue=2, due=-100_001, original_due=TODAY + 2),  # in a filtered deck: not
        card(8, queue=-1, due=TODAY - 9),  # suspended
        card(9, queue=0, due=3),  # new
        card(11, queue=-3, due=TODAY - 1),  # buried
    ]
    [stats] = study_report([PAPER], rows(cards), vault_name="v").papers
    assert (stats.cards, stats.due, stats.overdue, stats.new) == (11, 5, 3, 1)
    report = study_report([PAPER], rows(cards), vault_name="v")
    assert report.load[:4] == (5, 2, 1, 0)  # today (with the overdue), tomorrow, ...


def test_retention_counts_reviews_of_the_last_30_anki_days_only() -> None:
    start = (CUTOFF - 30 * 86_400) * 1000
    reviews = [
        ReviewRow(start, 1, 3, 1),  # the window's first moment: counted, passed
        ReviewRow(start - 1, 1, 1, 1),  # a millisecond before: not counted
        ReviewRow(CUTOFF * 1000 - 1, 1, 1, 1),  # today's last moment: counted, failed
        ReviewRow(start + 5, 1, 2, 1),  # Hard is a pass
        ReviewRow(start + 6, 1, 1, 0),  # learning: not a review
        ReviewRow(start + 7, 1, 1, 2),  # relearning: not a review
        ReviewRow(start + 8, 1, 0, 4),  # a manual change
        ReviewRow(start + 9, 2, 1, 1),  # another note's card
    ]
    report = study_report([PAPER], rows([card(1), card(2, note_id=99)], reviews), vault_name="v")
    [stats] = report.papers
    assert (stats.reviews, stats.passed, stats.retention) == (3, 2, 2 / 3)
    assert report.other_cards == 1
    assert report.calendar[-1] == (date(2027, 1, 14), 1)
    assert sum(n for _, n in report.calendar) == 6  # all answers of the paper's card, window on


def test_leeches_are_anki_s_tagged_or_over_their_deck_s_threshold() -> None:
    assert is_leech([card(lapses=8)])
    assert not is_leech([card(lapses=7)])
    assert is_leech([card(lapses=3, leech_threshold=3)])
    assert not is_leech([card(lapses=30, leech_threshold=0)])  # leeches turned off
    assert is_leech([card(lapses=0, leech_tagged=True)])
    assert is_leech([card(1, lapses=0), card(2, lapses=9)])  # one card of a reversed note
    report = study_report([PAPER], rows([card(lapses=9, queue=-1)]), vault_name="My vault")
    [leech] = report.leeches
    assert (leech.where, leech.lapses, leech.suspended) == ("notes/p.md:3", 9, True)
    assert leech.url == "obsidian://open?vault=My%20vault&file=p"


def test_papers_are_the_notes_with_cards_in_vault_order(work: Path) -> None:
    from paperdeck.build import read_vault

    notes = work / "notes"
    papers = papers_of(read_vault(notes, load_config(notes)))
    assert [p.path for p in papers] == [
        f"notes/{ATTENTION}",
        f"notes/{BATCHNORM}",
        f"notes/{ADAM}",
        f"notes/{NOT_SYNCED}",
    ]  # not "Reading list.md": it has no card
    assert papers[0].title == "Attention Is All You Need"
    assert papers[0].cards[-1].card_id is None  # the card added after the last sync
    assert papers[0].cards[-1].question == ADDED_LATER.splitlines()[0].removeprefix("Q: ")
    assert [c.line for c in papers[2].cards] == [9, 13, 17, 20]


def test_a_leech_tag_in_any_case_counts(tmp_path: Path, col_file: Path) -> None:
    from paperdeck.anki.snapshot import open_read_only
    from paperdeck.report.read import read_rows

    copy = tmp_path / "collection.anki2"
    shutil.copy2(col_file, copy)
    with opened(copy) as col:
        [note] = col.find_notes('"What is multi-head*"')
        col.tags.bulk_add([note], "Leech")
    with open_read_only(copy) as col:
        found = read_rows(col)
    assert [c.leech_tagged for c in found.cards if c.note_id == note] == [True]
    assert not os.path.exists(f"{copy}-wal")
