"""A real collection with a review history, made through Anki's own scheduler.

The vault ``tests/fixtures/report_vault`` (three papers) is synced into a new collection with
``paperdeck sync``; then every due card is answered through ``col.sched`` (the v3 queue,
``build_answer``, ``answer_card``), day after day, by a fixed rule (:func:`rating`).

Days pass the way they pass for Anki: Anki counts today from the collection's creation
time (``col.crt``) and stamps everything else with the clock. So between two days the
collection is closed and *every* time in it moves one day into the past: ``crt``, the
review log's ids (the time of each answer, in ms), the last-review time in each card's
``data``, the due time of cards in (re)learning, and the cards' and notes' modification
times. That is exactly the collection the clock moving a day ahead would leave, and every
row is one Anki wrote; nothing is made up. Reopening makes Anki forget its cached day.

Deterministic: the rule depends only on the card's text and the day; Anki's random fuzz of
intervals is off (:func:`studied_collection`); and the hour a new day starts (``rollover``)
is set 12 hours away from now, so the real day cannot end during a test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import REPO, cli_ok, opened

VAULT = REPO / "tests" / "fixtures" / "report_vault"
ATTENTION = "Attention is all you need.md"
BATCHNORM = "Batch normalization & friends.md"
ADAM = "papers/Adam.md"
BATCHNORM_DECK = (
    "Papers::Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
    "Covariate Shift"
)
ADAM_DECK = "Papers::Adam: A Method for Stochastic Optimization"

DAYS = 60
"""Simulated days; the last one is today."""
AWAY = tuple(range(DAYS - 14, DAYS - 1))
"""13 days with no review at all, longer than the longest interval (12 days): every card of
the papers not reviewed today is overdue at the end."""

ALWAYS_FORGOTTEN = "Why divide the scores"
"""Answered Again at every review: a leech at 8 lapses, suspended (the default options)."""
FORGOTTEN = {"Name one problem": 3, "Which two moment": 4}
"""Answered Again at their first reviews, this many times. The batch-norm deck's options
have a leech threshold of 3 (Anki tags that note ``leech``); Adam's 4 lapses stay under the
default 8."""
LATE_FORGOTTEN = "What is multi-head attention"
LATE_FROM = 33
"""Answered Again at its first review from this day on, which falls on day 33 to 44 (an
interval is at most 12 days): a failed review in the last 30 days."""

NOT_SYNCED = "papers/Deep_residual_learning_for_image_recognition_He_Zhang_Ren_Sun_CVPR_2016.md"
"""A paper written after the last sync (none of its cards is in Anki), under a long name
with no space to break it at."""
NOT_SYNCED_TEXT = (
    "Title: Deep Residual Learning for Image Recognition\n"
    "Year: 2016\n"
    "\n"
    "Q: What does a residual block learn?\n"
    "A: A residual $F(x)$ added to its input: $y = F(x) + x$.\n"
)

ADDED_LATER = (
    "Q: What is layer normalization?\nA: Normalization over the features of one example.\n"
)


def rating(question: str, queue: int, lapses: int, day: int, index: int) -> int:
    """The button (1 Again ... 4 Easy) for a card, by a fixed rule."""
    if queue != 2:  # new or (re)learning: move on
        return 3
    if ALWAYS_FORGOTTEN in question:
        return 1
    for start, times in FORGOTTEN.items():
        if question.startswith(start):
            return 1 if lapses < times else 3
    if question.startswith(LATE_FORGOTTEN):
        return 1 if day >= LATE_FROM and lapses == 0 else 3
    return {0: 1, 1: 2, 2: 2, 3: 4}.get((day * 7 + index * 3) % 8, 3)


def a_day_passes(col: Any) -> None:
    """Every time in the collection one day earlier: the clock one day ahead."""
    day_s, day_ms = 86_400, 86_400_000
    col.db.execute("update col set crt = crt - ?", day_s)
    col.db.execute("update revlog set id = id - ?", day_ms)
    col.db.execute("update cards set due = due - ? where queue in (1, 4)", day_s)
    col.db.execute("update cards set mod = mod - ?", day_s)
    col.db.execute("update notes set mod = mod - ?", day_s)
    col.db.execute(
        "update cards set data = json_set(data, '$.lrt', json_extract(data, '$.lrt') - ?) "
        "where json_extract(data, '$.lrt') is not null",
        day_s,
    )


def answer_due_cards(col: Any, day: int, deck: str = "Papers") -> int:
    """Answer every card Anki shows in ``deck`` (and its subdecks) today; how many answers."""
    from anki.scheduler.v3 import CardAnswer

    buttons = {1: CardAnswer.AGAIN, 2: CardAnswer.HARD, 3: CardAnswer.GOOD, 4: CardAnswer.EASY}
    col.decks.select(col.decks.id_for_name(deck))
    answers = 0
    while True:
        queued = col.sched.get_queued_cards(fetch_limit=1)
        if not queued.cards:
            return answers
        top = queued.cards[0]
        card = col.get_card(top.card.id)
        card.start_timer()
        question = col.get_note(card.nid).fields[0].removeprefix("<p>")
        ease = rating(
            question, card.queue, card.lapses, day, zlib.crc32(question.encode()) + card.ord
        )
        col.sched.answer_card(
            col.sched.build_answer(card=card, states=top.states, rating=buttons[ease])
        )
        answers += 1


def studied_collection(work: Path) -> tuple[Path, Path]:
    """:func:`build_history` in a child process run in ``work`` with Anki's test mode on:
    ``ANKI_TEST_MODE`` turns off the random fuzz of intervals (seeded by card ids, which
    differ from run to run), so that the same answers give the same history every time."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from study_history import build_history; build_history(Path.cwd())"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        cwd=work,
        env={**os.environ, "ANKI_TEST_MODE": "1"},
        check=True,
        timeout=600,
    )
    return work / "notes", work / "anki" / "collection.anki2"


def build_history(work: Path, *, days: int = DAYS) -> tuple[Path, Path]:
    """The vault (``work/notes``) and its collection (``work/anki/collection.anki2``) after
    ``days`` days of study, and what a user then does in Anki (see the module)."""
    notes, path = work / "notes", work / "anki" / "collection.anki2"
    shutil.copytree(VAULT, notes)
    path.parent.mkdir()
    with opened(path) as col:
        col.set_config("rollover", (datetime.now().hour + 12) % 24)
        other = col.new_note(col.models.by_name("Basic"))
        other["Front"], other["Back"] = "A card of another deck", "not the vault's"
        col.add_note(other, col.decks.id("Default"))
    cli_ok("sync", str(notes), "--collection", str(path))
    with opened(path) as col:
        _options(col)
    for day in range(days):
        with opened(path) as col:
            if day == days - 1:
                answer_due_cards(col, day, ADAM_DECK)  # today: only Adam so far
            elif day not in AWAY:
                answer_due_cards(col, day)
            if day < days - 1:
                a_day_passes(col)
    with opened(path) as col:
        _afterwards(col)
    with (notes / ATTENTION).open("a", encoding="utf-8") as note:
        note.write("\n" + ADDED_LATER)  # a card not yet synced: no ID, not in Anki
    (notes / NOT_SYNCED).write_text(NOT_SYNCED_TEXT, encoding="utf-8")
    return notes, path


def _options(col: Any) -> None:
    """Leeches suspended by default (Anki's classic action), no interval over 12 days (so
    that every card is reviewed in the last 30 days); batch norm's own options the same but
    for a leech threshold of 3 (and leeches only tagged)."""
    default = col.decks.get_config(1)
    default["lapse"]["leechAction"] = 0
    default["rev"]["maxIvl"] = 12
    col.decks.update_config(default)
    strict = col.decks.add_config_returning_id("Strict")
    options = col.decks.get_config(strict)
    options["lapse"]["leechFails"] = 3
    options["lapse"]["leechAction"] = 1
    options["rev"]["maxIvl"] = 12
    col.decks.update_config(options)
    deck = col.decks.by_name(BATCHNORM_DECK)
    deck["conf"] = strict
    col.decks.save(deck)


def _afterwards(col: Any) -> None:
    """The batch-norm card's ``leech`` tag removed (its 3 lapses still make it one), and
    AdaMax tagged ``leech`` by hand (with fewer lapses than the threshold)."""
    [batchnorm] = col.find_notes('"Name one problem*"')
    col.tags.bulk_remove([batchnorm], "leech")
    [adamax] = col.find_notes('"What is AdaMax*"')
    col.tags.bulk_add([adamax], "leech")
