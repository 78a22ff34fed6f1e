"""Per-paper study statistics from a collection's rows (pure: rows in, numbers out).

The definitions, which the README repeats for users:

- A paper is a note file of the vault with at least one card; its Anki cards are the cards
  of the Anki notes whose ids are its cards' IDs (a reversed card or a cloze with several
  deletions has several).
- *Due*: a card in review or day learning whose due day is today or earlier, or a card in
  (re)learning due before today's cutoff: what Anki would show today, daily limits aside.
  *Overdue*: due on an earlier day than today. New, suspended and buried cards are not due.
- *Retention*: of the review log's reviews (``revlog.type`` 1: a card in the review state;
  not learning, relearning, filtered-deck or manual entries) made in the last
  :data:`WINDOW_DAYS` Anki days (today and the 29 days before), the share answered Hard,
  Good or Easy (``ease > 1``).
- *Lapses*: Anki's count of times each card was forgotten after it had graduated, summed.
- *Leech*: Anki's own definition. A note is a leech when it carries the ``leech`` tag (Anki
  adds it when a card reaches the threshold) or one of its cards has at least as many lapses
  as the leech threshold of its home deck's options (``leechFails``; 0 turns leeches off).
- *Load*: cards (not new, suspended or buried) due on each of the next
  :data:`FORECAST_DAYS` days, today's count including the overdue ones.
- *Calendar*: every answer in the review log (manual changes aside) per Anki day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from paperdeck.cards.render import obsidian_url
from paperdeck.diagnostics import Diagnostic, warning
from paperdeck.report.model import (
    QUEUE_DAY_LEARN,
    QUEUE_LEARN,
    QUEUE_NEW,
    QUEUE_PREVIEW,
    QUEUE_REVIEW,
    QUEUE_SUSPENDED,
    REVLOG_REVIEW,
    CardRow,
    CollectionRows,
    Leech,
    Paper,
    PaperCard,
    PaperStats,
    ReviewRow,
    StudyReport,
)
from paperdeck.vaultread import Vault

WINDOW_DAYS = 30
"""Retention counts the reviews of this many Anki days, today included."""
FORECAST_DAYS = 30
"""The review load is shown for this many days, today first."""
CALENDAR_WEEKS = 13
"""The calendar shows this week and the 12 before it, Monday to Sunday."""
DAY_MS = 86_400_000


def papers_of(vault: Vault) -> list[Paper]:
    """Every note of the vault that has cards (a card marked ``DELETE`` is no longer one)."""
    papers = []
    for source in vault.sources:
        note = source.note
        cards = tuple(
            PaperCard(card.card_id, card.line, _first_line(card.question))
            for card in note.cards
            if not card.delete
        )
        if cards:
            title = note.meta.title or source.rel.stem
            papers.append(Paper(note.path, source.rel, title, cards))
    return papers


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def calendar_start(today: date) -> date:
    """The Monday :data:`CALENDAR_WEEKS` weeks back (this week's Monday is one of them)."""
    return today - timedelta(days=today.weekday() + 7 * (CALENDAR_WEEKS - 1))


def days_needed(today: date) -> int:
    """How many days of review log (today included) the report reads."""
    return max(WINDOW_DAYS, (today - calendar_start(today)).days + 1)


def days_ago(review: ReviewRow, day_cutoff: int) -> int:
    """0 for a review made today (in Anki's day), 1 for yesterday's, ..."""
    return (day_cutoff * 1000 - 1 - review.review_id) // DAY_MS


def is_due(card: CardRow, rows: CollectionRows) -> bool:
    """Would Anki show the card today (daily limits aside)?"""
    if card.queue in (QUEUE_REVIEW, QUEUE_DAY_LEARN):
        return _due_day(card) <= rows.today
    if card.queue in (QUEUE_LEARN, QUEUE_PREVIEW):
        return card.due < rows.day_cutoff
    return False


def is_overdue(card: CardRow, rows: CollectionRows) -> bool:
    """Was the card due on an earlier day than today?"""
    return card.queue in (QUEUE_REVIEW, QUEUE_DAY_LEARN) and _due_day(card) < rows.today


def _due_day(card: CardRow) -> int:
    """As Anki's searches read it: a card borrowed by a filtered deck keeps its own due day."""
    return card.original_due or card.due


def due_in_days(card: CardRow, rows: CollectionRows) -> int | None:
    """In how many days the card is due (0: today or overdue); ``None`` if never by itself."""
    if card.queue in (QUEUE_REVIEW, QUEUE_DAY_LEARN):
        return max(0, _due_day(card) - rows.today)
    if card.queue in (QUEUE_LEARN, QUEUE_PREVIEW):
        if card.due < rows.day_cutoff:
            return 0
        return (card.due - rows.day_cutoff) // 86_400 + 1
    return None


def is_leech(cards: Sequence[CardRow]) -> bool:
    """Anki's definition, for a note's cards: tagged ``leech``, or a card with at least as
    many lapses as its deck's leech threshold."""
    return any(c.leech_tagged for c in cards) or any(_over_threshold(c) for c in cards)


def _over_threshold(card: CardRow) -> bool:
    return card.leech_threshold > 0 and card.lapses >= card.leech_threshold


def study_report(papers: Sequence[Paper], rows: CollectionRows, *, vault_name: str) -> StudyReport:
    """Each paper's numbers, the load of the coming days and the calendar (see the module)."""
    by_note: dict[int, list[CardRow]] = defaultdict(list)
    for card in rows.cards:
        by_note[card.note_id].append(card)
    reviews: dict[int, list[ReviewRow]] = defaultdict(list)
    for review in rows.reviews:
        reviews[review.card_id].append(review)
    stats = [_paper_stats(p, by_note, reviews, rows, vault_name) for p in papers]
    ours = [
        card
        for paper in papers
        for vault_card in paper.cards
        if vault_card.card_id is not None
        for card in by_note.get(vault_card.card_id, ())
    ]
    ids = {card.card_id for card in ours}
    return StudyReport(
        today_date=rows.today_date,
        papers=tuple(stats),
        load=_load(ours, rows),
        calendar=_calendar((r for r in rows.reviews if r.card_id in ids), rows),
        other_cards=len(rows.cards) - len(ours),
    )


def _paper_stats(
    paper: Paper,
    by_note: Mapping[int, list[CardRow]],
    reviews: Mapping[int, list[ReviewRow]],
    rows: CollectionRows,
    vault_name: str,
) -> PaperStats:
    url = obsidian_url(vault_name, paper.rel)
    cards: list[CardRow] = []
    leeches: list[Leech] = []
    not_in_anki = 0
    for vault_card in paper.cards:
        found = by_note.get(vault_card.card_id, []) if vault_card.card_id is not None else []
        if not found:
            not_in_anki += 1
            continue
        cards.extend(found)
        if is_leech(found):
            leeches.append(_leech(paper, vault_card, found, url))
    window = [
        r
        for card in cards
        for r in reviews.get(card.card_id, ())
        if r.kind == REVLOG_REVIEW and r.ease > 0 and days_ago(r, rows.day_cutoff) < WINDOW_DAYS
    ]
    return PaperStats(
        paper=paper,
        url=url,
        cards=len(cards),
        not_in_anki=not_in_anki,
        new=sum(1 for c in cards if c.queue == QUEUE_NEW),
        due=sum(1 for c in cards if is_due(c, rows)),
        overdue=sum(1 for c in cards if is_overdue(c, rows)),
        reviews=len(window),
        passed=sum(1 for r in window if r.ease > 1),
        lapses=sum(c.lapses for c in cards),
        leeches=tuple(leeches),
    )


def _leech(paper: Paper, vault_card: PaperCard, cards: Sequence[CardRow], url: str) -> Leech:
    worst = max(cards, key=lambda c: (c.lapses, -c.leech_threshold))
    assert vault_card.card_id is not None
    return Leech(
        path=paper.path,
        line=vault_card.line,
        card_id=vault_card.card_id,
        question=vault_card.question,
        lapses=worst.lapses,
        threshold=worst.leech_threshold,
        tagged=any(c.leech_tagged for c in cards),
        suspended=all(c.queue == QUEUE_SUSPENDED for c in cards),
        url=url,
    )


def _load(cards: Iterable[CardRow], rows: CollectionRows) -> tuple[int, ...]:
    load = [0] * FORECAST_DAYS
    for card in cards:
        days = due_in_days(card, rows)
        if days is not None and days < FORECAST_DAYS:
            load[days] += 1
    return tuple(load)


def _calendar(reviews: Iterable[ReviewRow], rows: CollectionRows) -> tuple[tuple[date, int], ...]:
    start = calendar_start(rows.today_date)
    length = (rows.today_date - start).days + 1
    counts = [0] * length
    for review in reviews:
        back = days_ago(review, rows.day_cutoff)
        if review.ease > 0 and 0 <= back < length:
            counts[length - 1 - back] += 1
    return tuple((start + timedelta(days=i), n) for i, n in enumerate(counts))


def leech_diagnostics(report: StudyReport) -> list[Diagnostic]:
    """One warning per leech, at its card's line (``paperdeck check --collection``)."""
    return [warning(leech.path, leech.line, describe_leech(leech)) for leech in report.leeches]


def describe_leech(leech: Leech) -> str:
    """``leech in Anki: 8 lapses (threshold 8), tagged leech, suspended; ...``."""
    return f"leech in Anki: {', '.join(leech_facts(leech))}; rewrite or split the card"


def leech_facts(leech: Leech) -> list[str]:
    """``["8 lapses (threshold 8)", "tagged leech", "suspended"]``."""
    lapses = f"{leech.lapses} lapse{'' if leech.lapses == 1 else 's'}"
    facts = [f"{lapses} (threshold {leech.threshold})" if leech.threshold else lapses]
    if leech.tagged:
        facts.append("tagged leech")
    if leech.suspended:
        facts.append("suspended")
    return facts
