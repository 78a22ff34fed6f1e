"""Vault-scale build benchmark: a synthetic vault of 2,000 notes and 10,000 cards.

Measures, in one process run each (so the numbers are comparable on this machine):

- floor: the same 10,000 notes written by bare genanki, with no parsing or rendering;
- full build: ``paperdeck build`` on the vault with no previous deck and no cache;
- no-op rebuild: the same build again (median of 3);
- one-note edit: change one card's answer in one note, build again (median of 3 notes);
- peak memory (max RSS) of the full build.

Ratios are reported against the floor and the full build; targets from the issue: full
build within 3x the floor, one-note edit under 25% of a full build, memory under 500 MB.

Run: ``.venv/bin/python bench/bench_vault.py [--notes 2000] [--cards-per-note 5]``
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of a command run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) // 1024


# The floor: the same cards, split naively from the text, written by genanki alone; with one
# subdeck per note like paperdeck's output, or (argv[3] == "one") all in a single deck.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--cards-per-note", type=int, default=5)
    args = parser.parse_args()

    python = sys.executable
    paperdeck = [python, "-m", "paperdeck", "build", "vault", "-o", "out.apkg"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cards = make_vault(work / "vault", args.notes, args.cards_per_note)
        floor, floor_mb = timed([python, "-c", FLOOR, "vault", "floor.apkg", "subdecks"], work)
        floor_one, _ = timed([python, "-c", FLOOR, "vault", "floor1.apkg", "one"], work)
        full, full_mb = timed(paperdeck, work)
        noop = statistics.median(timed(paperdeck, work)[0] for _ in range(3))
        edits = []
        for attempt in range(3):
            note = work / "vault" / f"paper-{args.notes // 2 + attempt:05d}.md"
            note.write_text(note.read_text().replace("An answer", "An edited answer", 1))
            os.utime(note, (time.time() + 5, time.time() + 5))
            edits.append(timed(paperdeck, work)[0])
        edit = statistics.median(edits)
        shutil.rmtree(work / ".paperdeck-cache")
        cold_again, _ = timed(paperdeck, work)

    print(f"synthetic vault: {args.notes} notes, {cards} cards, 200 images\n")
    print("| run | seconds | vs floor | vs full build |")
    print("|---|---:|---:|---:|")
    for name, seconds in [
        ("genanki floor: one subdeck per note, as paperdeck writes", floor),
        ("genanki, all cards in a single deck (for scale)", floor_one),
        ("full build (cold)", full),
        ("no-op rebuild", noop),
        ("rebuild after editing one note", edit),
        ("full build, cache deleted, deck present", cold_again),
    ]:
        print(f"| {name} | {seconds:.2f} | {seconds / floor:.2f}x | {seconds / full:.0%} |")
    print(f"\npeak memory: full build {full_mb} MB, genanki floor {floor_mb} MB")


if __name__ == "__main__":
    main()
