"""Time paperdeck.gumbel.gumbel_softmax against torch.nn.functional.gumbel_softmax.

Same process, CPU, float32. For every shape, thread count and mode (soft, hard) it times
three groups, each alternating its contenders within every round (in a rotating order) so
that load drift hits them alike:

* the floor: ``torch.rand`` of the same shape (the floor of any sampler: one uniform per
  entry) and our forward, a sample from logits that need no gradient;
* forward+backward: ``loss = (y * w).sum(); loss.backward()`` with ``logits.requires_grad``
  and a fixed random ``w``, the gradient really computed into ``logits.grad``; ours and
  torch's;
* torch's forward alone.

Each ratio compares contenders of one group. The groups are timed apart because a
contender leaves caches that slow whatever runs next, a many-kernel one more than
one-kernel ``rand``: a forward+backward does, and so does torch's forward (its
``exponential_`` and short-row softmax), which in the floor's group slowed our forward at
4096x10 by 3% on a quiet machine and by up to 20% on a busy one, and ``rand`` hardly.

It prints the machine, then a markdown table of medians (ms) and the ratios the targets are
stated in: our forward over ``rand`` (at most 2) and torch's forward+backward over ours (at
least 2); then the cells where a contender's calls page-faulted (fresh memory from the
system costs ~1.5 us a 4 KiB page here, a noise that depends on what ran before); the last
line names the worst of each ratio.

    .venv/bin/python bench/bench_gumbel.py [--repeats 31] [--tau 0.5] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from paperdeck.gumbel import gumbel_softmax

SHAPES: list[tuple[int, int]] = [(4096, 10), (1024, 1000), (64, 50000), (1_000_000, 3)]
NAMES = ("rand", "ours fwd", "torch fwd", "ours f+b", "torch f+b")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def medians(
    fns: list[Callable[[], object]], repeats: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Median wall time (ms) and minor page faults of each function; each round runs them
    all, in a rotating order."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    faults: list[list[int]] = [[] for _ in fns]
    for r in range(repeats):
        for j in range(len(fns)):
            i = (j + r) % len(fns)
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - t0)
            faults[i].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    ms = [1e3 * statistics.median(ts) for ts in times]
    return ms, [statistics.median(fs) for fs in faults]


def contenders(shape: tuple[int, int], tau: float, hard: bool) -> list[Callable[[], object]]:
    """The five timed calls of one table row, in the order of ``NAMES``."""
    logits = torch.randn(shape)
    leaf = logits.clone().requires_grad_()
    weights = torch.randn(shape)

    def forward_backward(sample: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            leaf.grad = None
            (sample(leaf) * weights).sum().backward()  # type: ignore[no-untyped-call]
            assert leaf.grad is not None

        return run

    def ours(x: torch.Tensor) -> torch.Tensor:
        return gumbel_softmax(x, tau, hard=hard)

    def theirs(x: torch.Tensor) -> torch.Tensor:
        return F.gumbel_softmax(x, tau=tau, hard=hard)

    return [
        lambda: torch.rand(shape),
        lambda: ours(logits),
        lambda: theirs(logits),
        forward_backward(ours),
        forward_backward(theirs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",")]

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{cpu_model()}, {os.cpu_count()} cores (load average {load}); torch "
        f"{torch.__version__}, {torch.backends.cpu.get_cpu_capability()}; float32 CPU, "
        f"tau={args.tau}; median of {args.repeats} alternating runs after {args.warmup} "
        "warm-up runs; ms\n"
    )
    print(
        "| shape | threads | mode | rand | ours fwd | torch fwd | ours fwd / rand "
        "| ours f+b | torch f+b | torch / ours f+b |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    worst_fwd = (0.0, "")
    worst_fb = (float("inf"), "")
    faulted: list[str] = []
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        for shape in SHAPES:
            for hard in (False, True):
                torch.manual_seed(0)
                fns = contenders(shape, args.tau, hard)
                (rand, fwd), floor_faults = medians(fns[:2], args.repeats, args.warmup)
                (fb, ref_fb), fb_faults = medians(fns[3:], args.repeats, args.warmup)
                (ref_fwd,), torch_faults = medians(fns[2:3], args.repeats, args.warmup)
                mode = "hard" if hard else "soft"
                where = f"{shape[0]}x{shape[1]}, {n_threads} thread(s), {mode}"
                counts = zip(NAMES, [*floor_faults, *torch_faults, *fb_faults], strict=True)
                if some := ", ".join(f"{name} {c:.0f}" for name, c in counts if c):
                    faulted.append(f"{where}: {some}")
                worst_fwd = max(worst_fwd, (fwd / rand, where))
                worst_fb = min(worst_fb, (ref_fb / fb, where))
                print(
                    f"| {shape[0]}x{shape[1]} | {n_threads} | {mode} | {rand:.3f} | {fwd:.3f} "
                    f"| {ref_fwd:.3f} | {fwd / rand:.2f} | {fb:.3f} | {ref_fb:.3f} "
                    f"| {ref_fb / fb:.2f} |"
                )
    print("\npage faults a call (median), where any: " + ("; ".join(faulted) or "none"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nworst ours fwd / rand: {worst_fwd[0]:.2f} ({worst_fwd[1]}); "
        f"worst torch / ours f+b: {worst_fb[0]:.2f} ({worst_fb[1]}); load average at the end "
        f"{load} (other work on the machine skews most the runs on every core)"
    )


if __name__ == "__main__":
    main()
