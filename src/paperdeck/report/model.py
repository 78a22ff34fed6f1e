"""The report's data: rows as the collection holds them in, statistics per paper out.

Plain frozen dataclasses, no behaviour: :mod:`~paperdeck.report.read` fills the rows from a
collection, :mod:`~paperdeck.report.stats` turns them into a :class:`StudyReport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

# Anki's card queues (``cards.queue``) and the review log's kinds (``revlog.type``).
QUEUE_SUSPENDED = -1
QUEUE_NEW = 0
QUEUE_LEARN = 1
"""Learning or relearning within a day: ``due`` is a time (epoch seconds)."""
QUEUE_REVIEW = 2
"""``due`` is a day number (days since the collection was created)."""
QUEUE_DAY_LEARN = 3
"""Learning or relearning with a step of a day or more: ``due`` is a day number."""
QUEUE_PREVIEW = 4
"""A filtered deck's preview: ``due`` is a time, as for :data:`QUEUE_LEARN`."""
REVLOG_REVIEW = 1
"""A review of a card in the review state (not learning, relearning, filtered or manual)."""


@dataclass(frozen=True)
class CardRow:
    """One Anki card, as ``cards`` holds it, with what its note and deck say of leeches."""

    card_id: int
    note_id: int
    """The note's id: a vault card's ID."""
    queue: int
    due: int
    """A day number, a time in epoch seconds or a position in the new queue, by queue."""
    original_due: int
    """``odue``: the due day a filtered deck keeps for the card's return (0: none)."""
    lapses: int
    """How often the card was forgotten as a review card (Anki's count)."""
    leech_tagged: bool
    """The note carries Anki's ``leech`` tag."""
    leech_threshold: int
    """``leechFails`` of the options of the card's home deck (0: leeches are off)."""


@dataclass(frozen=True)
class ReviewRow:
    """One entry of the review log."""

    review_id: int
    """When the card was answered, in epoch milliseconds (Anki's ``revlog.id``)."""
    card_id: int
    ease: int
    """The button: 1 Again, 2 Hard, 3 Good, 4 Easy; 0 for a manual change."""
    kind: int
    """0 learning, 1 review, 2 relearning, 3 filtered, 4 manual, 5 rescheduled."""


@dataclass(frozen=True)
class CollectionRows:
    """What the report reads from a collection."""

    today: int
    """Anki's day number of today."""
    day_cutoff: int
    """When today ends for Anki (its next day starts), in epoch seconds."""
    today_date: date
    """The date on which Anki's today began."""
    cards: tuple[CardRow, ...]
    reviews: tuple[ReviewRow, ...]
    """The review log from the start of the calendar on (see :data:`CALENDAR_DAYS`)."""


@dataclass(frozen=True)
class PaperCard:
    """A card of the vault: where it is, and its ID (``None`` before its first build)."""

    card_id: int | None
    line: int
    question: str
    """The first line of its question, for listings."""


@dataclass(frozen=True)
class Paper:
    """A note file of the vault that has cards."""

    path: str
    """As messages show it."""
    rel: PurePosixPath
    """Inside the vault (for the Obsidian link)."""
    title: str
    cards: tuple[PaperCard, ...]


@dataclass(frozen=True)
class Leech:
    """A vault card whose Anki note is a leech (see :func:`~paperdeck.report.stats.is_leech`)."""

    path: str
    line: int
    card_id: int
    question: str
    lapses: int
    """The most lapses among the note's cards."""
    threshold: int
    """The leech threshold of that card's deck."""
    tagged: bool
    suspended: bool
    """Every card of the note is suspended (Anki's default leech action)."""
    url: str
    """Opens the note in Obsidian."""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class PaperStats:
    """One paper's numbers; see the README for exactly what each counts."""

    paper: Paper
    url: str
    cards: int
    """Anki cards of the paper's notes (a reversed card or a cloze may make several)."""
    not_in_anki: int
    """Vault cards whose ID is no note in the collection (or that have no ID yet)."""
    new: int
    due: int
    overdue: int
    reviews: int
    """Reviews (``revlog.type`` 1) in the retention window."""
    passed: int
    """Of those, the ones answered Hard, Good or Easy."""
    lapses: int
    leeches: tuple[Leech, ...]

    @property
    def retention(self) -> float | None:
        """``passed / reviews``, or ``None`` without reviews."""
        return self.passed / self.reviews if self.reviews else None


@dataclass(frozen=True)
class StudyReport:
    """The whole report: every paper, the coming review load and the review calendar."""

    today_date: date
    papers: tuple[PaperStats, ...]
    load: tuple[int, ...]
    """Cards due on each of the next days, today first (overdue cards count today)."""
    calendar: tuple[tuple[date, int], ...]
    """Answers per day, oldest first, ending today."""
    other_cards: int
    """Cards of the collection that belong to no card of the vault: not counted."""

    @property
    def leeches(self) -> tuple[Leech, ...]:
        return tuple(leech for paper in self.papers for leech in paper.leeches)

    def total(self, name: str) -> int:
        """The sum over papers of an integer field of :class:`PaperStats`."""
        return sum(int(getattr(paper, name)) for paper in self.papers)


@dataclass(frozen=True)
class Plot:
    """A drawn figure, ready to embed in the page."""

    name: str
    """``retention``, ``load`` or ``calendar`` (the ``id`` of its ``<figure>``)."""
    title: str
    alt: str
    """What the figure shows, in words (its ``alt`` text)."""
    data_uri: str
    """The PNG as a ``data:image/png;base64,...`` URI."""
    css_width: int
    """The width in CSS px it is drawn for: shown at that width, its text is as large as drawn."""
    css_height: int
