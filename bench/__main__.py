"""Run the benchmarks, print a Markdown table and write it to bench/results.md.

Each row: median wall time of `repeats` runs, subjects/s, and the ratio to
the exp floor (median of the same number of floor timings taken interleaved
with the runs, so both see the same machine load).
"""

import argparse
import platform
import statistics
from datetime import date
from pathlib import Path

from .workloads import exp_floor, run_w1

SIZES = (1_000, 10_000, 100_000)
ENGINES = ("analytic", "ode")


def measure(n: int, engine: str, repeats: int) -> dict:
    run_w1(min(n, 1000), engine)  # warm caches and imports
    runs, floors = [], []
    for _ in range(repeats):
        floors.append(exp_floor(n))
        runs.append(run_w1(n, engine))
    seconds, floor = statistics.median(runs), statistics.median(floors)
    return {"workload": "W1", "engine": engine, "N": n, "seconds": seconds,
            "subjects_per_s": n / seconds, "floor_s": floor, "ratio": seconds / floor}


def table(rows: list[dict]) -> str:
    lines = ["| workload | engine | N | median s | subjects/s | exp floor s | ratio to floor |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['engine']} | {r['N']:,} | {r['seconds']:.4f} | "
                     f"{r['subjects_per_s']:,.0f} | {r['floor_s']:.4f} | {r['ratio']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES))
    args = parser.parse_args(argv)
    rows = []
    for engine in args.engines:
        for n in args.sizes:
            rows.append(measure(n, engine, args.repeats))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"# Benchmark results\n\n{date.today()}, Python {platform.python_version()}, "
            f"{platform.machine()}; median of {args.repeats} runs each.\n\n{table(rows)}\n")
    Path(__file__).with_name("results.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
