"""Both engines against textbook formulas, against each other, and their invariants."""

from decimal import Decimal, getcontext

import numpy as np
import pytest

import pkmodel as pk
from conftest import (
    CAVG_2_MG_KG_DAY,
    terminal_half_life,
    CL_PER_KG,
    KA,
    V_PER_KG,
    relative_error_where_visible,
    typical_cohort,
    write_model,
)

ENGINES = ["analytic", "ode"]


def bateman(t, dose_mg, cl, v, ka):
    """Textbook one-compartment oral curve after one dose at t = 0, mg/L."""
    k = cl / v
    return dose_mg * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


@pytest.mark.parametrize("engine", ENGINES)
def test_terminal_half_life_of_one_10_mg_dose_is_4_5_h(card, engine):
    # absorption (ka = 2.57 /h) is gone by 24 h (e^-58), so the log-linear slope is -k
    np.testing.assert_allclose(terminal_half_life(card, engine), 4.5, rtol=0.005)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("doses_per_day", [3, 4])
def test_cavg_at_2_mg_kg_day_is_dose_rate_over_clearance_for_any_weight(card, engine, doses_per_day):
    reg = pk.Regimen.weight_based(
        mg_per_kg_day=2.0, doses_per_day=doses_per_day, days=14, max_mg_per_day=80, max_mg_per_dose=20
    )
    # 0.05 h grid: the log-down trapezoid reads ~0.01 % low there (0.8 % on 0.5 h); the grid
    # for both engines (exact exposure reads the analytic engine's solution)
    res = pk.simulate(
        card, typical_cohort(10, 20, 30), reg, np.linspace(0, 336, 6721), engine=engine, variability=False
    )
    cavg = pk.exposure(res, start=312, end=336, method="grid")["cavg"]
    # He 2014: (2/24 mg/kg/h) / (0.273 L/h/kg) = 0.3053 mg/L
    np.testing.assert_allclose(cavg, CAVG_2_MG_KG_DAY, rtol=1e-3)
    np.testing.assert_allclose(cavg, 0.3053, rtol=1e-3)


@pytest.mark.parametrize("engine", ENGINES)
def test_60_kg_child_capped_at_20_mg_per_dose_tid_gets_half_the_target(card, engine):
    reg = pk.Regimen.weight_based(
        mg_per_kg_day=2.0, doses_per_day=3, days=14, max_mg_per_day=80, max_mg_per_dose=20
    )
    cohort = typical_cohort(60)
    assert reg.doses(cohort).amount_mg[0, -3:].sum() == 60.0  # mg/day on the last day
    res = pk.simulate(card, cohort, reg, np.linspace(0, 336, 6721), engine=engine, variability=False)
    # (60/24 mg/h) / (0.273 * 60 L/h) = 0.1526 mg/L
    np.testing.assert_allclose(pk.exposure(res, start=312, end=336, method="grid")["cavg"], 0.1526, rtol=1e-3)


def test_analytic_and_ode_agree_to_1e_6_on_200_children_with_variability(card):
    rng = np.random.default_rng(7)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 200), age_years=rng.uniform(2, 17, 200))
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14)
    times = np.arange(0, 336.5, 0.5)
    exact = pk.simulate(card, cohort, reg, times, engine="analytic", seed=3)
    ode = pk.simulate(card, cohort, reg, times, engine="ode", seed=3)
    np.testing.assert_array_equal(exact.parameters["CL"], ode.parameters["CL"])
    assert relative_error_where_visible(ode.concentrations, exact.concentrations) < 1e-6


@pytest.mark.parametrize("engine", ENGINES)
def test_single_dose_matches_the_bateman_equation(card, engine):
    times = np.linspace(0, 48, 481)
    res = pk.simulate(
        card,
        typical_cohort(15),
        pk.Regimen.fixed(mg=5, every_h=24, n_doses=1),
        times,
        engine=engine,
        variability=False,
    )
    expected = bateman(times, 5.0, CL_PER_KG * 15, V_PER_KG * 15, KA)[None, :]
    # analytic: rounding only; ode: its default tolerance (rtol 1e-8 on each child's amounts;
    # outputs between steps from the order-4 dense output, measured 2.6e-8)
    rtol = 1e-12 if engine == "analytic" else 1e-7
    assert relative_error_where_visible(res.concentrations, expected) < rtol


def test_multiple_doses_match_explicit_superposition(card):
    # uneven times and amounts, two doses at once: the state is carried exactly
    times = np.linspace(0, 60, 601)
    doses = [(0.0, 5.0), (7.3, 2.5), (7.3, 1.0), (20.0, 10.0), (33.35, 0.5)]
    reg = pk.Regimen(time_h=[t for t, _ in doses], mg=[a for _, a in doses], mg_per_kg=np.inf, max_mg=np.inf)
    res = pk.simulate(card, typical_cohort(18), reg, times, variability=False)
    cl, v = CL_PER_KG * 18, V_PER_KG * 18
    expected = sum(
        np.where(times > t, bateman(np.maximum(times - t, 0), a, cl, v, KA), 0.0) for t, a in doses
    )[None, :]
    assert relative_error_where_visible(res.concentrations, expected) < 1e-11


@pytest.mark.parametrize("engine", ENGINES)
def test_doubling_every_dose_doubles_every_concentration(card, engine):
    rng = np.random.default_rng(2)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 50), age_years=rng.uniform(2, 17, 50))
    times = np.arange(0, 72.5, 0.5)
    one = pk.simulate(card, cohort, pk.Regimen.weight_based(1.0, 3, 3), times, engine=engine, seed=5)
    two = pk.simulate(card, cohort, pk.Regimen.weight_based(2.0, 3, 3), times, engine=engine, seed=5)
    # analytic: exact in floating point (x2 is exact); ode: the solver's step choice
    # depends on the scale of the state through atol, so only to its tolerance
    rtol = 1e-12 if engine == "analytic" else 1e-8
    np.testing.assert_allclose(two.concentrations, 2 * one.concentrations, rtol=rtol, atol=0)


def test_output_at_a_dose_time_is_the_pre_dose_value(card):
    # at t = 0 the first dose has not been given; at 8 h the trough before dose 2
    reg = pk.Regimen.fixed(mg=10, every_h=8, n_doses=3)
    coarse = pk.simulate(card, typical_cohort(20), reg, [0.0, 8.0], variability=False)
    fine = pk.simulate(card, typical_cohort(20), reg, [0.0, 8.0 - 1e-9], variability=False)
    assert coarse.concentrations[0, 0] == 0.0
    np.testing.assert_allclose(coarse.concentrations[0, 1], fine.concentrations[0, 1], rtol=1e-8)


def _decimal_bateman(t, dose, cl, v, ka):
    getcontext().prec = 50
    t, dose, cl, v, ka = (Decimal(float(x)) for x in (t, dose, cl, v, ka))  # exact binary values
    k = cl / v
    if ka == k:
        return float(dose * ka * t * (-k * t).exp() / v)
    return float(dose * ka / (v * (ka - k)) * ((-k * t).exp() - (-ka * t).exp()))


@pytest.mark.parametrize("ka_over_k", [1.0, 1 + 1e-9, 1 - 1e-9, 1 + 1e-4, 100.0, 0.01])
@pytest.mark.parametrize("engine", ENGINES)
def test_absorption_equal_or_close_to_elimination_is_exact(tmp_path, engine, ka_over_k):
    # k = CL/V = 0.2 /h exactly in floating point; reference at 50 digits (Decimal)
    ka = 0.2 * ka_over_k
    path = write_model(
        tmp_path,
        CL={"value": 0.2},
        V={"value": 1.0},
        ka={"value": ka, "iiv_sd": 0.0},
        drop=["V.derived", "ka.derived"],
    )
    model = pk.load_model(path)
    times = np.linspace(0, 100, 201)
    res = pk.simulate(
        model,
        typical_cohort(20),
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1),
        times,
        engine=engine,
        variability=False,
    )
    assert np.all(np.isfinite(res.concentrations))
    expected = np.array([[_decimal_bateman(t, 10.0, 4.0, 20.0, ka * 1.0) for t in times]])
    # ode: the engines' agreement standard; DOP853's dense output between its long
    # steps (ka = 20 /h: smooth after absorption) errs by up to ~2e-7 here
    rtol = 1e-12 if engine == "analytic" else 1e-6
    assert relative_error_where_visible(res.concentrations, expected) < rtol


def test_general_matrix_exponential_agrees_with_the_closed_form(card):
    from pkmodel.engines import analytic, common, solutions

    rng = np.random.default_rng(4)
    n = 300
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, n), age_years=np.full(n, 9.0))
    params = card.individual_parameters(cohort, rng.normal(size=(n, 3)) * np.sqrt(np.diag(card.omega)))
    doses = pk.Regimen.weight_based(2.0, 3, 14).doses(cohort)
    timeline = common.shared_timeline(common.Epochs.constant(params), common.Inputs.from_doses(doses))
    times = np.arange(0, 336.5, 0.5)
    closed = analytic.propagate([solutions.OneCompartmentOral(card.structure, params)], timeline, times)
    general = analytic.propagate([solutions.MatrixExponential(card.structure, params)], timeline, times)
    # both exact; scaling and squaring rounds at ~1e-13 on these matrices
    assert relative_error_where_visible(general, closed) < 1e-9


def test_ode_engine_takes_outputs_closer_together_than_its_last_step(card):
    # the solver's last step on 2-12 h (~1 h) carried into 12-12.1 h once raised
    # "first_step exceeds bounds"
    times = [0.0, 1.0, 2.0, 12.0, 12.1, 24.0]
    reg = pk.Regimen.fixed(mg=10, every_h=24, n_doses=1)
    ode = pk.simulate(card, typical_cohort(20), reg, times, engine="ode", variability=False)
    expected = bateman(np.array(times), 10.0, CL_PER_KG * 20, V_PER_KG * 20, KA)
    # the ode engine's default tolerance (rtol 1e-10 on the amounts)
    np.testing.assert_allclose(ode.concentrations[0], expected, rtol=1e-8)


@pytest.mark.parametrize("engine", ENGINES)
def test_outputs_that_round_to_one_offset_after_an_uneven_dose_time(engine):
    # 21 h and the next double both lie 16.317031462881507 h after the dose at 4.68... h:
    # the matrix exponential's step cache once stored a zero step and divided by it
    model = pk.load_model("baclofen_cp_he2014")
    reg = pk.Regimen(time_h=[0.0, 4.682968537118493], mg=[10.0, 10.0], mg_per_kg=np.inf, max_mg=np.inf)
    times = np.array([2.0, 21.0, np.nextafter(21.0, 22.0), 35.0])
    assert times[2] - reg.time_h[1] == times[1] - reg.time_h[1]
    conc = pk.simulate(model, typical_cohort(20), reg, times, engine=engine, variability=False).concentrations
    alone = pk.simulate(
        model, typical_cohort(20), reg, times[[0, 1, 3]], engine=engine, variability=False
    ).concentrations
    # one ulp of time apart: the same concentration; the others as if the twin were absent
    np.testing.assert_allclose(conc[:, [0, 1, 2, 3]], alone[:, [0, 1, 1, 2]], rtol=1e-12)


def test_an_output_a_subnormal_time_after_a_dose():
    # 5e-309 h: the ratio of cached steps overflowed (2 h / 5e-309 h = inf)
    model = pk.load_model("baclofen_cp_he2014")
    reg = pk.Regimen.fixed(mg=10, every_h=8, n_doses=2)
    both = pk.simulate(model, typical_cohort(20), reg, [5e-309, 2.0], variability=False)
    alone = pk.simulate(model, typical_cohort(20), reg, [2.0], variability=False)
    # nothing has reached central 5e-309 h after the dose; 2 h is 2 h whatever came before
    assert both.concentrations[0, 0] == 0.0
    np.testing.assert_allclose(both.concentrations[0, 1], alone.concentrations[0, 0], rtol=1e-12)
