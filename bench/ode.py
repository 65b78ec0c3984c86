"""The ode engine's rows: W1, W2, W4c and W6 at N = 10,000 against the exp floor (issues 14, 20).

    python -m bench ode [--n 10000] [--repeats 3] [--method rodas5p] [--kernel numba,numpy] [--threads 1,2]
    [--profile W1]

The workloads are bench.workloads' (bench/README.md): W1 the card model, W2 the
6-state He 2014 system, W4c W1 on issue 20's clock-time regimen with 10 % of
doses missed and timing jitter (SD 0.5 h: each child its own dose times), W6 W1 with
Michaelis-Menten elimination (bench/models/w6_mm_oral.toml). Each row runs in a
fresh process: one untimed run (peak RSS after it), then `repeats` timed runs,
each right after an exp-floor timing in the same process; the ratio is median
run / median floor. Two error columns, against the analytic engine (exact) or, for W6
(nonlinear), the ode engine at rtol 1e-12 on the first REFERENCE_N children (each child is
integrated on its own: the default run of those children alone is checked to give the same
numbers bit for bit): per child, its largest difference over its peak (the issues' "1e-6
relative per child"); and pointwise, the largest relative difference over concentrations
above 1e-6 of the child's peak.
`--method` runs the ode engine with that method instead of its default (the engine's
method column). `--kernel` runs each workload on each of these (the engine option kernel:
"numba", the compiled Rodas5P kernel, or "numpy"; default both, numba first); the first
call's seconds (in a fresh process: numba imported, the kernel read from its disk cache,
the model's functions compiled; for numpy the model's numpy code) are their own column.
`--threads` runs each numba row on each of these (the engine option threads: the kernel's
children split over that many threads; the floor stays numpy's one thread).
The rows replace their own section of bench/results.md.
"""

import argparse
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import pkmodel as pk

from .workloads import W1_TIMES, exp_floor, simulate_once

TARGETS = {"W1": (200, 14), "W2": (1000, 14), "W4c": (60, 20), "W6": (200, 14)}  # at most x floor, issue
REFERENCE_N = 1000  # W6's rtol-1e-12 reference on this many children
REFERENCE_OPTIONS = {"rtol": 1e-12, "atol": 1e-12, "method": "rodas5p"}  # atol mg
BEGIN, END = "<!-- bench/ode.py: begin -->", "<!-- bench/ode.py: end -->"


def run(workload: str, n: int, engine: str = "ode", **options) -> tuple[float, np.ndarray]:
    """Seconds of one `pk.simulate` (bench.workloads.simulate_once) and the concentrations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pk.ValidityWarning)
        seconds, result = simulate_once(workload, n, engine, **options)
    return seconds, np.asarray(result.concentrations)


def reference(workload: str, n: int, c: np.ndarray, **options) -> tuple[np.ndarray, np.ndarray]:
    """(the run's concentrations, the reference) for the children compared."""
    if workload != "W6":
        return c, run(workload, n, "analytic")[1]
    k = min(n, REFERENCE_N)
    if not np.array_equal(run(workload, k, **options)[1], c[:k]):
        raise RuntimeError(f"{workload}: the first {k} children alone differ from the same in the whole run")
    return c[:k], run(workload, k, **REFERENCE_OPTIONS)[1]


def measure(
    workload: str,
    n: int,
    repeats: int,
    method: str | None = None,
    kernel: str | None = None,
    threads: int = 1,
) -> dict:
    """One row, in this process; method and kernel None: the engine's defaults."""
    options: dict = {} if method is None else {"method": method}
    if kernel is not None:
        options["kernel"] = kernel
    if threads != 1:
        options["threads"] = threads
    start = time.perf_counter()
    _, c = run(workload, n, **options)
    first_s = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    got, exact = reference(workload, n, c, **options)
    peak = exact.max(axis=1, keepdims=True)
    per_child = float(np.max(np.abs(got - exact).max(axis=1) / peak[:, 0]))
    visible = exact > 1e-6 * peak
    error = float(np.max(np.abs(got[visible] / exact[visible] - 1)))
    runs, floors = [], []
    for _ in range(repeats):
        floors.append(exp_floor(n, W1_TIMES.size))
        runs.append(run(workload, n, **options)[0])
    seconds, floor_s = statistics.median(runs), statistics.median(floors)
    return {
        "workload": workload,
        "method": method or "default",
        "kernel": kernel or "auto",
        "threads": threads,
        "first_s": first_s,
        "n": n,
        "runs": repeats,
        "seconds": seconds,
        "floor_s": floor_s,
        "ratio": seconds / floor_s,
        "peak_mb": peak_mb,
        "per_child": per_child,
        "compared": got.shape[0],
        "error": error,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| workload | engine | method | kernel | threads | N | runs | first call s | median s | floor s | ratio to floor | "
        "target | peak RSS MB | children compared | max error / child's peak | max rel. error (C > 1e-6 peak) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        limit, issue = TARGETS[r["workload"]]
        verdict = "met" if r["ratio"] <= limit else "not met"
        lines.append(
            f"| {r['workload']} | ode | {r.get('method', 'rodas5p')} | {r.get('kernel', 'numpy')} | "
            f"{r.get('threads', 1)} | {r['n']:,} | "
            f"{r['runs']} | {r['first_s']:.3g} | {r['seconds']:.3g} | "
            f"{r['floor_s']:.3g} | {r['ratio']:.0f} | <= {limit}x (issue {issue}): "
            f"**{verdict}** | {r['peak_mb']:,.0f} | {r['compared']:,} | {r['per_child']:.2g} | "
            f"{r['error']:.2g} |"
        )
    return "\n".join(lines)


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return "unknown CPU"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ode")
    parser.add_argument("workloads", nargs="*", default=list(TARGETS))
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--method", default=None, help="the ode engine's method (default: its default)")
    parser.add_argument(
        "--kernel",
        default="numba,numpy",
        help="the ode engine's kernel(s), comma-separated (default numba,numpy)",
    )
    parser.add_argument(
        "--threads", default="1", help="the kernel's threads, comma-separated (default 1; numba rows only)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one run of each, no table")
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args(argv)
    if args.profile:
        for w in args.workloads:
            run(w, min(args.n, 1000))
            profile = cProfile.Profile()
            options = {
                "kernel": args.kernel.split(",")[0],
                **({"method": args.method} if args.method else {}),
            }
            profile.runcall(run, w, args.n, **options)
            print(f"--- {w}, N = {args.n:,}")
            pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        return 0
    if args.row:
        row = measure(args.workloads[0], args.n, args.repeats, args.method, args.kernel, int(args.threads))
        print(json.dumps(row))
        return 0
    rows = []
    # each row in a fresh process, one BLAS thread (as bench/__main__)
    cases = [
        (w, k, t)
        for w in args.workloads
        for k in args.kernel.split(",")
        for t in (args.threads.split(",") if k == "numba" else ["1"])
    ]
    for w, kernel, threads in cases:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "ode",
                w,
                "--row",
                "--n",
                str(args.n),
                "--repeats",
                str(args.repeats),
                *(["--method", args.method] if args.method else []),
                "--kernel",
                kernel,
                "--threads",
                threads,
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[1],
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    section = (
        f"{BEGIN}\n## The ode engine (bench/ode.py)\n\n"
        f"`python -m bench ode {' '.join(argv if argv is not None else sys.argv[2:])}` on "
        f"{cpu()}, load average {load} when it ended (2 cores shared). Median of the timed "
        f"runs, each after an exp-floor timing in the same process.\n\n{table(rows)}\n{END}"
    )
    path = Path(__file__).with_name("results.md")
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    print("\n" + section)
    return 0
