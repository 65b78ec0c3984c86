"""Run the benchmarks, print a Markdown table and write it to bench/results.md.

Each row runs in a fresh process (`bench/row.py`): median wall time of the
timed runs, subjects/s, peak resident memory, and the ratio to a floor timed
in the same process, interleaved with the runs: the exp floor for W1 and W2,
the normal-draw floor for C1. Rows whose runs would take too long are
skipped, with the reason, and the targets of the issues are checked at the end.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

SIZES = (1_000, 10_000, 100_000, 1_000_000)
ENGINES = ("analytic", "ode")
EXPOSURE_SIZE = 10_000_000
DASK_SIZE = 1_000_000
DASK_WORKERS = 2
COHORT_SIZE = 1_000_000
MAP_SIZE = 10_000
MALLOC_TRIM = 2**30  # the Dask row again with workers trimming their heap above 1 GiB, not 64 KiB
BUDGET_S = 120.0  # a size-sweep row is skipped if its runs (timed + untimed first) would take longer


def plan(args) -> list[dict]:
    """The rows to run, in order: W1 and W2 by engine and size, exposure-only, Dask, C1."""
    rows = [{"workload": w, "engine": e, "n": n, "mode": "simulate"}
            for w in ("W1", "W2") for e in args.engines for n in sorted(args.sizes)]
    if args.exposure_size:
        rows.append({"workload": "W1", "engine": "analytic", "n": args.exposure_size,
                     "mode": "exposure"})
    if args.dask_size:
        rows += [{"workload": "W1", "engine": "analytic", "n": args.dask_size, "mode": "exposure"},
                 {"workload": "W1", "engine": "analytic", "n": args.dask_size, "mode": "dask",
                  "workers": DASK_WORKERS},
                 {"workload": "W1", "engine": "analytic", "n": args.dask_size, "mode": "dask",
                  "workers": DASK_WORKERS, "malloc_trim": MALLOC_TRIM}]
    rows += [{"workload": "C1", "engine": "-", "n": n, "mode": "cohort"} for n in args.cohort_sizes]
    rows += [{"workload": "E1", "engine": "analytic", "n": n, "mode": m} for n in args.map_sizes
             for m in ("map", "map-split")]
    unique = []
    for row in rows:
        if row not in unique:
            unique.append(row)
    return [{**row, "repeats": args.repeats} for row in unique]


def skip_reason(row: dict, done: list[dict], args) -> str | None:
    """Why a row is not run: above --max-n, or (a size-sweep row) its runs would exceed the budget."""
    if row["n"] > args.max_n:
        return f"N above --max-n {args.max_n:,}"
    if row["mode"] != "simulate":
        return None
    before = [r for r in done if (r["workload"], r["engine"], r["mode"]) ==
              (row["workload"], row["engine"], row["mode"]) and r["n"] < row["n"]]
    if not before:
        return None
    last = before[-1]
    estimate = last["seconds"] * row["n"] / last["n"]
    total = estimate * (1 + min(row["repeats"], 3))
    if total > args.budget_s:
        return (f"about {estimate:,.0f} s a run (N/{row['n'] // last['n']} took "
                f"{last['seconds']:.1f} s, scaled linearly); its {1 + min(row['repeats'], 3)} "
                f"runs would take {total / 60:,.0f} min, over the {args.budget_s:.0f} s row budget")
    return None


# one BLAS thread, as Dask runs its workers: each row is one core against the one-core floor
# (a multi-threaded BLAS also spins a second core for nothing on the small products here)
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def run_row(row: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.row", json.dumps(row)], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parents[1],
                         env={**os.environ, **ONE_THREAD})
    return json.loads(out.stdout.strip().splitlines()[-1])


MODES = {"simulate": "whole Result", "exposure": "exposure only, chunked",
         "dask": f"exposure only, Dask {DASK_WORKERS} workers", "cohort": "cohort",
         "map": "MAP, 4 obs each, from the data frame", "map-split": "MAP, 4 obs each, data read before"}


def mode(row: dict) -> str:
    """The mode column: what was run, and how the Dask workers were set up."""
    return MODES[row["mode"]] + (f", {dask_setup(row)}" if row["mode"] == "dask" else "")


def dask_setup(row: dict) -> str:
    if "malloc_trim" in row:
        return f"workers' MALLOC_TRIM_THRESHOLD_ {row['malloc_trim'] / 2**30:g} GiB"
    return "Dask's defaults"


def table(rows: list[dict]) -> str:
    lines = ["| workload | engine | mode | N | runs | median s | subjects/s | peak RSS MB | "
             "floor s | ratio to floor |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['engine']} | {mode(r)} | {r['n']:,} | "
                     f"{r['runs']} | {r['seconds']:.4g} | {r['subjects_per_s']:,.0f} | "
                     f"{r['peak_mb']:,.0f} | {r['floor_s']:.4g} | {r['ratio']:.2f} |")
    return "\n".join(lines)


# the issues' ratio-to-floor targets: workload, engine, N, at most x floor, issue
FLOOR_TARGETS = (("W1", "analytic", 100_000, 2, 8), ("W1", "analytic", 10_000, 3, 2),
                 ("W2", "analytic", 10_000, 10, 3), ("W1", "ode", 10_000, 200, 2))


def targets(rows: list[dict]) -> list[str]:
    """The issues' targets, each met, not met, or not measured in this run."""
    def find(workload, engine, mode, n):
        return next((r for r in rows if (r["workload"], r["engine"], r["mode"], r["n"]) ==
                     (workload, engine, mode, n)), None)

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    lines = []
    for workload, engine, n, limit, issue in FLOOR_TARGETS:
        r = find(workload, engine, "simulate", n)
        lines.append(f"- {workload} {engine} at N = {n:,} within {limit:g}x the exp floor "
                     f"(issue {issue}): " + (f"{r['ratio']:.2f}x — {verdict(r['ratio'] <= limit)}"
                                             if r else "not measured"))
    r = find("W1", "analytic", "exposure", EXPOSURE_SIZE)
    lines.append(f"- Exposure-only W1 for {EXPOSURE_SIZE:,} children in under 10 minutes with "
                 "memory under 2 GB on this 2-core machine (issue 8): " + (
                     f"{r['seconds']:.0f} s, peak {r['peak_mb']:,.0f} MB — "
                     f"{verdict(r['seconds'] < 600 and r['peak_mb'] < 2000)}" if r
                     else "not measured"))
    single = find("W1", "analytic", "exposure", DASK_SIZE)
    dask = [r for r in rows if r["mode"] == "dask" and r["n"] == DASK_SIZE]
    lines.append(f"- Dask overhead at N = {DASK_SIZE:,}, {DASK_WORKERS} local workers, exposure "
                 "only (issue 8, reported): " + ("; ".join(
                     f"{r['seconds']:.2f} s on Dask ({dask_setup(r)}) vs "
                     f"{single['seconds']:.2f} s in one process, ratio "
                     f"{r['seconds'] / single['seconds']:.2f}" for r in dask)
                     + f" ({dask[0]['notes']})" if single and dask else "not measured"))
    for m in ("map", "map-split"):
        r = find("E1", "analytic", m, MAP_SIZE)
        lines.append(f"- E1 ({MODES[m]}): MAP of {MAP_SIZE:,} children in under 10 s (issue 16): "
                     + (f"{r['seconds']:.1f} s, {r['subjects_per_s']:,.0f} subjects/s — "
                        f"{verdict(r['seconds'] < 10)}" if r else "not measured"))
    r = find("C1", "-", "cohort", 1_000_000)
    lines.append("- C1: 1,000,000 growth-chart children in under a few seconds (issue 5): " + (
        f"{r['seconds']:.2f} s — {verdict(r['seconds'] < 5)}" if r else "not measured"))
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (3 for long rows)")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--engines", nargs="*", default=list(ENGINES))
    parser.add_argument("--exposure-size", type=int, default=EXPOSURE_SIZE,
                        help="N of the exposure-only row (0: none)")
    parser.add_argument("--dask-size", type=int, default=DASK_SIZE,
                        help="N of the Dask vs one-process rows (0: none)")
    parser.add_argument("--cohort-sizes", type=int, nargs="*", default=[COHORT_SIZE])
    parser.add_argument("--map-sizes", type=int, nargs="*", default=[MAP_SIZE])
    parser.add_argument("--max-n", type=int, default=10**8, help="skip rows above this N")
    parser.add_argument("--budget-s", type=float, default=BUDGET_S,
                        help="skip a row whose runs would take longer (estimated)")
    parser.add_argument("--quick", action="store_true",
                        help="N up to 10,000, 3 runs, no exposure-only or Dask rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_n, args.repeats, args.exposure_size, args.dask_size = 10_000, 3, 0, 0
    done, skipped = [], []
    for row in plan(args):
        reason = skip_reason(row, done, args)
        if reason:
            skipped.append(f"- {row['workload']} {row['engine']} ({mode(row)}), "
                           f"N = {row['n']:,}: {reason}")
            print(skipped[-1], flush=True)
            continue
        done.append(run_row(row))
        print(table(done[-1:]).splitlines()[-1], flush=True)
    text = (f"# Benchmark results\n\n{date.today()}, Python {platform.python_version()}, "
            f"{platform.machine()}; `python -m bench {' '.join(argv or sys.argv[1:])}`. Each row "
            "in a fresh process: median of the timed runs; peak RSS from getrusage after an "
            "untimed first run; floor timed in the same process, interleaved (exp floor on at "
            "most 100,000 rows, scaled linearly above); one BLAS thread.\n\n"
            f"{table(done)}\n\n## Skipped\n\n" + ("\n".join(skipped) or "none") +
            "\n\n## Targets\n\n" + "\n".join(targets(done)) + "\n")
    Path(__file__).with_name("results.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["ode"]:   # the ode engine's rows (bench/ode.py)
        from .ode import main as ode_main
        sys.exit(ode_main(sys.argv[2:]))
    main()
