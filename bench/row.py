"""One benchmark row in a fresh process: `python -m bench.row '<json spec>'` prints JSON.

spec: workload ("W1", "W2", "W2c", "W4a", "W4a-events", "W4b", "W4c", "W6", "W7", "C1",
"E1"), engine, n, repeats, mode:
- "simulate": `pk.simulate` returning the whole Result (W4a-events: `pk.read_events` of the
  event table, then `pk.simulate` on it);
- "exposure": `pk.simulate(..., keep="exposure")`, chunked (default chunk size);
- "map" (E1): `pk.estimate_individual` from the data frame;
- "dataset" (W7): `pk.simulate_dataset` on the data frame;
- "dask": the same on a LocalCluster of `workers` worker processes (one
  thread each), started before the timing; `malloc_trim` (bytes), if given,
  replaces the MALLOC_TRIM_THRESHOLD_ of 64 KiB that Dask gives its workers
  (with it, glibc maps and unmaps every array over 128 KiB: a page fault for
  every page of every temporary).
- budget_s, optional: the timed runs are cut to fit it (at least one).

The first run at full size is untimed: it warms imports and caches, and the
peak resident memory (getrusage maxrss) after it is the row's memory, taken
before any floor array exists; with Dask, the workers' peaks are added.
On the ode engine the first run's concentrations are then compared with the
exact answer (`workloads.max_error`), untimed. Then `repeats` runs are timed
(3 when one run takes over 10 s), each right after a floor timing, so that
both see the same load on a shared machine.

A row that fails (MemoryError under the address-space limit the bench sets,
an engine refusing the problem) prints its error and peak memory instead:
the failure is the row's result.
"""

import functools
import json
import resource
import statistics
import sys
import time
import traceback

from .estimation import e1_floor, run_e1
from .workloads import (
    EVENT_TABLES,
    exp_floor,
    max_error,
    normal_floor,
    read_events_s,
    run,
    run_c1,
    run_w7,
    simulate_once,
    w7_floor,
)

LONG_RUN_S = 10.0
WARM_N = {"analytic": 1000, "ode": 100}  # the warm-up run's N (imports, caches), at most the row's


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # kB on Linux


def measure(spec: dict) -> dict:
    n, mode = spec["n"], spec.get("mode", "simulate")
    notes, extra = [], {}
    first_result = None
    if spec["workload"] == "C1":
        once, floor = functools.partial(run_c1, n), functools.partial(normal_floor, n)
        run_c1(1000)  # load the growth charts
    elif spec["workload"] == "E1":
        once = functools.partial(run_e1, n)
        floor = functools.partial(e1_floor, n)
    elif spec["workload"] == "W7":
        once, floor = functools.partial(run_w7, n), functools.partial(w7_floor, n)
        run_w7(min(n, 1000))
    else:
        options, cluster = {}, None
        if mode in ("exposure", "dask"):
            options["keep"] = "exposure"
        if mode == "dask":
            import dask
            from distributed import Client, LocalCluster

            if "malloc_trim" in spec:
                dask.config.set(
                    {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": spec["malloc_trim"]}
                )
            start = time.perf_counter()
            cluster = LocalCluster(
                n_workers=spec["workers"],
                processes=True,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=":0",
            )
            options["client"] = Client(cluster)
            notes.append(f"cluster start {time.perf_counter() - start:.1f} s, not timed")
        once = functools.partial(run, spec["workload"], n, spec["engine"], **options)
        floor = functools.partial(exp_floor, n)
        run(spec["workload"], min(n, WARM_N.get(spec["engine"], 1000)), spec["engine"], **options)
    if spec["engine"] == "ode" and mode == "simulate":  # keep its Result, to check its accuracy
        first, first_result = simulate_once(spec["workload"], n, "ode")
    else:
        first = once()
    peak = _peak_mb()
    if mode == "dask":
        workers = options["client"].run(_peak_mb)
        peak += sum(workers.values())
        notes.append(f"memory: this process + {len(workers)} workers")
    if first_result is not None:
        extra["max_error"] = max_error(first_result, spec["workload"], n)
        del first_result
    if spec["workload"] in EVENT_TABLES:
        notes.append(f"pk.read_events {read_events_s(spec['workload'], n):.3g} s of it")
    repeats = spec["repeats"] if first <= LONG_RUN_S else min(spec["repeats"], 3)
    if "budget_s" in spec:
        repeats = max(1, min(repeats, int(spec["budget_s"] // first)))
    runs, floors = [], []
    for _ in range(repeats):
        floors.append(floor())
        runs.append(once())
    if mode == "dask":
        options["client"].close()
        cluster.close()
    seconds, floor_s = statistics.median(runs), statistics.median(floors)
    return {
        **spec,
        "runs": repeats,
        "seconds": seconds,
        "subjects_per_s": n / seconds,
        "peak_mb": peak,
        "floor_s": floor_s,
        "ratio": seconds / floor_s,
        **extra,
        "notes": "; ".join(notes),
    }


def failed(spec: dict, error: BaseException, started: float) -> dict:
    """The row's result when it could not run: the error, how long until it, the peak memory."""
    message = " ".join(f"{type(error).__name__}: {error}".split())
    return {
        **spec,
        "error": message,
        "seconds_to_error": time.perf_counter() - started,
        "peak_mb": _peak_mb(),
    }


if __name__ == "__main__":
    spec, started = json.loads(sys.argv[1]), time.perf_counter()
    try:
        row = measure(spec)
    except (MemoryError, ValueError, RuntimeError) as error:
        traceback.print_exc()
        row = failed(spec, error, started)
    print(json.dumps(row))
