"""Run the benchmarks, print a Markdown table and write it to bench/results.md.

Each row: median wall time of `repeats` runs, subjects/s, and the ratio to
a floor (median of the same number of floor timings taken interleaved with
the runs, so both see the same machine load): the exp floor for W1, the
normal-draw floor for C1.
"""

import argparse
import platform
import statistics
from datetime import date
from pathlib import Path

from .workloads import exp_floor, normal_floor, run_c1, run_w1

SIZES = (1_000, 10_000, 100_000)
ENGINES = ("analytic", "ode")
COHORT_SIZES = (1_000_000,)


def measure(n: int, engine: str, repeats: int) -> dict:
    run_w1(min(n, 1000), engine)  # warm caches and imports
    return _timed("W1", engine, n, repeats, lambda: run_w1(n, engine), lambda: exp_floor(n))


def measure_cohort(n: int, repeats: int) -> dict:
    run_c1(1000)  # load the growth charts once
    return _timed("C1", "-", n, repeats, lambda: run_c1(n), lambda: normal_floor(n))


def _timed(workload: str, engine: str, n: int, repeats: int, run, floor) -> dict:
    runs, floors = [], []
    for _ in range(repeats):
        floors.append(floor())
        runs.append(run())
    seconds, floor_s = statistics.median(runs), statistics.median(floors)
    return {"workload": workload, "engine": engine, "N": n, "seconds": seconds,
            "subjects_per_s": n / seconds, "floor_s": floor_s, "ratio": seconds / floor_s}


def table(rows: list[dict]) -> str:
    lines = ["| workload | engine | N | median s | subjects/s | floor s | ratio to floor |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['engine']} | {r['N']:,} | {r['seconds']:.4f} | "
                     f"{r['subjects_per_s']:,.0f} | {r['floor_s']:.4f} | {r['ratio']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--engines", nargs="*", default=list(ENGINES))
    parser.add_argument("--cohort-sizes", type=int, nargs="*", default=list(COHORT_SIZES))
    args = parser.parse_args(argv)
    rows = []
    for engine in args.engines:
        for n in args.sizes:
            rows.append(measure(n, engine, args.repeats))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    for n in args.cohort_sizes:
        rows.append(measure_cohort(n, args.repeats))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"# Benchmark results\n\n{date.today()}, Python {platform.python_version()}, "
            f"{platform.machine()}; median of {args.repeats} runs each.\n\n{table(rows)}\n")
    Path(__file__).with_name("results.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
