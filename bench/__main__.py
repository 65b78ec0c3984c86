"""Run the benchmarks, print a Markdown table and write it to bench/results.md.

Each row runs in a fresh process (`bench/row.py`): median wall time of the
timed runs, subjects/s, peak resident memory, and the ratio to a floor timed
in the same process, interleaved with the runs: the exp floor for the W
workloads, the normal-draw floor for C1, one prediction for E1. Every row
process runs under an address-space limit (a MemoryError instead of the
machine's OOM killer) and a wall-clock limit; a row that fails is recorded
with its error. Rows whose runs would take too long are skipped, with the
reason, unless a target needs them; workloads pkmodel cannot run yet are
skipped saying why. The targets of the issues are checked at the end.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SIZES = (1_000, 10_000, 100_000, 1_000_000)
# the size sweeps: workload -> engine -> N
SWEEPS = {
    "W1": {"analytic": SIZES, "ode": (1_000, 10_000)},
    "W2": {"analytic": SIZES, "ode": (1_000, 10_000)},
    "W2c": {"analytic": SIZES, "ode": (1_000,)},
    "W4a": {"analytic": (10_000, 100_000)},
    "W4a-events": {"analytic": (10_000, 100_000)},
    "W4b": {"analytic": (10_000, 100_000)},
    "W4c": {"analytic": (10_000, 100_000), "ode": (1_000, 10_000)},
    "W6": {"ode": (10_000,)},
}
ENGINES = ("analytic", "ode")
EXPOSURE_SIZE = 10_000_000
DASK_SIZE = 1_000_000
DASK_WORKERS = 2
COHORT_SIZE = 1_000_000
MAP_SIZE = 10_000
DATASET_SIZE = 10_000  # W7
MALLOC_TRIM = 2**30  # the Dask row again with workers trimming their heap above 1 GiB, not 64 KiB
BUDGET_S = 120.0  # a size-sweep row is skipped if its runs (timed + untimed first) would take longer
ROW_TIMEOUT_S = 900.0  # a row process still running after this is stopped, and the row failed
MEMORY_FRACTION = 0.8  # of the memory available when the bench starts: each row's address space


def plan(args) -> list[dict]:
    """The rows to run, in order: the size sweeps by workload, engine and size; exposure-only,
    Dask, C1, E1, W7."""
    rows = [
        {"workload": w, "engine": e, "n": n, "mode": "simulate"}
        for w, engines in SWEEPS.items()
        if w in args.workloads
        for e in args.engines
        if e in engines
        for n in engines[e]
        if args.sizes is None or n in args.sizes
    ]
    if args.exposure_size:
        rows.append({"workload": "W1", "engine": "analytic", "n": args.exposure_size, "mode": "exposure"})
    if args.dask_size:
        rows += [
            {"workload": "W1", "engine": "analytic", "n": args.dask_size, "mode": "exposure"},
            {
                "workload": "W1",
                "engine": "analytic",
                "n": args.dask_size,
                "mode": "dask",
                "workers": DASK_WORKERS,
            },
            {
                "workload": "W1",
                "engine": "analytic",
                "n": args.dask_size,
                "mode": "dask",
                "workers": DASK_WORKERS,
                "malloc_trim": MALLOC_TRIM,
            },
        ]
    rows += [{"workload": "C1", "engine": "-", "n": n, "mode": "cohort"} for n in args.cohort_sizes]
    rows += [{"workload": "E1", "engine": "analytic", "n": n, "mode": "map"} for n in args.map_sizes]
    rows += [{"workload": "W7", "engine": "analytic", "n": n, "mode": "dataset"} for n in args.dataset_sizes]
    unique = []
    for row in rows:
        if row not in unique:
            unique.append(row)
    return [{**row, "repeats": args.repeats, "budget_s": args.budget_s} for row in unique]


def key(row: dict) -> tuple:
    return row["workload"], row["engine"], row["mode"], row["n"]


def skip_reason(row: dict, done: list[dict], args) -> tuple[str, str] | None:
    """Why a row is not run, as (kind, reason): a workload pkmodel cannot run yet ("not
    runnable yet"), above --max-n, or (a size-sweep row no target needs) its runs would exceed
    the budget ("skipped")."""
    from .workloads import not_runnable

    why = not_runnable(row["workload"])
    if why:
        return "not runnable yet", why
    if row["n"] > args.max_n:
        return "skipped", f"N above --max-n {args.max_n:,}"
    if row["mode"] != "simulate" or key(row) in TARGET_ROWS:
        return None
    before = [r for r in done if key(r)[:3] == key(row)[:3] and r["n"] < row["n"] and "error" not in r]
    if not before:
        return None
    last = before[-1]
    estimate = last["seconds"] * row["n"] / last["n"]
    total = estimate * (1 + min(row["repeats"], 3))
    if total > args.budget_s:
        return "skipped", (
            f"about {estimate:,.0f} s a run (N/{row['n'] // last['n']} took "
            f"{last['seconds']:.1f} s, scaled linearly); its "
            f"{1 + min(row['repeats'], 3)} runs would take {total / 60:,.0f} min, "
            f"over the {args.budget_s:.0f} s row budget"
        )
    return None


# one BLAS thread, as Dask runs its workers: each row is one core against the one-core floor
# (a multi-threaded BLAS also spins a second core for nothing on the small products here)
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def run_row(row: dict, memory_limit_mb: float, timeout_s: float) -> dict:
    """The row measured in a fresh process limited to memory_limit_mb of address space and
    timeout_s of wall time; a row that fails or is stopped comes back with its "error"."""
    limit = int(memory_limit_mb * 1e6)

    def limit_memory():  # in the child, before it starts Python
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    load = os.getloadavg()[0]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.row", json.dumps(row)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[1],
            env={**os.environ, **ONE_THREAD},
            preexec_fn=limit_memory,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {**row, "load": load, "error": f"stopped after the {timeout_s:.0f} s row time limit"}
    lines = out.stdout.strip().splitlines()
    if out.returncode == 0 and lines:
        return {**json.loads(lines[-1]), "load": load}
    last = (out.stderr.strip().splitlines() or ["no output"])[-1]
    how = f"killed by signal {-out.returncode}" if out.returncode < 0 else f"exit status {out.returncode}"
    return {**row, "load": load, "error": f"row process failed ({how}): {last}"}


MODES = {
    "simulate": "whole Result",
    "exposure": "exposure only, chunked",
    "dask": f"exposure only, Dask {DASK_WORKERS} workers",
    "cohort": "cohort",
    "map": "MAP, 4 obs each, from the data frame",
    "dataset": "data set, 6 doses and 4 obs each",
}


def mode(row: dict) -> str:
    """The mode column: what was run, and how the Dask workers were set up."""
    return MODES[row["mode"]] + (f", {dask_setup(row)}" if row["mode"] == "dask" else "")


def dask_setup(row: dict) -> str:
    if "malloc_trim" in row:
        return f"workers' MALLOC_TRIM_THRESHOLD_ {row['malloc_trim'] / 2**30:g} GiB"
    return "Dask's defaults"


def table(rows: list[dict]) -> str:
    lines = [
        "| workload | engine | mode | N | runs | median s | subjects/s | peak RSS MB | "
        "floor s | ratio to floor | max error per child | load |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        start = f"| {r['workload']} | {r['engine']} | {mode(r)} | {r['n']:,} |"
        load = f" {r['load']:.1f} |" if "load" in r else " - |"
        if "error" in r:
            peak = f"{r['peak_mb']:,.0f}" if "peak_mb" in r else "-"
            lines.append(f"{start} - | failed (below) | - | {peak} | - | - | - |{load}")
            continue
        error = f"{r['max_error']:.1e}" if "max_error" in r else "-"
        lines.append(
            f"{start} {r['runs']} | {r['seconds']:.4g} | {r['subjects_per_s']:,.0f} | "
            f"{r['peak_mb']:,.0f} | {r['floor_s']:.4g} | {r['ratio']:.2f} | {error} |"
            f"{load}"
        )
    return "\n".join(lines)


def failures(rows: list[dict]) -> list[str]:
    return [
        f"- {r['workload']} {r['engine']} ({mode(r)}), N = {r['n']:,}: {r['error']}"
        + (
            f" (after {r['seconds_to_error']:.1f} s, peak RSS {r['peak_mb']:,.0f} MB)"
            if "seconds_to_error" in r
            else ""
        )
        for r in rows
        if "error" in r
    ]


@dataclass(frozen=True)
class FloorTarget:
    """A row within max_ratio x its floor (and, where given, each child's error relative to its
    peak within max_error, and its peak RSS under max_peak_mb)."""

    issue: int
    workload: str
    engine: str
    n: int
    max_ratio: float
    max_error: float | None = None
    max_peak_mb: float | None = None
    mode: str = "simulate"


@dataclass(frozen=True)
class RelativeTarget:
    """A row's `field` (seconds or peak_mb) within at_most x that of the row `versus`."""

    issue: int
    workload: str
    versus: str
    n: int
    field: str
    at_most: float
    engine: str = "analytic"
    mode: str = "simulate"


# the issues' targets, each checked against the rows measured in this run
FLOOR_TARGETS = (
    FloorTarget(8, "W1", "analytic", 100_000, 2),
    FloorTarget(2, "W1", "analytic", 10_000, 3),
    FloorTarget(3, "W2", "analytic", 10_000, 10),
    FloorTarget(2, "W1", "ode", 10_000, 200),
    FloorTarget(17, "W4b", "analytic", 10_000, 4),
    FloorTarget(17, "W4b", "analytic", 100_000, 4),
    FloorTarget(17, "W4c", "analytic", 10_000, 4),
    FloorTarget(17, "W4c", "analytic", 100_000, 4),
    FloorTarget(17, "W2", "analytic", 100_000, 5),
    FloorTarget(17, "W2", "analytic", 1_000_000, 8),
    FloorTarget(14, "W1", "ode", 10_000, 200, max_error=1e-6),
    FloorTarget(14, "W6", "ode", 10_000, 200, max_error=1e-6),
    FloorTarget(14, "W2", "ode", 10_000, 1000, max_error=1e-6),
    FloorTarget(20, "W4c", "ode", 10_000, 60, max_error=1e-6, max_peak_mb=2000),
)
RELATIVE_TARGETS = (
    RelativeTarget(17, "W4a-events", "W4a", 10_000, "seconds", 1.5),
    RelativeTarget(17, "W4a-events", "W4a", 100_000, "seconds", 1.5),
    RelativeTarget(17, "W4b", "W1", 100_000, "peak_mb", 1.5),
)
# rows a target needs: run even when the budget estimate would skip them
TARGET_ROWS = {(t.workload, t.engine, t.mode, t.n) for t in FLOOR_TARGETS} | {
    (w, t.engine, t.mode, t.n) for t in RELATIVE_TARGETS for w in (t.workload, t.versus)
}


def targets(rows: list[dict], skipped: list[tuple[dict, str, str]]) -> list[tuple]:
    """The issues' targets as (issue, row, target, measured, status): met, not met, not runnable
    yet (the workload needs what pkmodel does not have yet), not measured (not in this run)."""

    def find(workload, engine, mode, n):
        return next((r for r in rows if key(r) == (workload, engine, mode, n)), None)

    def absent(workload, engine, mode, n):
        """(measured, status) of a row not measured: why."""
        from .workloads import not_runnable

        if not_runnable(workload):
            return not_runnable(workload), "not runnable yet"
        for row, kind, reason in skipped:
            if key(row) == (workload, engine, mode, n):
                return reason, kind
        return "not in this run", "not measured"

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    lines = []
    for t in FLOOR_TARGETS:
        r = find(t.workload, t.engine, t.mode, t.n)
        target = (
            f"≤ {t.max_ratio:g}x the exp floor"
            + (f", error ≤ {t.max_error:g}" if t.max_error else "")
            + (f", peak < {t.max_peak_mb / 1000:g} GB" if t.max_peak_mb else "")
        )
        if r is None:
            measured, status = absent(t.workload, t.engine, t.mode, t.n)
        elif "error" in r:
            measured, status = f"failed: {r['error']}", verdict(False)
        else:
            parts, ok = [f"{r['ratio']:.2f}x"], r["ratio"] <= t.max_ratio
            if t.max_error:
                parts.append(f"error {r['max_error']:.1e}")
                ok &= r["max_error"] <= t.max_error
            if t.max_peak_mb:
                parts.append(f"peak {r['peak_mb']:,.0f} MB")
                ok &= r["peak_mb"] < t.max_peak_mb
            measured, status = ", ".join(parts), verdict(ok)
        lines.append((t.issue, f"{t.workload} {t.engine}, N = {t.n:,}", target, measured, status))
    for t in RELATIVE_TARGETS:
        what = {"seconds": "time", "peak_mb": "peak RSS"}[t.field]
        r, v = find(t.workload, t.engine, t.mode, t.n), find(t.versus, t.engine, t.mode, t.n)
        if r is None or v is None:
            measured, status = absent(t.workload if r is None else t.versus, t.engine, t.mode, t.n)
        elif "error" in r or "error" in v:
            measured, status = f"failed: {(r if 'error' in r else v)['error']}", verdict(False)
        else:
            ratio = r[t.field] / v[t.field]
            unit = "s" if t.field == "seconds" else "MB"
            measured = f"{ratio:.2f}x ({r[t.field]:,.4g} vs {v[t.field]:,.4g} {unit})"
            status = verdict(ratio <= t.at_most)
        lines.append(
            (
                t.issue,
                f"{t.workload} {t.engine}, N = {t.n:,}",
                f"{what} within {t.at_most:g}x {t.versus}'s",
                measured,
                status,
            )
        )
    r = find("W1", "analytic", "exposure", EXPOSURE_SIZE)
    lines.append(
        (
            8,
            f"W1 exposure only, N = {EXPOSURE_SIZE:,}",
            "under 10 minutes, memory under 2 GB, this 2-core machine",
            *(
                (
                    f"{r['seconds']:.0f} s, peak {r['peak_mb']:,.0f} MB",
                    verdict(r["seconds"] < 600 and r["peak_mb"] < 2000),
                )
                if r and "error" not in r
                else ("not in this run", "not measured")
            ),
        )
    )
    single = find("W1", "analytic", "exposure", DASK_SIZE)
    dask = [r for r in rows if r["mode"] == "dask" and r["n"] == DASK_SIZE and "error" not in r]
    lines.append(
        (
            8,
            f"W1 exposure only on Dask, {DASK_WORKERS} local workers, N = {DASK_SIZE:,}",
            "overhead vs one process (reported)",
            *(
                (
                    "; ".join(
                        f"{r['seconds']:.2f} s ({dask_setup(r)}) vs {single['seconds']:.2f} s,"
                        f" ratio {r['seconds'] / single['seconds']:.2f}"
                        for r in dask
                    )
                    + f" ({dask[0]['notes']})",
                    "reported",
                )
                if single and dask
                else ("not in this run", "not measured")
            ),
        )
    )
    r = find("E1", "analytic", "map", MAP_SIZE)
    lines.append(
        (
            16,
            f"E1 ({MODES['map']}), N = {MAP_SIZE:,}",
            "MAP in under 10 s",
            *(
                (f"{r['seconds']:.1f} s, {r['subjects_per_s']:,.0f} subjects/s", verdict(r["seconds"] < 10))
                if r and "error" not in r
                else ("not in this run", "not measured")
            ),
        )
    )
    r = find("C1", "-", "cohort", 1_000_000)
    lines.append(
        (
            5,
            "C1, N = 1,000,000",
            "growth-chart children in under a few seconds",
            *(
                (f"{r['seconds']:.2f} s", verdict(r["seconds"] < 5))
                if r and "error" not in r
                else ("not in this run", "not measured")
            ),
        )
    )
    return lines


def targets_table(lines: list[tuple]) -> str:
    out = ["| issue | row | target | measured | status |", "|---:|---|---|---|---|"]
    return "\n".join(out + [" | ".join(["", str(issue), *rest, ""]).strip() for issue, *rest in lines])


def machine() -> dict:
    """CPU model, cores, memory (total and available now, MB), 1/5/15-min load averages."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        info["mem_total_mb"] = int(meminfo["MemTotal"].split()[0]) * 1024 / 1e6
        info["mem_available_mb"] = int(meminfo["MemAvailable"].split()[0]) * 1024 / 1e6
    except (OSError, KeyError, ValueError):
        pass
    info["load"] = os.getloadavg()
    return info


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (3 for long rows)")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=None,
        help="only the size-sweep rows at these N (default: every N of SWEEPS)",
    )
    parser.add_argument("--engines", nargs="*", default=list(ENGINES))
    parser.add_argument(
        "--workloads", nargs="*", default=list(SWEEPS), help="only these size-sweep workloads"
    )
    parser.add_argument(
        "--exposure-size", type=int, default=EXPOSURE_SIZE, help="N of the exposure-only row (0: none)"
    )
    parser.add_argument(
        "--dask-size", type=int, default=DASK_SIZE, help="N of the Dask vs one-process rows (0: none)"
    )
    parser.add_argument("--cohort-sizes", type=int, nargs="*", default=[COHORT_SIZE])
    parser.add_argument("--map-sizes", type=int, nargs="*", default=[MAP_SIZE])
    parser.add_argument("--dataset-sizes", type=int, nargs="*", default=[DATASET_SIZE])
    parser.add_argument("--max-n", type=int, default=10**8, help="skip rows above this N")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=BUDGET_S,
        help="skip a row whose runs would take longer (estimated), unless a "
        "target needs it; a row's timed runs are cut to fit it",
    )
    parser.add_argument(
        "--row-timeout-s",
        type=float,
        default=ROW_TIMEOUT_S,
        help="stop a row process still running after this, and record it failed",
    )
    parser.add_argument(
        "--memory-limit-mb",
        type=float,
        default=None,
        help="address space of each row process (default: "
        f"{MEMORY_FRACTION:g} x the memory available at the start)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="N up to 10,000, 3 runs, no exposure-only or Dask rows"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.max_n, args.repeats, args.exposure_size, args.dask_size = 10_000, 3, 0, 0
    start = machine()
    memory_limit_mb = args.memory_limit_mb or MEMORY_FRACTION * start.get("mem_available_mb", 8e3)
    done, skipped = [], []
    for row in plan(args):
        reason = skip_reason(row, done, args)
        if reason:
            skipped.append((row, *reason))
            print(
                f"- {row['workload']} {row['engine']} ({mode(row)}), N = {row['n']:,}: "
                f"{reason[0]}, {reason[1]}",
                flush=True,
            )
            continue
        done.append(run_row(row, memory_limit_mb, args.row_timeout_s))
        print(table(done[-1:]).splitlines()[-1], flush=True)
        if "error" in done[-1]:
            print(failures(done[-1:])[0], flush=True)
    end = machine()
    text = (
        f"# Benchmark results\n\n{date.today()}, Python {platform.python_version()}, "
        f"{platform.machine()}, CPU {start['cpu']} ({start['cores']} cores), "
        f"{start.get('mem_total_mb', 0) / 1e3:,.0f} GB RAM; load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in start['load'])} at the start and "
        f"{', '.join(f'{x:.2f}' for x in end['load'])} at the end; "
        f"`python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}`. Each row "
        "in a fresh process: median of the timed runs; peak RSS from getrusage after an "
        "untimed first run; floor timed in the same process, interleaved (exp floor on at "
        "most 100,000 rows, scaled linearly above); one BLAS thread; address space limited "
        f"to {memory_limit_mb:,.0f} MB. Load: the 1-min load average as the row started. "
        "Max error per child (ode rows): max over children of max |c - exact| / peak exact.\n\n"
        f"{table(done)}\n\n## Failed\n\n"
        + ("\n".join(failures(done)) or "none")
        + "\n\n## Skipped\n\n"
        + (
            "\n".join(
                f"- {r['workload']} {r['engine']} ({mode(r)}), N = {r['n']:,}: {kind}, {reason}"
                for r, kind, reason in skipped
            )
            or "none"
        )
        + "\n\n## Targets\n\n"
        + targets_table(targets(done, skipped))
        + "\n"
    )
    Path(__file__).with_name("results.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["ode"]:  # the ode engine's rows (bench/ode.py)
        from .ode import main as ode_main

        sys.exit(ode_main(sys.argv[2:]))
    main()
