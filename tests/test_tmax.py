"""tmax_h_after_dose: the peak's time after the dose of its own interval (issue 19 part 5), the
absolute time of the peak kept as tmax_h."""

import math

import numpy as np
import pytest

import pkmodel as pk

from conftest import CL_PER_KG, KA, V_PER_KG

K = CL_PER_KG / V_PER_KG  # 1/h


def tmax_steady_state(tau_h: float) -> float:
    """One compartment, first-order absorption, at steady state: dC/dt = 0 at
    t* = ln(ka (1 - e^{-k tau}) / (k (1 - e^{-ka tau}))) / (ka - k); a single dose (tau -> inf)
    gives ln(ka/k) / (ka - k)."""
    return math.log(KA * (1 - math.exp(-K * tau_h)) / (K * (1 - math.exp(-KA * tau_h)))) / (KA - K)


def typical(model, doses_per_day, grid_h, days=14, start_h=0.0):
    cohort = pk.Cohort(weight_kg=[12.0, 20.0, 45.0], age_years=[3.0, 6.0, 14.0])
    regimen = pk.Regimen.weight_based(
        mg_per_kg_day=2.0, doses_per_day=doses_per_day, days=days, start_h=start_h
    )
    times = np.round(np.arange(0, 24 * days + start_h + grid_h / 2, grid_h), 10)
    return pk.simulate(model, cohort, regimen, times, variability=False)


@pytest.mark.parametrize("doses_per_day, tau", [(3, 8.0), (4, 6.0)])
@pytest.mark.parametrize("grid_h", [0.5, 0.25, 0.1])
def test_tmax_after_dose_on_the_grid_is_within_one_step_of_the_closed_form(card, doses_per_day, tau, grid_h):
    res = typical(card, doses_per_day, grid_h)
    end = 14 * 24.0
    e = pk.exposure(res, start=end - 24, end=end, method="grid")
    analytic = tmax_steady_state(tau)  # 1.13 h TID, 1.09 h QID: no output falls on it
    assert abs(analytic / grid_h - round(analytic / grid_h)) > 1e-3
    assert np.all(np.abs(e["tmax_h_after_dose"] - analytic) <= grid_h)
    # the absolute time is its own column: the peak falls in one of the last day's intervals
    offset = e["tmax_h"] - e["tmax_h_after_dose"]
    np.testing.assert_allclose((offset - (end - 24)) / tau, np.round((offset - (end - 24)) / tau), atol=1e-9)


def test_tmax_after_dose_exact_is_the_closed_form_whatever_the_dose_clock(card):
    # doses from 5 h on: absolute time and time after dose differ by the dose time
    res = typical(card, 3, grid_h=0.5, start_h=5.0)
    e = pk.exposure(res, window="steady_state")
    assert (e["method"] == "exact").all()
    # 1e-9: the exact engine's root of dC/dt against the closed form
    np.testing.assert_allclose(e["tmax_h_after_dose"], tmax_steady_state(8.0), rtol=1e-9)
    np.testing.assert_allclose(e["tmax_h"] - e["start_h"], tmax_steady_state(8.0), rtol=1e-9)
    assert (e["tmax_h"] > 300).all()


def test_a_single_dose_peaks_at_ln_ka_over_k_over_ka_minus_k(card):
    res = pk.simulate(
        card,
        pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1, start_h=2.0),
        np.arange(0, 24.05, 0.05),
        variability=False,
    )
    e = pk.exposure(res, start=0, end=24).iloc[0]
    np.testing.assert_allclose(e["tmax_h_after_dose"], math.log(KA / K) / (KA - K), rtol=1e-9)
    np.testing.assert_allclose(e["tmax_h"], 2.0 + math.log(KA / K) / (KA - K), rtol=1e-9)


@pytest.mark.parametrize("name", ["baclofen_cp_he2014", "baclofen_cp_he2014_fast_absorption"])
def test_tmax_after_dose_of_the_bundled_models_is_within_a_step_of_a_fine_grid(name):
    # reference: the peak of the same children's last interval on a 0.002 h grid
    model = pk.load_model(name)
    coarse = pk.exposure(typical(model, 4, grid_h=0.25), window="steady_state", method="grid")
    fine = typical(model, 4, grid_h=0.002)
    last = fine.times >= 14 * 24 - 6 - 1e-9
    peak = fine.times[last][np.argmax(fine.concentrations[:, last], axis=1)] - (14 * 24 - 6)
    assert np.all(np.abs(coarse["tmax_h_after_dose"] - peak) <= 0.25)
    assert np.all(peak > 0.3) and np.all(peak < 5)  # a peak after the dose, not at its start


def test_tmax_after_dose_per_interval_counts_from_each_intervals_dose(card):
    res = typical(card, 3, grid_h=0.5, days=3)
    e = pk.exposure_by_interval(res)
    np.testing.assert_allclose(e["tmax_h"] - e["start_h"], e["tmax_h_after_dose"], atol=1e-9)
    late = e["interval"] >= 6  # near steady state after two days (t½ 4.5 h)
    np.testing.assert_allclose(e.loc[late, "tmax_h_after_dose"], tmax_steady_state(8.0), rtol=1e-3)


def test_tmax_after_dose_is_nan_before_the_first_dose(card):
    res = pk.simulate(
        card,
        pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1, start_h=12.0),
        np.arange(0, 24.5, 0.5),
        variability=False,
    )
    e = pk.exposure(res, start=0, end=6, method="grid").iloc[0]
    assert e["cmax"] == 0 and math.isnan(e["tmax_h_after_dose"])
