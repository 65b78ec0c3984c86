"""The general exact engine on any linear model: two compartments, transit chains,
bioavailability, lag; checked against the ode engine, mass balance and steady state."""

import math

import numpy as np
import pytest

import pkmodel as pk
from pkmodel.engines import analytic
from pkmodel.model.model import Model, Parameter
from pkmodel.model.structures import Structure
from conftest import CAVG_2_MG_KG_DAY, relative_error_where_visible, terminal_half_life, typical_cohort


HE2014_NAMES = ["baclofen_cp_he2014", "baclofen_cp_he2014_fast_absorption"]


@pytest.fixture(scope="module")
def he2014():
    """The first He 2014 reconstruction (no absorption step after the transit chain)."""
    return pk.load_model("baclofen_cp_he2014_fast_absorption")


@pytest.fixture(scope="module")
def calibrated():
    return pk.load_model("baclofen_cp_he2014")


@pytest.mark.parametrize("name", HE2014_NAMES)
def test_he2014_file_marks_every_assumed_number(name):
    model = pk.load_model(name)
    text = (pk.bundled_models()[name]).read_text()
    for p in ("V1", "V2", "Q") + (("ka", "tlag") if name == "baclofen_cp_he2014" else ()):
        assert "assumed" in model.parameters[p].source
    assert "n_transit = 3" in text and "n_transit = 3 is assumed" in text
    assert model.structure.n_transit == 3 and model.structure.disposition == "two_compartment"
    # Vss = V1 + V2 = 1.16 L/kg (He 2014), one random effect on both volumes
    np.testing.assert_allclose(model.parameters["V1"].value + model.parameters["V2"].value, 1.16, rtol=1e-13)
    (vss,) = [e for e in model.etas if e.name == "Vss"]
    assert vss.sd == 0.439 and vss.parameters == ("V1", "V2")


@pytest.mark.parametrize("name", HE2014_NAMES)
@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_he2014_terminal_half_life_is_4_5_h(name, engine):
    # distribution phase (1.29 /h) is e^-31 of the terminal phase by 24 h; the bound
    # 4.50 +/- 0.05 h (log-linear fit of 24-48 h, an independent reading of the curve)
    assert abs(terminal_half_life(pk.load_model(name), engine) - 4.5) <= 0.05


@pytest.mark.parametrize("name", HE2014_NAMES)
def test_he2014_steady_state_cavg_at_2_mg_kg_day(name):
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14)
    res = pk.simulate(
        pk.load_model(name), typical_cohort(10, 20, 30), reg, np.linspace(0, 336, 6721), variability=False
    )
    # log-down trapezoid on 0.05 h: ~0.01 % low; target 1 %
    np.testing.assert_allclose(pk.exposure(res, start=312, end=336)["cavg"], CAVG_2_MG_KG_DAY, rtol=0.01)


@pytest.mark.parametrize("name", HE2014_NAMES)
def test_two_compartment_transit_analytic_and_ode_agree_with_variability(name):
    rng = np.random.default_rng(3)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 100), age_years=rng.uniform(2, 17, 100))
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=4, days=3)
    times = np.arange(0, 72.25, 0.25)
    model = pk.load_model(name)
    exact = pk.simulate(model, cohort, reg, times, seed=2)
    ode = pk.simulate(model, cohort, reg, times, seed=2, engine="ode")
    assert exact.individual["MTT"].min() < 0.1  # fast absorbers make the ode stiff-ish: a real test
    assert relative_error_where_visible(ode.concentrations, exact.concentrations) < 1e-6


# --- the calibrated He 2014 model (issue 18) -------------------------------------------


def test_calibrated_he2014_typical_tmax_is_1_64_h_inside_the_observed_1_to_2_h(calibrated):
    times = np.round(np.arange(0, 12.0005, 0.001), 6)
    res = pk.simulate(
        calibrated,
        typical_cohort(20),
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1),
        times,
        variability=False,
    )
    tmax = times[res.concentrations[0].argmax()]
    # Kriel 1997 (children, 1-2.1 h) and the target 1-2 h; 1.64 h is what the file states
    # (0.001 h grid: the grid's resolution is the tolerance)
    assert 1.0 <= tmax <= 2.0
    assert abs(tmax - 1.641) <= 0.001


def test_calibrated_he2014_keeps_mtt_vss_and_the_half_life(calibrated):
    p = calibrated.parameters
    assert p["MTT"].value == 0.389 and p["MTT"].iiv_sd == 0.837  # He 2014 as published
    np.testing.assert_allclose(p["V1"].value + p["V2"].value, 1.16, rtol=1e-13)
    # the chain's mean residence (depot + transits) is MTT; the absorption compartment 1/ka
    k = calibrated.structure.rate_matrix({n: np.array([q.value]) for n, q in p.items()})[0]
    residence = -np.linalg.inv(k[:5, :5])[:, 0]
    np.testing.assert_allclose([residence[:4].sum(), residence[4]], [0.389, 1 / p["ka"].value], rtol=1e-12)
    # terminal half-life from the disposition's eigenvalues: 4.5 h by Q's derivation (closed form)
    lz = np.min(-np.linalg.eigvals(k[5:, 5:]).real)
    np.testing.assert_allclose(math.log(2) / lz, 4.5, rtol=1e-12)


def test_calibration_leaves_auc_and_cavg_unchanged(calibrated, he2014):
    # AUC(0-inf) of a unit dose = -e_central' K^-1 e_depot / V1 (the integral of exp(K t)),
    # computed for each model from its own rate matrix; F = 1 in both, so this is also
    # Cavg at steady state times tau for any regimen (superposition)
    def auc(model, weight_kg=20.0):
        p = model.typical_values(typical_cohort(weight_kg))
        k = model.structure.rate_matrix(p)[0]
        c = model.structure.central_index
        return -np.linalg.solve(k, np.eye(k.shape[0])[:, 0])[c] / p["V1"][0]

    # 1e-9 relative: the bound; both are 1/CL = 1/(0.273 * 20) to rounding
    np.testing.assert_allclose(auc(calibrated), auc(he2014), rtol=1e-9)
    np.testing.assert_allclose(auc(calibrated), 1 / (0.273 * 20), rtol=1e-9)


# --- random linear models ------------------------------------------------------------


def random_model(rng) -> Model:
    """A random oral linear model; rates span four orders of magnitude."""
    two = rng.random() < 0.5
    transit = rng.random() < 0.5
    structure = Structure(
        "two_compartment_oral" if two else "one_compartment_oral",
        "transit" if transit else "first_order",
        int(rng.integers(1, 6)) if transit else 0,
    )

    def log_uniform(lo, hi):
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    values = {"CL": (log_uniform(0.05, 5), "L/h"), "F": (rng.uniform(0.2, 1.0), "1")}
    if two:
        values.update(
            V1=(log_uniform(1, 50), "L"), Q=(log_uniform(0.05, 5), "L/h"), V2=(log_uniform(1, 100), "L")
        )
    else:
        values["V"] = (log_uniform(1, 100), "L")
    values["MTT" if transit else "ka"] = (
        (log_uniform(0.1, 10), "h") if transit else (log_uniform(0.01, 100), "1/h")
    )
    params = {
        n: Parameter(n, v, u, iiv_sd=0.3 if n in ("CL", "V", "V1") else 0.0) for n, (v, u) in values.items()
    }
    return Model("random", structure, params)


def random_subjects(seed: int, n: int):
    """A random model and n children of 20 kg with random effects: (rng, model, cohort, params)."""
    rng = np.random.default_rng(seed)
    model = random_model(rng)
    cohort = pk.Cohort(weight_kg=np.full(n, 20.0), age_years=np.full(n, 8.0))
    params = model.individual_parameters(cohort, rng.normal(size=(n, len(model.etas))) * 0.3)
    return rng, model, cohort, params


@pytest.mark.parametrize("case", range(12))
def test_mass_balance_on_random_linear_models(case):
    rng, model, cohort, params = random_subjects(100 + case, 5)
    dose_times = np.sort(rng.uniform(0, 48, 6))
    reg = pk.Regimen(time_h=dose_times, mg=rng.uniform(1, 20, 6), mg_per_kg=np.inf, max_mg=np.inf)
    times = np.linspace(0, 72, 145)
    amounts = analytic.amounts(model.structure, params, reg.doses(cohort), times)
    given = (reg.mg[None, :] * params["F"][:, None])[:, :, None] * (dose_times[None, :, None] < times)
    # every dose is somewhere: in a compartment or eliminated (pre-dose at a dose time)
    np.testing.assert_allclose(amounts.sum(axis=1), given.sum(axis=1), rtol=1e-9, atol=1e-12)
    assert np.all(amounts >= -1e-12 * amounts.max())


@pytest.mark.parametrize("case", range(8))
def test_steady_state_auc_over_a_dosing_interval_is_f_dose_over_cl(case):
    rng, model, cohort, params = random_subjects(200 + case, 3)
    rates = model.structure.rate_matrix(params)
    slowest = float(np.max(1 / (-np.linalg.eigvals(rates).real).min(axis=1)))  # longest time constant, h
    tau = float(rng.choice([6.0, 8.0, 12.0, 24.0]))
    n_doses = int(math.ceil(40 * slowest / tau)) + 2  # e^-40: steady state
    reg = pk.Regimen.fixed(mg=10.0, every_h=tau, n_doses=n_doses)
    end = tau * (n_doses - 1)
    amounts = analytic.amounts(model.structure, params, reg.doses(cohort), np.array([end - tau, end]))
    # AUC over the last interval = amount eliminated over it / CL (exactly: dE/dt = CL C)
    auc = (amounts[:, -1, 1] - amounts[:, -1, 0]) / params["CL"]
    np.testing.assert_allclose(auc, params["F"] * 10.0 / params["CL"], rtol=1e-9)


def test_general_engine_solves_a_transit_chain_exactly():
    # depot -> 3 transits -> central, one compartment: central gets the Erlang
    # (gamma, shape 4) input; with ktr == k the whole chain has one repeated eigenvalue
    structure = Structure("one_compartment_oral", "transit", 3)
    ktr = 2.0
    params = {
        "CL": np.array([20.0]),
        "V": np.array([10.0]),
        "MTT": np.array([4 / ktr]),
        "F": np.ones(1),
        "tlag": np.zeros(1),
    }
    times = np.linspace(0, 12, 49)
    conc = analytic.simulate(structure, params, pk.Doses(np.zeros(1), np.array([[100.0]])), times)
    # amount in central when k == ktr: D (ktr t)^4 e^{-ktr t} / 4! (Bateman for equal rates)
    expected = 100.0 * (ktr * times) ** 4 * np.exp(-ktr * times) / 24 / 10.0
    assert relative_error_where_visible(conc, expected[None, :]) < 1e-12


def test_bioavailability_scales_and_lag_shifts_the_curve(tmp_path, card):
    from conftest import write_model

    plain = pk.load_model(write_model(tmp_path, model={"name": "plain"}))
    path = write_model(tmp_path, F={"value": 0.5, "unit": "1"}, tlag={"value": 0.75, "unit": "h"})
    lagged = pk.load_model(path)
    times = np.arange(0, 24.25, 0.25)
    reg = pk.Regimen.fixed(mg=10, every_h=8, n_doses=3)
    a = pk.simulate(plain, typical_cohort(20), reg, times, variability=False).concentrations
    b = pk.simulate(lagged, typical_cohort(20), reg, times, variability=False).concentrations
    # b(t) = 0.5 a(t - 0.75): three grid steps later, half as high
    np.testing.assert_allclose(b[:, 3:], 0.5 * a[:, :-3], rtol=1e-12, atol=1e-15)
    assert np.all(b[:, :4] == 0)


def test_lag_that_differs_between_children_matches_the_ode_engine(tmp_path):
    from conftest import write_model

    model = pk.load_model(write_model(tmp_path, tlag={"value": 0.5, "unit": "h", "iiv_sd": 0.6}))
    rng = np.random.default_rng(8)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 30), age_years=np.full(30, 8.0))
    reg = pk.Regimen.weight_based(2.0, 3, 2)
    times = np.arange(0, 48.25, 0.25)
    exact = pk.simulate(model, cohort, reg, times, seed=4)
    assert np.unique(exact.individual["tlag"]).size == 30  # the per-subject path runs
    ode = pk.simulate(model, cohort, reg, times, seed=4, engine="ode")
    assert relative_error_where_visible(ode.concentrations, exact.concentrations) < 1e-6


def test_per_subject_path_equals_the_shared_path_when_times_agree(he2014):
    from pkmodel.engines import common, solutions

    cohort = pk.Cohort(weight_kg=[12.0, 25.0, 41.0], age_years=[3.0, 7.0, 12.0])
    params = he2014.individual_parameters(cohort, np.random.default_rng(1).normal(size=(3, 3)) * 0.3)
    doses = pk.Regimen.weight_based(2.0, 4, 2).doses(cohort)
    times = np.arange(0, 48.5, 0.5)
    epochs = common.Epochs.constant(params)
    solutions = [solutions.solution(he2014.structure, params)]
    shared = analytic.propagate(
        solutions, common.shared_timeline(epochs, common.Inputs.from_doses(doses)), times
    )
    # the same doses stored per child (SubjectDoses) take the per-subject path
    own = common.dose_input(he2014.structure, epochs, doses.per_subject())
    assert not own.shared
    each = analytic.per_subject(he2014.structure, epochs, own, times)
    np.testing.assert_allclose(each, shared, rtol=1e-10, atol=1e-14)
