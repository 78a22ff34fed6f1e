"""Vault-scale build benchmark: synthetic vaults (by default 2,000 and 20,000 notes of 5
cards each), every number of a size measured in one run of this script.

For each size it measures, each in a process of its own:

- two floors (medians of ``--repeat``), bare genanki writing the same cards with no
  parsing or rendering: ``genanki, one deck`` (all cards in a single deck: the floor a
  build is held to) and ``genanki, subdeck per note`` (one subdeck per note, as
  paperdeck's decks are; genanki re-encodes its collection for every deck, so this one is
  quadratic in the notes and is skipped above ``--subdeck-limit`` notes);
- a third floor, the parser's: paperdeck's own markdown-it-py dialect rendering each note's
  whole text once, on every core (``markdown-it-py, each note once``). Every build parses
  at least that much text with the one parser the project uses, so a cold build can never
  come closer to the genanki floor than this one does;
- ``cold``: ``paperdeck build`` with no deck, no cache and no card state (median of
  ``--repeat``, each from nothing);
- ``no-op``: the same build again, nothing changed (median of ``--repeat``);
- ``one-note edit``: one card's answer edited in one note, then a build (median of
  ``--repeat``, a different note each time);
- peak memory of each: the largest process (``wait4``'s max RSS, which covers the pool's
  worker processes too), and the sum over the build's processes: of their RSS sampled every
  20 ms (forked workers' pages shared with the build counted in each, so an upper bound),
  and of their PSS sampled every 0.1 s (shared pages split between the processes).

Ratios are against the cold build and the one-deck floor. Targets (issue 11): a no-op at
most 2% and a one-note edit at most 4% of a cold build at 20,000 notes; a cold build at
most 5x the one-deck floor at 2,000 notes; peak memory at most 250 MB.

With ``--baseline SRC`` (a folder holding another version's ``paperdeck`` package) the
same builds of that version are measured first, on the same vault, and a before/after
table closes the report.

Run: ``.venv/bin/python bench/bench_vault.py [--notes 2000 20000] [--repeat 3]
[--baseline SRC]``
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000040001f61738550000000049454e44ae426082"
)


def make_vault(root: Path, notes: int, cards_per_note: int, seed: int = 0) -> int:
    """Write a synthetic vault: header lines, prose with tags and math, cards, images."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    for i in range(200):
        (root / "images" / f"img{i}.png").write_bytes(PNG + i.to_bytes(4, "big"))
    card_id = 1_600_000_000_000
    for n in range(notes):
        lines = [
            f"Title: Paper {n} on topic {rng.randrange(50)}",
            f"Authors: #Author_{rng.randrange(300)} #Author_{rng.randrange(300)}",
            f"Tags: #topic{rng.randrange(40)} #venue/{rng.choice(['icml', 'nips', 'iclr'])}",
            f"Year: {2000 + rng.randrange(25)}",
            f"Link: https://arxiv.org/abs/{n:04d}.{rng.randrange(99999):05d}",
            "",
            "## Notes",
            "",
            f"- #idea{rng.randrange(100)}: we show that $\\mathbb{{E}}[x_{n}] = \\mu$ and",
            "  $$\\frac{\\partial L}{\\partial \\theta} = \\sum_i \\nabla \\log p(x_i)$$",
            "",
        ]
        for c in range(cards_per_note):
            card_id += 1
            lines += [
                f"Q: Question {c} of paper {n}: what is $\\text{{one\\_hot}}(z_{c})$?",
                f"A: An answer with **bold**, `code` and $\\alpha_{c} + \\beta$:",
                "$$y_i = \\frac{\\exp((\\log \\pi_i + g_i)/\\tau)}"
                "{\\sum_j \\exp((\\log \\pi_j + g_j)/\\tau)}$$",
                f"![[img{rng.randrange(200)}.png]]" if c == 0 else "- a list item",
                f"<!--ID: {card_id}-->",
                "",
            ]
        (root / f"paper-{n:05d}.md").write_text("\n".join(lines), encoding="utf-8")
    return card_id - 1_600_000_000_000


@dataclass(frozen=True)
class Run:
    """One measured command: wall seconds, and peak memory in MB."""

    seconds: float
    largest_mb: float
    """Max RSS of the largest process (the build or one of its workers)."""
    total_mb: float
    """Peak of the summed RSS of the build and its worker processes (sampled). Workers are
    forked, so pages they share with the build are counted in each: an upper bound."""
    pss_mb: float
    """Peak of their summed PSS (sampled less often): shared pages split between the
    processes that share them, so that the sum is the memory they take together."""


def timed(cmd: list[str], cwd: Path, code: Path | None = None) -> Run:
    """Run a command to completion, timing it and sampling its processes' memory
    (``code``: the folder to import paperdeck from)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0, 0]
    done = threading.Event()
    sampler = threading.Thread(target=_sample, args=(proc.pid, peak, done), daemon=True)
    sampler.start()
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{output.decode()}")
    return Run(seconds, usage.ru_maxrss / 1024, peak[0] / 1024, peak[1] / 1024)


def median_run(cmd: list[str], cwd: Path, repeat: int, code: Path | None = None) -> Run:
    """The run of median time of ``repeat`` runs of a command."""
    return _median_of([timed(cmd, cwd, code) for _ in range(repeat)])


def _median_of(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


def _sample(pid: int, peak: list[int], done: threading.Event) -> None:
    ticks = 0
    while not done.wait(0.02):
        peak[0] = max(peak[0], _tree_kb(pid, "status", "VmRSS:"))
        ticks += 1
        if ticks % 5 == 0:  # the kernel walks the page tables for this: every 0.1 s
            peak[1] = max(peak[1], _tree_kb(pid, "smaps_rollup", "Pss:"))


def _tree_kb(pid: int, table: str, field: str) -> int:
    """A memory field (kB) of ``/proc/PID/table``, summed over a process and its
    descendants (Linux; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/{table}", encoding="ascii", errors="replace") as status:
                total += next(
                    (int(line.split()[1]) for line in status if line.startswith(field)), 0
                )
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as kids:
                    todo.extend(int(k) for k in kids.read().split())
        except (OSError, ValueError):
            continue
    return total


# The floors: the same cards, split naively from the text, written by genanki alone, all in
# one deck (argv[3] == "one") or with one subdeck per note like paperdeck's output.
FLOOR = r"""
import sys, genanki, zlib
from pathlib import Path
model = genanki.Model(1607392319, "floor", fields=[{"name": "Q"}, {"name": "A"}],
    templates=[{"name": "c", "qfmt": "{{Q}}", "afmt": "{{A}}"}])
decks = []
single = genanki.Deck(1, "all")
for path in sorted(Path(sys.argv[1]).glob("*.md")):
    text = path.read_text()
    deck_id = zlib.crc32(path.name.encode())
    deck = single if sys.argv[3] == "one" else genanki.Deck(deck_id, path.stem)
    for block in text.split("\nQ: ")[1:]:
        q, _, rest = block.partition("\nA: ")
        a, _, tail = rest.partition("\n<!--ID: ")
        deck.add_note(genanki.Note(model, [q, a], guid=tail.partition("-->")[0]))
    if deck is not single:
        decks.append(deck)
genanki.Package(decks or [single]).write_to_file(sys.argv[2], timestamp=0)
"""


# The parser's floor: each note's whole text rendered once by paperdeck's Markdown dialect,
# in one process per core (no card splitting, math checks, sanitizing or deck).
MARKDOWN_FLOOR = r"""
import os, sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from paperdeck.cards.render import make_markdown

md = make_markdown()

def render(paths):
    return sum(len(md.render(Path(p).read_text(encoding="utf-8"))) for p in paths)

if __name__ == "__main__":
    paths = sorted(str(p) for p in Path(sys.argv[1]).glob("*.md"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    chunks = [paths[i :: cores * 8] for i in range(cores * 8)]
    with ProcessPoolExecutor(cores) as pool:
        print(sum(pool.map(render, chunks)))
"""


@dataclass(frozen=True)
class Size:
    """Everything measured for one vault size."""

    notes: int
    cards: int
    floor_one: Run
    floor_subdecks: Run | None
    floor_markdown: Run | None
    """The parser's floor (``None`` for a baseline's vault: it is the same text)."""
    cold: Run
    first: Run
    """The first no-op build after the cold one."""
    noop: list[Run]
    edit: list[Run]


def measure(notes: int, cards_per_note: int, repeat: int, subdeck_limit: int, code: Path) -> Size:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cards = make_vault(work / "vault", notes, cards_per_note)
        floor_one = median_run([python, "-c", FLOOR, "vault", "floor1.apkg", "one"], work, repeat)
        floor_sub = None
        if notes <= subdeck_limit:
            floor_sub = timed([python, "-c", FLOOR, "vault", "floor.apkg", "subdecks"], work)
        (work / "markdown_floor.py").write_text(MARKDOWN_FLOOR, encoding="utf-8")
        floor_md = median_run([python, "markdown_floor.py", "vault"], work, repeat, code)
        cold, first, noop, edit = builds(work, notes, repeat, code)
    return Size(notes, cards, floor_one, floor_sub, floor_md, cold, first, noop, edit)


def builds(
    work: Path, notes: int, repeat: int, code: Path
) -> tuple[Run, Run, list[Run], list[Run]]:
    """The cold build, the first no-op, the no-ops and the one-note edits of a vault."""
    paperdeck = [sys.executable, "-m", "paperdeck", "build", "vault", "-o", "out.apkg"]
    colds = []
    for _ in range(repeat):  # each from nothing: no deck, no build cache, no card state
        for made in (work / "out.apkg", work / ".paperdeck-cache", work / "vault" / ".paperdeck"):
            if made.is_dir():
                shutil.rmtree(made)
            else:
                made.unlink(missing_ok=True)
        colds.append(timed(paperdeck, work, code))
    cold = _median_of(colds)
    first = timed(paperdeck, work, code)  # re-reads the notes written just before the cold build
    noop = [timed(paperdeck, work, code) for _ in range(repeat)]
    edit = []
    for attempt in range(repeat):
        note = work / "vault" / f"paper-{notes // 2 + attempt:05d}.md"
        note.write_text(note.read_text().replace("An answer", "An edited answer", 1))
        edit.append(timed(paperdeck, work, code))
    return cold, first, noop, edit


def baseline(notes: int, cards_per_note: int, repeat: int, code: Path) -> Size:
    """The builds of another version of paperdeck (``code``), on the same vault."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cards = make_vault(work / "vault", notes, cards_per_note)
        cold, first, noop, edit = builds(work, notes, repeat, code)
    return Size(notes, cards, cold, None, None, cold, first, noop, edit)


def _snapshot(package: Path, folder: Path) -> Path:
    """A byte-compiled copy of a ``paperdeck`` package, to run.

    A copy: the build cache depends on the package's source, so an edit made to the working
    tree during a run would otherwise turn a measured edit into a full build. Byte-compiled:
    ``pip install`` compiles a package and Python caches what it imports, so a user's
    build never compiles paperdeck's source; without this, every measured build would
    (about 0.1 s on a 2-core machine) wherever ``PYTHONDONTWRITEBYTECODE`` is set."""
    shutil.copytree(package, folder / "paperdeck")
    if not compileall.compile_dir(folder, quiet=1):
        sys.exit(f"could not byte-compile {package}")
    return folder


def median(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if "model name" in line), cpu
            )
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{cpu}, {os.cpu_count()} cores ({usable} usable), Python {platform.python_version()} "
        f"on {platform.system()} {platform.release()}; load average {load}"
    )


def report(sizes: list[Size], repeat: int, before: str) -> None:
    print(f"machine: {before}")
    print(f"after:   {machine()}\n")
    print("Floors and the cold build. genanki: the same cards, bare genanki, no parsing or")
    print("rendering. markdown-it-py: each note's text rendered once, every core, no deck:\n")
    print(
        "| notes | cards | genanki, one deck (floor) | genanki, subdeck per note "
        "(quadratic) | markdown-it-py, each note once | paperdeck cold "
        "| cold / one-deck floor | markdown-it-py floor / one-deck floor |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in sizes:
        sub = f"{s.floor_subdecks.seconds:.2f} s" if s.floor_subdecks else "skipped"
        parsed = s.floor_markdown.seconds if s.floor_markdown else float("nan")
        print(
            f"| {s.notes:,} | {s.cards:,} | {s.floor_one.seconds:.2f} s | {sub} | "
            f"{parsed:.2f} s | {s.cold.seconds:.2f} s | "
            f"{s.cold.seconds / s.floor_one.seconds:.1f}x | {parsed / s.floor_one.seconds:.1f}x |"
        )
    print(f"\nBuilds (no-op and edit: median of {repeat}; the first no-op after the cold build")
    print("re-reads the notes written in the 2 s before the cold build read them):\n")
    print("| notes | cold | first no-op | no-op | no-op / cold | one-note edit | edit / cold |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s in sizes:
        noop, edit = median(s.noop), median(s.edit)
        print(
            f"| {s.notes:,} | {s.cold.seconds:.2f} s | {s.first.seconds:.3f} s | {noop:.3f} s"
            f" | {noop / s.cold.seconds:.1%} | {edit:.3f} s | {edit / s.cold.seconds:.1%} |"
        )
    print(
        "\nPeak memory, MB: the largest process / all of the build's processes together, "
        "by RSS (shared pages counted in each) / by PSS (shared pages split):\n"
    )
    print("| notes | cold | no-op | one-note edit | genanki, one deck |")
    print("|---:|---:|---:|---:|---:|")
    for s in sizes:
        cells = [
            f"{max(r.largest_mb for r in runs):.0f} / {max(r.total_mb for r in runs):.0f}"
            f" / {max(r.pss_mb for r in runs):.0f}"
            for runs in ([s.cold], [s.first, *s.noop], s.edit)
        ]
        print(f"| {s.notes:,} | {' | '.join(cells)} | {s.floor_one.largest_mb:.0f} |")


def compare(before: list[Size], after: list[Size], repeat: int) -> None:
    """Both versions' builds, side by side (measured in this run, one after the other)."""
    print(f"\nBefore (--baseline) and after, measured in this run (median of {repeat}):\n")
    print(
        "| notes | version | cold | no-op | no-op / cold | one-note edit | edit / cold "
        "| peak MB, largest process (cold / no-op / edit) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for old, new in zip(before, after, strict=True):
        for name, s in (("before", old), ("after", new)):
            noop, edit, cold = median(s.noop), median(s.edit), s.cold.seconds
            peaks = " / ".join(
                f"{max(r.largest_mb for r in runs):.0f}" for runs in ([s.cold], s.noop, s.edit)
            )
            print(
                f"| {s.notes:,} | {name} | {cold:.2f} s | {noop:.3f} s | {noop / cold:.1%} "
                f"| {edit:.3f} s | {edit / cold:.1%} | {peaks} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--cards-per-note", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--subdeck-limit",
        type=int,
        default=5000,
        help="largest vault to time the quadratic subdeck-per-note floor on",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="a folder holding another version's paperdeck package (such as the src/ of "
        "`git archive HEAD src`): its builds are measured too, before this version's",
    )
    args = parser.parse_args()
    before = machine()
    old: list[Size] = []
    with tempfile.TemporaryDirectory() as code:
        import paperdeck

        here = _snapshot(Path(paperdeck.__file__).parent, Path(code) / "current")
        if args.baseline is not None:
            then = _snapshot(args.baseline / "paperdeck", Path(code) / "baseline")
        sizes = []
        for n in args.notes:
            if args.baseline is not None:
                old.append(baseline(n, args.cards_per_note, args.repeat, then))
            sizes.append(measure(n, args.cards_per_note, args.repeat, args.subdeck_limit, here))
    report(sizes, args.repeat, before)
    if old:
        compare(old, sizes, args.repeat)


if __name__ == "__main__":
    main()
