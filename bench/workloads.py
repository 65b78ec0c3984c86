"""Benchmark workloads and the exp floor, timed in the same run."""

import time

import numpy as np

import pkmodel as pk
from pkmodel.cli import GMFCS_MIX

W1_TIMES = np.arange(0, 336.5, 0.5)  # 673 outputs, every 0.5 h for 14 days


def w1_inputs(n: int):
    """W1: card model, weights uniform 10-60 kg (seed 1), 2 mg/kg/day TID x 14 days."""
    rng = np.random.default_rng(1)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, n), age_years=np.full(n, 8.0))
    regimen = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14)
    return pk.load_model("baclofen_cp_card"), cohort, regimen, W1_TIMES


def run_w1(n: int, engine: str) -> float:
    model, cohort, regimen, times = w1_inputs(n)
    start = time.perf_counter()
    pk.simulate(model, cohort, regimen, times, engine=engine, variability=True, seed=1)
    return time.perf_counter() - start


def exp_floor(n: int, n_times: int = W1_TIMES.size) -> float:
    """One np.exp(a, out=b) over float64 (n, n_times) into a preallocated array, s."""
    a = np.random.default_rng(0).uniform(-5, 0, (n, n_times))
    b = np.empty_like(a)
    np.exp(a, out=b)  # touch b's pages once, as a preallocated buffer would be
    start = time.perf_counter()
    np.exp(a, out=b)
    return time.perf_counter() - start



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
