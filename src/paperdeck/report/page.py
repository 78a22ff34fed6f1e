"""The report as one self-contained HTML page (pure: a report and its plots in, text out).

The plots are embedded as data URIs, so the page can be mailed or moved alone. It is laid
out for a 390-px phone first: nothing is wider than the screen (long paths and titles
wrap), each plot is shown at the width it was drawn for, and on a wider screen the plots and
papers sit side by side.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

from paperdeck.report.model import Leech, PaperStats, Plot, StudyReport
from paperdeck.report.stats import FORECAST_DAYS, WINDOW_DAYS, leech_facts
from paperdeck.wording import plural

_CSS = """
:root { color-scheme: light dark; --ink: #1d1d1f; --muted: #55555a; --panel: #f3f4f6;
  --line: #d9dadd; --link: #0b57d0; --bad: #a4262c; --bg: #ffffff; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #ececf0; --muted: #b4b4bb; --panel: #24262b; --line: #3a3d44;
    --link: #8ab4f8; --bad: #ff9b94; --bg: #16171a; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 75rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .75rem; }
h3 { font-size: 1.1rem; margin: 0 0 .25rem; }
h4 { font-size: 1rem; margin: .9rem 0 .3rem; }
h1, h2, h3, p, li, code { overflow-wrap: anywhere; }
a { color: var(--link); }
.muted { color: var(--muted); }
.numbers { display: grid; grid-template-columns: repeat(auto-fill, minmax(6.5rem, 1fr));
  gap: .5rem; margin: .6rem 0 0; }
.numbers div { background: var(--panel); border-radius: 6px; padding: .35rem .6rem; }
.numbers dt { font-size: .875rem; color: var(--muted); }
.numbers dd { margin: 0; font-size: 1.3rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.numbers dd small { display: block; font-size: .875rem; font-weight: 400; color: var(--muted); }
.numbers .bad dd { color: var(--bad); }
.plots { display: grid; gap: 1.5rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 22rem), 1fr)); align-items: start; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .4rem; }
figure img { display: block; max-width: 100%; height: auto; border-radius: 4px; background: #fff; }
.papers { display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 24rem), 1fr)); }
.paper { border: 1px solid var(--line); border-radius: 8px; padding: .8rem; min-width: 0; }
.paper .path { margin: 0; font-size: .875rem; }
ul.leeches { margin: 0; padding-left: 1.1rem; }
ul.leeches li { margin: .5rem 0; }
ul.leeches .where, ul.leeches .question { display: block; }
.where { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .875rem; }
details { margin-top: 2rem; }
summary { font-weight: 600; cursor: pointer; }
dl.terms dt { font-weight: 600; margin-top: .6rem; }
dl.terms dd { margin: 0; }
"""


def report_page(report: StudyReport, plots: Sequence[Plot], *, vault: str) -> str:
    """The whole page."""
    title = f"Study report: {vault}"
    papers = "\n".join(_paper(p, i) for i, p in enumerate(report.papers, 1))
    figures = "\n".join(_figure(p) for p in plots)
    other = ""
    if report.other_cards:
        one = report.other_cards == 1
        other = (
            f'<p class="muted">{plural(report.other_cards, "card")} of the collection '
            f"{'belongs' if one else 'belong'} to no card of this vault and "
            f"{'is' if one else 'are'} not counted.</p>"
        )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
<p class="muted">As of {_long_date(report.today_date)} (Anki's day) ·
{plural(len(report.papers), "paper")}</p>
{_numbers(_totals(report))}
{other}
<h2>Plots</h2>
<div class="plots">
{figures}
</div>
<h2>Papers</h2>
<div class="papers">
{papers or '<p class="muted">No note of this vault has cards.</p>'}
</div>
{_definitions()}
</main>
</body>
</html>
"""


def _long_date(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"


def _retention(passed: int, reviews: int) -> str:
    if not reviews:
        return f"&ndash;<small>no reviews in {WINDOW_DAYS} days</small>"
    return f"{100 * passed / reviews:.0f} %<small>of {plural(reviews, 'review')}</small>"


def _totals(report: StudyReport) -> list[tuple[str, str, bool]]:
    return _number_cells(
        cards=report.total("cards"),
        due=report.total("due"),
        overdue=report.total("overdue"),
        passed=report.total("passed"),
        reviews=report.total("reviews"),
        lapses=report.total("lapses"),
        leeches=len(report.leeches),
        not_in_anki=report.total("not_in_anki"),
    )


def _number_cells(
    *,
    cards: int,
    due: int,
    overdue: int,
    passed: int,
    reviews: int,
    lapses: int,
    leeches: int,
    not_in_anki: int,
) -> list[tuple[str, str, bool]]:
    cells = [
        ("cards", str(cards), False),
        ("due today", str(due), False),
        ("overdue", str(overdue), overdue > 0),
        (f"retention, {WINDOW_DAYS} days", _retention(passed, reviews), False),
        ("lapses", str(lapses), False),
        ("leeches", str(leeches), leeches > 0),
    ]
    if not_in_anki:
        cells.append(("not in Anki", str(not_in_anki), False))
    return cells


def _numbers(cells: list[tuple[str, str, bool]]) -> str:
    items = "".join(
        f"<div{' class=bad' if bad else ''}><dt>{html.escape(name)}</dt><dd>{value}</dd></div>"
        for name, value, bad in cells
    )
    return f'<dl class="numbers">{items}</dl>'


def _figure(plot: Plot) -> str:
    return (
        f'<figure id="{html.escape(plot.name)}"><figcaption>{html.escape(plot.title)}'
        f'</figcaption><img src="{plot.data_uri}" width="{plot.css_width}" '
        f'height="{plot.css_height}" alt="{html.escape(plot.alt)}"></figure>'
    )


def _paper(stats: PaperStats, index: int) -> str:
    paper = stats.paper
    cells = _number_cells(
        cards=stats.cards,
        due=stats.due,
        overdue=stats.overdue,
        passed=stats.passed,
        reviews=stats.reviews,
        lapses=stats.lapses,
        leeches=len(stats.leeches),
        not_in_anki=stats.not_in_anki,
    )
    leeches = ""
    if stats.leeches:
        items = "\n".join(_leech(leech) for leech in stats.leeches)
        leeches = f'<h4>Leeches</h4>\n<ul class="leeches">\n{items}\n</ul>'
    return f"""<article class="paper" id="paper-{index}">
<h3><a href="{html.escape(stats.url)}">{html.escape(paper.title)}</a></h3>
<p class="path muted"><code>{html.escape(paper.path)}</code></p>
{_numbers(cells)}
{leeches}
</article>"""


def _leech(leech: Leech) -> str:
    facts = " · ".join(leech_facts(leech))
    return (
        f'<li><span class="where">{html.escape(leech.where)}</span>'
        f'<span class="question">{html.escape(leech.question)}</span>'
        f'<span class="muted">{html.escape(facts)}</span> · '
        f'<a href="{html.escape(leech.url)}">Open in Obsidian</a></li>'
    )


def _definitions() -> str:
    terms = [
        (
            "cards",
            "Anki cards of the paper's notes: a reversed card or a cloze with several "
            "deletions makes more than one. <em>Not in Anki</em>: cards of the note whose ID is "
            "no note in the collection (not synced or imported yet).",
        ),
        (
            "due today",
            "Cards Anki would show today, daily limits aside: review cards due "
            "today or earlier, and cards in (re)learning due before the day ends. New, "
            "suspended and buried cards are not due.",
        ),
        ("overdue", "Due cards whose due day is before today."),
        (
            f"retention, {WINDOW_DAYS} days",
            f"Of the reviews of cards in the review state "
            f"(not learning, relearning, filtered-deck or manual entries) in the last "
            f"{WINDOW_DAYS} Anki days, today included, the share answered Hard, Good or Easy.",
        ),
        (
            "lapses",
            "How often the paper's cards were forgotten after they had graduated "
            "(Anki's count, all time).",
        ),
        (
            "leeches",
            "Cards whose note carries Anki's <code>leech</code> tag, or that have at "
            "least as many lapses as their deck options' leech threshold: Anki's definition.",
        ),
        (
            "plots",
            f"The load counts the cards due on each of the next {FORECAST_DAYS} days "
            "(today with the overdue ones); the calendar counts every answer per day.",
        ),
    ]
    items = "".join(f"<dt>{html.escape(t)}</dt><dd>{d}</dd>" for t, d in terms)
    return (
        f'<details><summary>What the numbers mean</summary><dl class="terms">{items}</dl></details>'
    )
