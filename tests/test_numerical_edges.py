"""Numerical edge cases: a year at 0.1 h, doses of 1e-9 and 1e6 mg, outputs exactly at dose
times (pre-dose), doses at one time (they add)."""

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from conftest import relative_error_where_visible, typical_cohort, write_model

YEAR_H = 8760.0
QID_H = 6.0


@pytest.fixture(scope="module")
def children():
    return pk.Cohort(weight_kg=[9.0, 18.0, 35.0, 62.0], age_years=[2.5, 6.0, 11.0, 16.5])


def last_day(times: np.ndarray) -> np.ndarray:
    return times >= times[-1] - 24.0 + 1e-9


def test_a_year_at_0_1_h_ends_on_the_closed_form_steady_state(card, children):
    # 365 days QID at 2 mg/kg/day, 87,600 outputs: 1,460 doses carried without drift
    times = np.arange(0.0, YEAR_H, 0.1)
    assert times.size == 87_600
    reg = pk.Regimen.weight_based(2.0, 4, 365)
    res = pk.simulate(card, children, reg, times, seed=3)
    conc = res.concentrations
    assert conc.shape == (4, 87_600) and np.all(np.isfinite(conc)) and np.all(conc >= 0)
    # steady state of a dose D every tau, one compartment, first-order absorption, tau' after
    # the last dose: D ka / (V (ka - k)) [e^{-k tau'} / (1 - e^{-k tau}) - e^{-ka tau'} / (1 - e^{-ka tau})]
    p = res.parameters
    cl, v, ka = (p[name].to_numpy()[:, None] for name in ("CL", "V", "ka"))
    k, dose = cl / v, 0.5 * children.weight_kg[:, None]
    t = times[last_day(times)]
    since = t - QID_H * (np.ceil(t / QID_H - 1e-9) - 1)  # after the last dose before t (pre-dose)
    steady = (
        dose
        * ka
        / (v * (ka - k))
        * (np.exp(-k * since) / -np.expm1(-k * QID_H) - np.exp(-ka * since) / -np.expm1(-ka * QID_H))
    )
    # exact engine over a year: offsets of ~8760 h carry ulp(8760 h) = 2e-12 h of rounding
    # (measured 8e-16)
    assert relative_error_where_visible(conc[:, last_day(times)], steady) < 1e-10


@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_he2014_over_a_year_ends_where_four_weeks_end(children, engine):
    # two compartments, transit: steady state within days (t1/2 4.5 h), so the last day of a
    # year equals the last day of four weeks. The ode engine runs four weeks only: it makes a
    # solve_ivp call per dose and per output (~10 s for a year with one day of outputs)
    model = pk.load_model("baclofen_cp_he2014")
    year = np.arange(0.0, YEAR_H, 0.1)
    exact = pk.simulate(model, children, pk.Regimen.weight_based(2.0, 4, 365), year, seed=3)
    assert np.all(np.isfinite(exact.concentrations)) and np.all(exact.concentrations >= 0)
    weeks = np.arange(0.0, 28 * 24.0, 0.1)
    weeks = weeks[last_day(weeks)] if engine == "ode" else weeks
    short = pk.simulate(model, children, pk.Regimen.weight_based(2.0, 4, 28), weeks, engine=engine, seed=3)
    # analytic: rounding of offsets at ~8760 h vs ~670 h (6e-12); ode: its 1e-6 agreement
    # standard (6e-12)
    rtol = 1e-10 if engine == "analytic" else 1e-6
    assert (
        relative_error_where_visible(
            short.concentrations[:, last_day(weeks)], exact.concentrations[:, last_day(year)]
        )
        < rtol
    )


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("mg", [1e-9, 1e6])
@pytest.mark.parametrize("name", ["baclofen_cp_card", "baclofen_cp_he2014"])
def test_tiny_and_huge_doses_scale_exactly(children, name, mg, engine):
    model = pk.load_model(name)
    times = np.arange(0.0, 48.25, 0.25)
    one = pk.simulate(
        model, children, pk.Regimen.fixed(mg=1.0, every_h=8, n_doses=4), times, engine=engine, seed=1
    ).concentrations
    # the ode engine's default atol is each child's own, 1e-10 of its largest dose: it
    # shrinks and grows with the dose by itself
    scaled = pk.simulate(
        model, children, pk.Regimen.fixed(mg=mg, every_h=8, n_doses=4), times, engine=engine, seed=1
    ).concentrations
    # analytic: the state is linear in the dose, rounding only (measured 5e-16); ode: with
    # atol scaled as the dose its step control (error / (atol + rtol |x|)) is scale-free, so
    # it takes the same steps but for rounding, which moves a step size now and then (each
    # child's own controller) and so the outputs by up to 9e-11 (measured), well inside rtol 1e-8
    rtol = 1e-14 if engine == "analytic" else 1e-9
    assert relative_error_where_visible(scaled / mg, one) < rtol


@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_an_output_at_a_dose_time_reports_the_value_before_the_dose(card, engine):
    # an oral dose at 0, then 5 mg straight into central (CMT 2) at 8 h: at 8 h the sample is
    # taken before the bolus, a moment later it has arrived (V = 1.7723508577 L/kg * 20 kg)
    events = pk.read_events(
        pd.DataFrame({"ID": [1, 1], "TIME": [0.0, 8.0], "AMT": [10.0, 5.0], "EVID": [1, 1], "CMT": [1, 2]})
    )
    times = np.array([0.0, 8.0 - 1e-7, 8.0, 8.0 + 1e-7])
    conc = pk.simulate(
        card, typical_cohort(20), events, times, engine=engine, variability=False
    ).concentrations[0]
    v = card.parameters["V"].value * 20
    assert conc[0] == 0.0  # the first dose not given yet
    # 1e-7 h either side: the oral curve moves by ~1e-8 relative; the bolus adds 5 mg / V
    np.testing.assert_allclose(conc[2], conc[1], rtol=1e-6)
    np.testing.assert_allclose(conc[3] - conc[2], 5.0 / v, rtol=1e-6)


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("lag", ["shared", "per_subject"])
def test_doses_at_one_time_add(tmp_path, children, engine, lag):
    # 7.5 + 2.5 mg at 30.25 h is one 10 mg dose there; a lag that differs between children
    # takes the engines' per-subject paths
    tlag = {"value": 0.5, "unit": "h", "iiv_sd": 0.6 if lag == "per_subject" else 0.0}
    model = pk.load_model(write_model(tmp_path, tlag=tlag))
    split = pk.Regimen(time_h=[0.0, 30.25, 30.25], mg=[5.0, 7.5, 2.5], mg_per_kg=np.inf, max_mg=np.inf)
    whole = pk.Regimen(time_h=[0.0, 30.25], mg=[5.0, 10.0], mg_per_kg=np.inf, max_mg=np.inf)
    times = np.arange(0.0, 60.05, 0.1)
    a = pk.simulate(model, children, split, times, engine=engine, seed=2).concentrations
    b = pk.simulate(model, children, whole, times, engine=engine, seed=2).concentrations
    # the same input; 7.5 + 2.5 == 10 exactly, so only the order of the additions differs
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    assert np.all(np.isfinite(a)) and a.max() > 0
