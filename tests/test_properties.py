"""Properties every linear model must have, on random models, regimens and grids (hypothesis).

Each example is a random oral linear model (one or two compartments, first-order or transit
absorption with 0-5 transit compartments, F, lag) for three subjects: the first with its
absorption rate drawn from 0.01 to 100 /h, the second with it exactly equal to its k = CL/V
(the closed form's 0/0 point), the third within 1e-9 of k. Doses, amounts and output times are
random too. The engines' numerical functions are called directly with a structure and the subjects'
parameters (below the Engine contract, which takes a Model).
"""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkmodel as pk
from pkmodel.engines import analytic, ode
from pkmodel.model.structures import Structure

# 200 examples per property, the same ones on every run (no example database, derandomized):
# a failure in CI is a failure on every machine.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
N_SUBJECTS = 3
HORIZON_H = 72.0  # output grids run from 0 to this
# Errors are relative where the curve is visible, C > 1e-3 Cmax (the standard), and
# relative to 1e-3 Cmax below it.
VISIBLE = 1e-3
# Tolerances, with the largest error measured over the 200 examples:
# scaling the amounts changes only the rounding of a few dozen multiply-adds (6e-16)
LINEAR_RTOL = 1e-12
# the analytic engine keys its cached steps to 12 significant digits, so a merged timeline
# takes steps a rounding apart from each regimen's own (1e-11)
SUPERPOSITION_RTOL = 1e-10
# shifted times carry the rounding of t + shift (ulp(2000 h) = 2e-13 h) into every offset,
# against rates up to 100 /h (3e-13)
SHIFT_RTOL = 1e-9
# the compartments' sum rounds once per compartment and event (1.3e-12)
MASS_RTOL = 1e-10
# the batched matrix exponential takes one scaling 2^-s for all subjects, from the largest
# |K tau| (up to 2e6 here: ktr 100 /h, tau 2e4 h); a slow subject batched with a fast one then
# carries ~2^s eps = 5e-10 per interval, over up to 202 intervals (1.1e-8; alone: 3e-15)
STEADY_RTOL = 1e-7
# the ode engine's promise: 1e-6 where C > 1e-3 Cmax (7e-7). Its error control works on the
# amounts, rtol |x| + atol per step (rtol 1e-10, atol 1e-12 mg), and over a run its error
# stays within a few such units of the dose (measured: 1.3); where a curve lies far below its
# dose's scale (0.005 mg given, fast elimination) that absolute bound, 10 units, is the one
ODE_RTOL = 1e-6
ODE_UNITS = 10


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Uniform in log between lo and hi, the ends themselves included."""
    return st.one_of(
        st.sampled_from([float(lo), float(hi)]), st.floats(math.log(lo), math.log(hi)).map(math.exp)
    )


def vector(element: st.SearchStrategy[float]) -> st.SearchStrategy[np.ndarray]:
    """One value per subject, shape (N_SUBJECTS,), float."""
    return st.lists(element, min_size=N_SUBJECTS, max_size=N_SUBJECTS).map(lambda x: np.array(x, dtype=float))


@st.composite
def linear_models(draw, same_lag: bool = False):
    """(structure, params): params maps each parameter to shape (N_SUBJECTS,), L/h, L, 1/h, h."""
    two = draw(st.booleans())
    transit = draw(st.booleans())
    structure = Structure(
        "two_compartment_oral" if two else "one_compartment_oral",
        "transit" if transit else "first_order",
        draw(st.integers(0, 5)) if transit else 0,
    )
    volume = "V1" if two else "V"
    # CL 0.01-100 L/h and V 1-1000 L: k from 1e-5 to 100 /h
    params = {"CL": draw(vector(log_uniform(0.01, 100))), volume: draw(vector(log_uniform(1, 1000)))}
    if two:
        params["Q"] = draw(vector(log_uniform(0.01, 100)))
        params["V2"] = draw(vector(log_uniform(1, 1000)))
    k = params["CL"] / params[volume]
    rate = draw(vector(log_uniform(0.01, 100)))
    rate[1] = k[1]  # ka == k exactly
    rate[2] = k[2] * (1 + draw(st.floats(-1e-9, 1e-9)))  # ka within 1e-9 of k
    if transit:
        params["MTT"] = (structure.n_transit + 1) / rate  # ktr = (n + 1) / MTT
    else:
        params["ka"] = rate
    params["F"] = draw(vector(st.floats(0.05, 1.0)))
    lag = st.floats(0.0, 2.0)
    shared = same_lag or draw(st.booleans())
    params["tlag"] = np.full(N_SUBJECTS, draw(lag)) if shared else draw(vector(lag))
    return structure, params


def times_until(end_h: float) -> st.SearchStrategy[float]:
    """Times anywhere in [0, end_h] and on its 0.5 h lattice (doses at one time, outputs at dose
    times). Subnormal times (< 2.2e-308 h) have their own test in test_engines.py."""
    return st.one_of(st.floats(0.0, end_h), st.integers(0, int(2 * end_h)).map(lambda i: i / 2))


@st.composite
def dose_sets(draw, max_doses: int = 6):
    """Doses for N_SUBJECTS: times (sorted, repeats allowed), amounts 0.1-100 mg per subject."""
    n = draw(st.integers(1, max_doses))
    times = np.sort(draw(st.lists(times_until(48.0), min_size=n, max_size=n)))
    amounts = draw(st.lists(vector(log_uniform(0.1, 100)), min_size=n, max_size=n))
    return pk.Doses(time_h=times, amount_mg=np.array(amounts).T)


def grids(max_times: int = 30, end_h: float = HORIZON_H) -> st.SearchStrategy[np.ndarray]:
    """Output times, strictly increasing, 0 to end_h."""
    return st.lists(times_until(end_h), min_size=1, max_size=max_times, unique=True).map(
        lambda x: np.array(sorted(x))
    )


ENGINE_FUNCTIONS = {"analytic": analytic.simulate, "ode": ode.simulate}


def conc(model, doses: pk.Doses, times: np.ndarray, engine: str = "analytic") -> np.ndarray:
    structure, params = model
    out = ENGINE_FUNCTIONS[engine](structure, params, doses, times)
    # no NaN or inf anywhere, whatever the property under test
    assert out.shape == (N_SUBJECTS, times.size) and np.all(np.isfinite(out))
    return out


def peak(model, doses: pk.Doses, end_h: float) -> np.ndarray:
    """Each subject's Cmax over the grids' horizon [0, end_h] (analytic, 2001 points), (n, 1)."""
    return conc(model, doses, np.linspace(0.0, end_h, 2001)).max(axis=1, keepdims=True)


def error(actual: np.ndarray, expected: np.ndarray, floor: np.ndarray) -> float:
    """Largest |actual - expected| relative to expected, or to `floor` (shape (n, 1)) where
    expected is below it; where both are 0 (before any dose) actual must be 0 too."""
    scale = np.maximum(np.abs(expected), floor)
    diff = np.abs(actual - expected)
    return float(
        np.max(
            np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff == 0, 0.0, np.inf)),
            initial=0.0,
        )
    )


def check(what: str, err: float, tolerance: float) -> None:
    assert err <= tolerance, f"{what}: error {err:.3g} > {tolerance:g}"


def scaled(doses: pk.Doses, factor) -> pk.Doses:
    return pk.Doses(time_h=doses.time_h, amount_mg=doses.amount_mg * factor)


# --- linearity, superposition, time invariance ----------------------------------------------


@PROPERTY
@given(linear_models(), dose_sets(), grids(), log_uniform(1e-3, 1e3))
def test_scaling_every_dose_scales_every_concentration(model, doses, times, factor):
    base = conc(model, doses, times)
    check(
        "linearity",
        error(
            conc(model, scaled(doses, factor), times),
            factor * base,
            VISIBLE * factor * peak(model, doses, HORIZON_H),
        ),
        LINEAR_RTOL,
    )


@PROPERTY
@given(linear_models(), dose_sets(max_doses=4), dose_sets(max_doses=4), grids())
def test_two_regimens_together_give_the_sum_of_their_curves(model, first, second, times):
    order = np.argsort(np.r_[first.time_h, second.time_h], kind="stable")
    both = pk.Doses(
        time_h=np.r_[first.time_h, second.time_h][order],
        amount_mg=np.c_[first.amount_mg, second.amount_mg][:, order],
    )
    total = conc(model, first, times) + conc(model, second, times)
    floor = VISIBLE * peak(model, both, HORIZON_H)
    check("superposition", error(conc(model, both, times), total, floor), SUPERPOSITION_RTOL)


@PROPERTY
@given(linear_models(), dose_sets(), grids(), times_until(2000.0))
def test_shifting_doses_and_outputs_shifts_the_curve(model, doses, times, shift_h):
    later = conc(model, pk.Doses(time_h=doses.time_h + shift_h, amount_mg=doses.amount_mg), times + shift_h)
    floor = VISIBLE * peak(model, doses, HORIZON_H)
    check("time invariance", error(later, conc(model, doses, times), floor), SHIFT_RTOL)


# --- non-negativity, mass balance, steady state ----------------------------------------------


@PROPERTY
@given(linear_models(), dose_sets(), grids(end_h=1e5), log_uniform(1e-9, 1e6))
def test_concentrations_are_finite_and_never_negative(model, doses, times, factor):
    # doses from 1e-9 to 1e8 mg, outputs up to 11 years: conc() checks finiteness
    assert np.all(conc(model, scaled(doses, factor), times) >= 0)


@PROPERTY
@given(linear_models(same_lag=True), dose_sets(), grids())
def test_every_dose_is_in_a_compartment_or_eliminated(model, doses, times):
    structure, params = model
    amounts = analytic.amounts(structure, params, doses, times)  # (n, m + 1, n_times)
    assert amounts.shape == (N_SUBJECTS, len(structure.compartments) + 1, times.size)
    assert np.all(np.isfinite(amounts))
    # what has reached the depot: F * dose for doses whose time + lag lies before t (an output
    # at that instant is pre-dose)
    arrived = doses.time_h[None, :] + params["tlag"][:, None] < times[:, None, None]  # (t, n, d)
    given_mg = np.einsum("tnd,nd->nt", arrived, doses.amount_mg * params["F"][:, None])
    total = amounts.sum(axis=1)
    check("mass balance", error(total, given_mg, VISIBLE * given_mg.max(axis=1, keepdims=True)), MASS_RTOL)
    assert np.all(amounts >= -MASS_RTOL * given_mg.max(axis=1)[:, None, None])


@PROPERTY
@given(linear_models(same_lag=True), log_uniform(0.2, 2.0), log_uniform(0.1, 100))
def test_steady_state_auc_over_an_interval_is_f_dose_over_cl(model, tau_per_time_constant, dose_mg):
    structure, params = model
    rates = structure.rate_matrix(params)
    slowest = float(np.max(1 / (-np.linalg.eigvals(rates).real).min(axis=1)))  # h
    tau = slowest * tau_per_time_constant  # any interval, 1e-4 h to 1e5 h
    n_doses = math.ceil(40 * slowest / tau) + 2  # e^-40 of the way: steady state
    doses = pk.Doses(time_h=np.arange(n_doses) * tau, amount_mg=np.full((N_SUBJECTS, n_doses), dose_mg))
    end = doses.time_h[-1] + params["tlag"][0]  # an interval that ends at a dose
    amounts = analytic.amounts(structure, params, doses, np.array([end - tau, end]))
    # dE/dt = CL C exactly: the AUC of the interval is what it eliminates over CL
    auc = (amounts[:, -1, 1] - amounts[:, -1, 0]) / params["CL"]
    expected = params["F"] * dose_mg / params["CL"]
    check("steady-state AUC", float(np.max(np.abs(auc - expected) / expected)), STEADY_RTOL)


# --- the two engines -----------------------------------------------------------------------


@PROPERTY
@given(linear_models(), dose_sets(max_doses=4), grids(max_times=12))
def test_ode_engine_agrees_with_the_analytic_engine(model, doses, times):
    structure, params = model
    # ode.simulate: the solve_ivp path (stacked K @ y), at its own defaults
    units_mg = ode.SCIPY_OPTIONS["rtol"] * doses.amount_mg.sum(axis=1) + ode.SCIPY_OPTIONS["atol"]
    solver = ODE_UNITS * units_mg[:, None] / params[structure.volume][:, None]  # mg/L
    floor = np.maximum(VISIBLE * peak(model, doses, HORIZON_H), solver / ODE_RTOL)
    check(
        "analytic vs ode", error(conc(model, doses, times, "ode"), conc(model, doses, times), floor), ODE_RTOL
    )


# --- exposure windows (issue 12): each child's own, whoever it is simulated with -------------

WINDOW_HORIZON_H = 120.0
DAILY_PATTERNS = ((8.0, 14.0, 20.0), (7.0, 12.0, 17.0, 22.0), (8.0, 13.0))  # uneven, clock hours


@st.composite
def own_schedules(draw):
    """A child's doses and the steady-state window and mg per period they imply, worked out here
    from how they were drawn: (times, mg per dose, (start, end), mg per period)."""
    mg = draw(st.sampled_from([2.5, 5.0, 10.0, 20.0]))
    if draw(st.booleans()):  # every tau h from a start on the 0.5 h lattice
        tau = draw(st.sampled_from([3.0, 4.0, 6.0, 8.0, 12.0, 24.0]))
        first = draw(st.integers(0, 47)) / 2
        n = draw(st.integers(2, int((WINDOW_HORIZON_H - first) // tau) + 1))
        times = first + tau * np.arange(n)
        last = times[-1]
        window = (last, last + tau) if last + tau <= WINDOW_HORIZON_H else (last - tau, last)
        return times, mg, window, mg
    hours = np.array(draw(st.sampled_from(DAILY_PATTERNS)))
    day0 = draw(st.integers(0, 1))
    days = draw(st.integers(2, int(WINDOW_HORIZON_H // 24) - day0))
    times = (24.0 * (day0 + np.arange(days))[:, None] + hours).ravel()
    # each day starts with the dose after the night (the longest gap); the last whole one inside
    morning = 24.0 * (day0 + days - 1) + hours[0]
    window = (morning, morning + 24) if morning + 24 <= WINDOW_HORIZON_H else (morning - 24, morning)
    return times, mg, window, mg * hours.size


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(own_schedules(), min_size=1, max_size=4), st.lists(st.floats(10, 60), min_size=4, max_size=4))
def test_each_childs_steady_state_window_is_its_own_whoever_it_is_simulated_with(schedules, weights):
    import pandas as pd

    card = pk.load_model("baclofen_cp_card")
    times = np.arange(0, WINDOW_HORIZON_H + 0.25, 0.5)
    rows = [(i + 1, t, mg) for i, (doses, mg, _, _) in enumerate(schedules) for t in doses]
    table = pd.DataFrame(rows, columns=["ID", "TIME", "AMT"]).assign(EVID=1, CMT=1)
    n = len(schedules)
    together = pk.exposure(
        pk.simulate(
            card,
            pk.Cohort(weight_kg=weights[:n], age_years=[8.0] * n),
            pk.read_events(table),
            times,
            variability=False,
        ),
        window="steady_state",
    )
    for i, (_, _, window, per_period) in enumerate(schedules):
        alone_table = table[table["ID"] == i + 1]
        alone = pk.exposure(
            pk.simulate(
                card,
                pk.Cohort(weight_kg=[weights[i]], age_years=[8.0], ids=[i + 1]),
                pk.read_events(alone_table),
                times,
                variability=False,
            ),
            window="steady_state",
        ).iloc[0]
        row = together.iloc[i]
        # the window the schedule implies, the same alone and with the others
        assert (row["start_h"], row["end_h"]) == window == (alone["start_h"], alone["end_h"])
        # cavg_ss = F dose per period / (CL period), CL = 0.273 L/h/kg x weight
        expected = per_period / (0.273 * weights[i] * (window[1] - window[0]))
        np.testing.assert_allclose([row["cavg_ss"], alone["cavg_ss"]], expected, rtol=1e-12)
        # exact metrics alone and together: the others' dose times only split the same exact
        # steps (rounding, 1e-15 measured)
        values = ["auc", "cmax", "cmin", "cavg", "trough"]
        np.testing.assert_allclose(row[values].astype(float), alone[values].astype(float), rtol=1e-9)
        np.testing.assert_allclose(row["tmax_h"], alone["tmax_h"], atol=1e-9)
