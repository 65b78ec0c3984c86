"""One benchmark row in a fresh process: `python -m bench.row '<json spec>'` prints JSON.

spec: workload ("W1", "W2", "C1", "E1"), engine, n, repeats, mode:
- "simulate": `pk.simulate` returning the whole Result;
- "exposure": `pk.simulate(..., keep="exposure")`, chunked (default chunk size);
- "map", "map-split" (E1): `pk.estimate_individual` from the data frame, or the MAP alone;
- "dask": the same on a LocalCluster of `workers` worker processes (one
  thread each), started before the timing; `malloc_trim` (bytes), if given,
  replaces the MALLOC_TRIM_THRESHOLD_ of 64 KiB that Dask gives its workers
  (with it, glibc maps and unmaps every array over 128 KiB: a page fault for
  every page of every temporary).

The first run at full size is untimed: it warms imports and caches, and the
peak resident memory (getrusage maxrss) after it is the row's memory, taken
before any floor array exists; with Dask, the workers' peaks are added.
Then `repeats` runs are timed (3 when one run takes over 10 s), each right
after a floor timing, so that both see the same load on a shared machine.
"""

import functools
import json
import resource
import statistics
import sys
import time

from .estimation import e1_floor, run_e1
from .workloads import exp_floor, normal_floor, run, run_c1

LONG_RUN_S = 10.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # kB on Linux


def measure(spec: dict) -> dict:
    n, mode = spec["n"], spec.get("mode", "simulate")
    notes = []
    if spec["workload"] == "C1":
        once, floor = functools.partial(run_c1, n), functools.partial(normal_floor, n)
        run_c1(1000)  # load the growth charts
    elif spec["workload"] == "E1":
        once = functools.partial(run_e1, n, split=mode == "map-split")
        floor = functools.partial(e1_floor, n)
    else:
        options, cluster = {}, None
        if mode in ("exposure", "dask"):
            options["keep"] = "exposure"
        if mode == "dask":
            import dask
            from distributed import Client, LocalCluster
            if "malloc_trim" in spec:
                dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
                                 spec["malloc_trim"]})
            start = time.perf_counter()
            cluster = LocalCluster(n_workers=spec["workers"], processes=True, threads_per_worker=1,
                                   host="127.0.0.1", dashboard_address=":0")
            options["client"] = Client(cluster)
            notes.append(f"cluster start {time.perf_counter() - start:.1f} s, not timed")
        once = functools.partial(run, spec["workload"], n, spec["engine"], **options)
        floor = functools.partial(exp_floor, n)
        run(spec["workload"], min(n, 1000), spec["engine"], **options)
    first = once()
    peak = _peak_mb()
    if mode == "dask":
        workers = options["client"].run(_peak_mb)
        peak += sum(workers.values())
        notes.append(f"memory: this process + {len(workers)} workers")
    repeats = spec["repeats"] if first <= LONG_RUN_S else min(spec["repeats"], 3)
    runs, floors = [], []
    for _ in range(repeats):
        floors.append(floor())
        runs.append(once())
    if mode == "dask":
        options["client"].close()
        cluster.close()
    seconds, floor_s = statistics.median(runs), statistics.median(floors)
    return {**spec, "runs": repeats, "seconds": seconds, "subjects_per_s": n / seconds,
            "peak_mb": peak, "floor_s": floor_s, "ratio": seconds / floor_s,
            "notes": "; ".join(notes)}


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
