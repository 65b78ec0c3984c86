"""Benchmark workloads and their floors, timed in the same process."""

import functools
import time

import numpy as np

import pkmodel as pk
from pkmodel.population.cerebral_palsy import GMFCS_MIX

W1_TIMES = np.arange(0, 336.5, 0.5)  # 673 outputs, every 0.5 h for 14 days
MODELS = {"W1": "baclofen_cp_card", "W2": "baclofen_cp_he2014"}
FLOOR_ROWS = 100_000  # the exp floor is timed on at most this many rows, then scaled


def inputs(workload: str, n: int):
    """W1 (card model) or W2 (He 2014 model): the same children, regimen and times.

    Weights uniform 10-60 kg (numpy.random.default_rng(1)), 8 years old,
    2 mg/kg/day TID for 14 days, output every 0.5 h from 0 to 336 h.
    """
    rng = np.random.default_rng(1)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, n), age_years=np.full(n, 8.0))
    regimen = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14)
    return pk.load_model(MODELS[workload]), cohort, regimen, W1_TIMES


def run(workload: str, n: int, engine: str, **options) -> float:
    """Seconds of one `pk.simulate` call (sampling, dosing, engine, Result); options go to it."""
    model, cohort, regimen, times = inputs(workload, n)
    start = time.perf_counter()
    pk.simulate(model, cohort, regimen, times, engine=engine, variability=True, seed=1, **options)
    return time.perf_counter() - start


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
    """C1: `Cohort.from_growth_charts(n)`, ages 2-17 y, the make-run GMFCS mix, seed 1; seconds."""
    start = time.perf_counter()
    pk.Cohort.from_growth_charts(n, age_years=(2, 17), seed=1, gmfcs=GMFCS_MIX)
    return time.perf_counter() - start


def normal_floor(n: int) -> float:
    """The 2n standard normal draws a cohort of n needs (height and weight z), s."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    rng.standard_normal((2, n))
    return time.perf_counter() - start
