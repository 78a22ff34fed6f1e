"""Build times of the example vault: cold (figures rendered), cached, and a no-op build
measured against the cost of importing torch, all in this one run.

The no-op build must stay far below ``python -c "import torch"``: a build with nothing to
render imports neither torch nor matplotlib (target: below half of the torch import).

Run: ``.venv/bin/python bench/bench_build.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def seconds(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def machine() -> str:
    """CPU, cores, Python and load, so that tables from two runs can be compared."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = (line.split(":", 1)[1].strip() for line in info if "model name" in line)
            cpu = next(names, cpu)
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores ({usable} usable), Python "
        f"{platform.python_version()}, load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    build = [python, "-m", "paperdeck", "build", "notes"]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "notes", work / "notes")
        cold = []
        for _ in range(max(1, args.repeat // 2)):
            for generated in ("figures", "cards", ".paperdeck-cache"):
                shutil.rmtree(work / generated, ignore_errors=True)
            cold.append(seconds(build, work))
        shutil.rmtree(work / ".paperdeck-cache")
        figures_cached = seconds(build, work)  # figures kept, notes parsed again
        note = next((work / "notes").glob("*.md"))
        edits = []
        for i in range(args.repeat):
            note.write_text(note.read_text() + f"\nEdit {i}.\n")
            edits.append(seconds(build, work))
        noop = [seconds(build, work) for _ in range(args.repeat)]
        torch = [seconds([python, "-c", "import torch"], work) for _ in range(args.repeat)]
        bare = [seconds([python, "-c", "pass"], work) for _ in range(args.repeat)]

    print(f"machine: {machine()}; median of {args.repeat} runs (cold: {len(cold)})\n")
    rows = [
        ("cold build (renders 2 figures)", statistics.median(cold)),
        ("build with figures cached, no parse cache", figures_cached),
        ("build after editing the note (figures cached)", statistics.median(edits)),
        ("no-op build", statistics.median(noop)),
        ('python -c "import torch"', statistics.median(torch)),
        ('python -c "pass"', statistics.median(bare)),
    ]
    torch_s = statistics.median(torch)
    print("| run | median seconds | / import torch |")
    print("|---|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} | {value / torch_s:.2f} |")
    ratio = statistics.median(noop) / statistics.median(torch)
    print(f"\nno-op build / import torch = {ratio:.2f} (target < 0.5)")


if __name__ == "__main__":
    main()
