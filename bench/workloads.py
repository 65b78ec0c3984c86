"""Benchmark workloads and their floors, timed in the same process.

Only pkmodel's public API (`import pkmodel as pk`, names in `pk.__all__`) is used here, so
that moving modules inside the package cannot break the bench.
"""

import functools
import time
from pathlib import Path

import numpy as np
import pandas as pd

import pkmodel as pk

W1_TIMES = np.arange(0, 336.5, 0.5)  # 673 outputs, every 0.5 h for 14 days
CLOCK_TIMES = ("08:00", "14:00", "20:00")  # W4: the same clock times for every child
W6_MODEL = Path(__file__).with_name("models") / "w6_mm_oral.toml"
FLOOR_ROWS = 100_000  # the exp floor is timed on at most this many rows, then scaled

# workload: (model, Regimen.weight_based options beyond 2 mg/kg/day TID for 14 days)
WORKLOADS = {
    "W1": ("baclofen_cp_card", {}),
    # the 6-state system the issues measured (2 compartments, 3 transits, no lag)
    "W2": ("baclofen_cp_he2014_fast_absorption", {}),
    # the calibrated He 2014 model (7 states: 3 transits then an absorption compartment; a lag)
    "W2c": ("baclofen_cp_he2014", {}),
    "W4a": ("baclofen_cp_card", {"times_of_day": CLOCK_TIMES}),
    "W4a-events": ("baclofen_cp_card", {"times_of_day": CLOCK_TIMES}),
    "W4b": ("baclofen_cp_card", {"times_of_day": CLOCK_TIMES, "missed_dose_probability": 0.1}),
    # issue 20's regimen: the clock times, 10 % missed and timing jitter
    "W4c": (
        "baclofen_cp_card",
        {"times_of_day": CLOCK_TIMES, "missed_dose_probability": 0.1, "timing_sd_h": 0.5},
    ),
    "W6": (W6_MODEL, {}),
}
EVENT_TABLES = {"W4a-events"}  # given as `regimen.events(cohort)`, read by `pk.read_events`


def not_runnable(workload: str) -> str | None:
    """Why a workload cannot run with this pkmodel yet (None: it can)."""
    if workload == "W6":
        try:
            pk.load_model(W6_MODEL)
        except pk.ModelFileError as error:
            return (
                "needs the model language (issue 14): pk.load_model refuses "
                f"bench/models/{W6_MODEL.name}: {str(error).split(': ', 1)[-1]}"
            )
    if workload == "W7" and not hasattr(pk, "simulate_dataset"):
        return "needs pk.simulate_dataset (NONMEM data sets, coming later): not in pkmodel yet"
    return None


def inputs(workload: str, n: int):
    """A workload's model, cohort, doses (a Regimen, or an event-table frame) and output times.

    N children, weights uniform 10-60 kg (numpy.random.default_rng(1)), 8 years old,
    2 mg/kg/day TID for 14 days (W4: at the clock times; missed doses and jitter are drawn
    from the simulation's seed), output every 0.5 h from 0 to 336 h. Made afresh for every
    run (the model loaded again, as before), except an event table's frame (made once).
    """
    model_name, options = WORKLOADS[workload]
    cohort, regimen = _cohort_regimen(workload, n)
    doses = _event_frame(workload, n) if workload in EVENT_TABLES else regimen
    return pk.load_model(model_name), cohort, doses, W1_TIMES


def _cohort_regimen(workload: str, n: int):
    rng = np.random.default_rng(1)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, n), age_years=np.full(n, 8.0))
    options = WORKLOADS[workload][1]
    return cohort, pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14, **options)


@functools.lru_cache(maxsize=1)
def _event_frame(workload: str, n: int) -> pd.DataFrame:
    """The regimen's doses as NONMEM-style records (`Regimen.events`): ID, TIME, AMT, EVID, CMT."""
    cohort, regimen = _cohort_regimen(workload, n)
    return regimen.events(cohort)


def simulate_once(workload: str, n: int, engine: str, **options):
    """One `pk.simulate` call (sampling, dosing, engine, Result; for an event table, its
    `pk.read_events` too): (seconds, the Result). Options go to `pk.simulate`."""
    model, cohort, doses, times = inputs(workload, n)
    start = time.perf_counter()
    if isinstance(doses, pd.DataFrame):
        doses = pk.read_events(doses)
    result = pk.simulate(model, cohort, doses, times, engine=engine, variability=True, seed=1, **options)
    return time.perf_counter() - start, result


def run(workload: str, n: int, engine: str, **options) -> float:
    """Seconds of one `simulate_once`."""
    return simulate_once(workload, n, engine, **options)[0]


def read_events_s(workload: str, n: int) -> float:
    """Seconds of `pk.read_events` alone on the workload's event table."""
    frame = _event_frame(workload, n)
    start = time.perf_counter()
    pk.read_events(frame)
    return time.perf_counter() - start


def max_error(result, workload: str, n: int) -> float:
    """Largest error of any child against the exact answer, relative to that child's peak:
    max_i max_t |c_it - exact_it| / max_t exact_it. Exact: the analytic engine (a linear model);
    W6 (nonlinear): the ode engine at rtol 1e-10."""
    if workload == "W6":
        reference = simulate_once(workload, n, "ode", rtol=1e-10)[1]
    else:
        reference = simulate_once(workload, n, "analytic")[1]
    got, exact = np.asarray(result.concentrations), np.asarray(reference.concentrations)
    return float((np.abs(got - exact).max(axis=1) / exact.max(axis=1)).max())


def exp_floor(n: int, n_times: int = W1_TIMES.size) -> float:
    """One np.exp(a, out=b) over float64 (n, n_times) into a preallocated array, s.

    Above FLOOR_ROWS rows it is timed on FLOOR_ROWS rows and scaled by
    n / FLOOR_ROWS: exp streams through memory, linear in the elements once
    the arrays exceed the caches (full-size arrays at N = 1e6 would take
    10.8 GB).
    """
    rows = min(n, FLOOR_ROWS)
    a, b = _floor_arrays(rows, n_times)
    start = time.perf_counter()
    np.exp(a, out=b)
    return (time.perf_counter() - start) * n / rows


@functools.lru_cache(maxsize=1)
def _floor_arrays(rows: int, n_times: int) -> tuple[np.ndarray, np.ndarray]:
    """The floor's input and preallocated, touched output, made once per process (allocating
    them for every timing would free and remap memory between the runs being compared)."""
    a = np.random.default_rng(0).uniform(-5, 0, (rows, n_times))
    b = np.empty_like(a)
    np.exp(a, out=b)
    return a, b


def run_c1(n: int) -> float:
    """C1: `Cohort.from_growth_charts(n)`, ages 2-17 y, the make-run GMFCS mix (Reid 2011's
    registry mix, gmfcs="registry"), seed 1; seconds."""
    start = time.perf_counter()
    pk.Cohort.from_growth_charts(n, age_years=(2, 17), seed=1, gmfcs="registry")
    return time.perf_counter() - start


def normal_floor(n: int) -> float:
    """The 2n standard normal draws a cohort of n needs (height and weight z), s."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    rng.standard_normal((2, n))
    return time.perf_counter() - start


# W7: a sparse NONMEM-style data set (not runnable yet: pk.simulate_dataset is coming later)
W7_DOSES = 6  # per child, nominally every 8 h from 0 h, 2/3 mg/kg each (2 mg/kg/day TID)
W7_JITTER_SD_H = 0.5  # each dose after the first at its nominal time + N(0, 0.5^2) h
W7_OBS_WINDOWS_H = ((0.5, 2.0), (4.0, 7.5))  # after the first and the last dose: 4 observations


@functools.lru_cache(maxsize=1)
def w7_inputs(n: int):
    """The card model, the W1 children, and their data set: per child 6 dose records
    (EVID 1, CMT 1) at 0 h and then every 8 h, each but the first shifted by N(0, 0.5^2) h,
    and 4 observation records (EVID 0, CMT 2, DV missing) drawn uniformly 0.5-2 h and
    4-7.5 h after its first and after its last dose; WT and AGE on every record; sorted by
    ID and TIME. Drawn from numpy.random.default_rng(7)."""
    model = pk.load_model("baclofen_cp_card")
    rng = np.random.default_rng(1)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, n), age_years=np.full(n, 8.0))
    draw = np.random.default_rng(7)
    dose_t = np.arange(W7_DOSES) * 8.0 + np.c_[np.zeros(n), draw.normal(0, W7_JITTER_SD_H, (n, W7_DOSES - 1))]
    dose_t = np.sort(np.maximum(dose_t, 0.0), axis=1)
    obs_t = np.concatenate(
        [dose_t[:, [0]] + draw.uniform(*w, (n, 1)) for w in W7_OBS_WINDOWS_H]
        + [dose_t[:, [-1]] + draw.uniform(*w, (n, 1)) for w in W7_OBS_WINDOWS_H],
        axis=1,
    )
    ids = np.asarray(cohort.ids)
    doses = pd.DataFrame(
        {
            "ID": np.repeat(ids, W7_DOSES),
            "TIME": dose_t.ravel(),
            "AMT": np.repeat(cohort.weight_kg * 2.0 / 3, W7_DOSES),
            "EVID": 1,
            "CMT": 1,
        }
    )
    obs = pd.DataFrame({"ID": np.repeat(ids, 4), "TIME": obs_t.ravel(), "AMT": 0.0, "EVID": 0, "CMT": 2})
    data = pd.concat([doses, obs]).sort_values(["ID", "TIME"], kind="stable")
    data["DV"] = np.nan
    data = data.merge(pd.DataFrame({"ID": ids, "WT": cohort.weight_kg, "AGE": 8.0}), on="ID")
    return model, cohort, data


def run_w7(n: int) -> float:
    """Seconds of one `pk.simulate_dataset(model, data)` on the W7 data set (from its frame)."""
    model, _, data = w7_inputs(n)
    start = time.perf_counter()
    pk.simulate_dataset(model, data, seed=1)
    return time.perf_counter() - start


def w7_floor(n: int) -> float:
    """One `pk.simulate` of the same children on the nominal schedule (6 doses every 8 h, shared)
    at 4 shared times (1, 5, 41, 45 h): what the per-child data set should approach."""
    model, cohort, _ = w7_inputs(n)
    regimen = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=2)
    start = time.perf_counter()
    pk.simulate(model, cohort, regimen, [1.0, 5.0, 41.0, 45.0], seed=1)
    return time.perf_counter() - start
