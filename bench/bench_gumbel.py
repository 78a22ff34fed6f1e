"""Time paperdeck.gumbel.gumbel_softmax against torch.nn.functional.gumbel_softmax.

Same process, CPU, float32, forward sampling (logits without grad unless --grad).
Median of repeated, alternating runs after warm-up; prints a markdown table.

    .venv/bin/python bench/bench_gumbel.py [--repeats 30] [--tau 0.5] [--grad]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from paperdeck.gumbel import gumbel_softmax

SHAPES: list[tuple[int, int]] = [(4096, 10), (1024, 1000), (64, 50000), (1_000_000, 3)]


def median_ms(
    fns: tuple[Callable[[], object], Callable[[], object]], repeats: int, warmup: int
) -> tuple[float, float]:
    """Median wall time of each function, run alternately so load drift hits both alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--grad", action="store_true", help="logits.requires_grad=True")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 CPU, "
        f"tau={args.tau}, grad={args.grad}, median of {args.repeats} runs\n"
    )
    print("| shape | mode | torch ms | paperdeck ms | speedup |")
    print("|---|---|---:|---:|---:|")
    for shape in SHAPES:
        logits = torch.randn(shape).requires_grad_(args.grad)
        for hard in (False, True):

            def ref(x: torch.Tensor = logits, h: bool = hard) -> object:
                return F.gumbel_softmax(x, tau=args.tau, hard=h)

            def ours(x: torch.Tensor = logits, h: bool = hard) -> object:
                return gumbel_softmax(x, args.tau, hard=h)

            t_ref, t_ours = median_ms((ref, ours), args.repeats, args.warmup)
            mode = "hard" if hard else "soft"
            print(
                f"| {shape[0]}x{shape[1]} | {mode} | {t_ref:.3f} | {t_ours:.3f} "
                f"| {t_ref / t_ours:.2f}x |"
            )


if __name__ == "__main__":
    main()
