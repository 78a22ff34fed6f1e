"""The edge of the report: the rows it needs, read from a collection through Anki.

The caller opens the collection (read-only: :func:`~paperdeck.anki.snapshot.open_read_only`);
here it is only queried. Today's day number and cutoff come from Anki's own scheduler and
each deck's leech threshold from its options, so the numbers follow the user's settings
(the hour a new day starts, per-deck options).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from paperdeck.report.model import CardRow, CollectionRows, ReviewRow
from paperdeck.report.stats import days_needed

if TYPE_CHECKING:
    from anki.collection import Collection

_CARDS = """
select c.id, c.nid, c.queue, c.due, c.odue, c.lapses, (case when c.odid then c.odid else c.did end),
       n.tags
from cards c join notes n on n.id = c.nid
order by c.id
"""


def read_rows(col: Collection) -> CollectionRows:
    """Today, every card with its leech facts, and the review log the report needs."""
    from anki.decks import DeckId

    db = col.db
    assert db is not None  # an open collection
    today = int(col.sched.today)
    cutoff = int(col.sched.day_cutoff)
    today_date = datetime.fromtimestamp(cutoff - 86_400).date()
    thresholds: dict[int, int] = {}
    cards = []
    for card_id, note_id, queue, due, odue, lapses, home, tags in db.all(_CARDS):
        if home not in thresholds:
            options = col.decks.config_dict_for_deck_id(DeckId(home))
            thresholds[home] = int(options.get("lapse", {}).get("leechFails", 0))
        tagged = "leech" in (t.casefold() for t in str(tags).split())
        cards.append(
            CardRow(
                int(card_id),
                int(note_id),
                int(queue),
                int(due),
                int(odue),
                int(lapses),
                tagged,
                thresholds[home],
            )
        )
    since = (cutoff - days_needed(today_date) * 86_400) * 1000
    reviews = tuple(
        ReviewRow(int(i), int(c), int(e), int(k))
        for i, c, e, k in db.all(
            "select id, cid, ease, type from revlog where id >= ? order by id", since
        )
    )
    return CollectionRows(today, cutoff, today_date, tuple(cards), reviews)
