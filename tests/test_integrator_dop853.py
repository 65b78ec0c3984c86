"""DOP853 in the batched integrator (engines/_dop853.py) and the per-child switch to Rodas5P.

References: the matrix exponential (scipy.linalg.expm) of a one-compartment oral system,
the Bateman function, scipy's own DOP853 (scipy.integrate._ivp.rk) and the analytic engine.
"""

import numpy as np
import pytest
from scipy.integrate._ivp.rk import DOP853, rk_step
from scipy.linalg import expm

import pkmodel as pk
from pkmodel.engines import _dop853
from test_integrator import oral_1cmt, relative_error, two_subjects_dosed_every_8_h

J = np.array([[-2.0, 0.0], [2.0, -0.3]])  # depot -> central, ka 2 /h, k 0.3 /h
Y0 = np.array([[10.0], [1.0]])  # (m, k = 1), mg


def _rhs(t, y, s):
    return y @ J.T


def _one_step(h):
    """(step error, dense-output error at mid-step) of one DOP853 step of size h from Y0."""
    hh = np.array([h])
    y_new, work = _dop853.step(_rhs, np.zeros(1), Y0, hh, J @ Y0, None)
    coefficients = _dop853.dense_coefficients(_rhs, np.zeros(1), Y0, y_new, hh, work, None)
    mid = _dop853.dense(np.array([0.5]), Y0, coefficients)
    return (
        np.abs(y_new[:, 0] - expm(J * h) @ Y0[:, 0]).max(),
        np.abs(mid[:, 0] - expm(J * h / 2) @ Y0[:, 0]).max(),
    )


def test_dop853_step_is_of_order_8_and_its_dense_output_of_order_7():
    # local errors O(h^9) and O(h^8): halving h divides them by 2^9 and 2^8. Measured at h
    # 0.3 -> 0.15 (h ka 0.6, still short of the asymptote): log2 ratios 8.69 and 7.90; the
    # errors (5e-9, 1e-11) stay far above rounding (~1e-15 of 10 mg)
    (step_h, dense_h), (step_half, dense_half) = _one_step(0.3), _one_step(0.15)
    assert 8.4 < np.log2(step_h / step_half) < 9.6
    assert 7.5 < np.log2(dense_h / dense_half) < 8.5


def test_dop853_step_error_estimate_and_dense_output_are_scipys():
    # the same coefficients and formulas as scipy's DOP853, vectorised: same numbers to rounding
    h = 0.5
    y_new, work = _dop853.step(_rhs, np.zeros(1), Y0, np.array([h]), J @ Y0, None)
    solver = DOP853(lambda t, y: J @ y, 0.0, Y0[:, 0], 10.0, rtol=1e-8, atol=1e-10)
    y_ref, f_ref = rk_step(solver.fun, 0.0, Y0[:, 0], solver.f, h, solver.A, solver.B, solver.C, solver.K)
    np.testing.assert_allclose(y_new[:, 0], y_ref, rtol=1e-14)
    scale = 1e-10 + np.maximum(np.abs(Y0[:, 0]), np.abs(y_ref)) * 1e-8
    norm = np.sqrt(_dop853.error_norm2(work, np.array([h]), scale[:, None]))
    # the estimate is a small difference of stages (cancellation): measured 6e-10 apart
    np.testing.assert_allclose(norm, solver._estimate_error_norm(solver.K, h, scale), rtol=1e-8)
    solver.t_old, solver.y_old, solver.t, solver.y, solver.h_previous, solver.f = (
        0.0,
        Y0[:, 0],
        h,
        y_ref,
        h,
        f_ref,
    )
    coefficients = _dop853.dense_coefficients(_rhs, np.zeros(1), Y0, y_new, np.array([h]), work, None)
    got = _dop853.dense(np.array([0.37]), Y0, coefficients)[:, 0]
    np.testing.assert_allclose(got, solver._dense_output_impl()(0.37 * h), rtol=1e-13)


def _two_children(ka, method):
    """Children absorbing at ka (2,), k 0.15 /h, 10 mg every 8 h for 2 days, outputs 0.25 h."""
    dose, times = np.full(2, 10.0), np.arange(0, 60.25, 0.25)
    return two_subjects_dosed_every_8_h(
        ka, np.full(2, 0.15), dose, times, rtol=1e-8, atol=1e-9, method=method
    )


def test_the_switch_steps_a_child_absorbing_at_200_per_h_by_rodas5p_and_stays_within_1e_6():
    ka = np.array([1.0, 200.0])
    res, central, exact = _two_children(ka, "dop853_rodas5p")
    np.testing.assert_array_equal(res.stiff, [False, True])
    for i in range(2):
        assert relative_error(central[i], exact[i]) < 1e-6, i
    # DOP853 alone holds the fast child's step under its stability bound (3 / 200 h):
    # several times the steps Rodas5P needs for it
    alone, central_alone, _ = _two_children(ka, "dop853")
    assert relative_error(central_alone[1], exact[1]) < 1e-6
    assert alone.n_steps[1] > 5 * res.n_steps[1]
    assert alone.n_steps[0] == res.n_steps[0]  # the slow child is the same DOP853 child


def test_dop853_takes_fewer_steps_than_rodas5p_on_a_smooth_child_at_rtol_1e_8():
    # order 8 against order 5 (measured: about 2.7x fewer on W1's children)
    ka = np.array([1.0, 3.0])
    dop, central, exact = _two_children(ka, "dop853")
    rodas, _, _ = _two_children(ka, "rodas5p")
    assert np.all(dop.n_steps * 2 < rodas.n_steps)
    for i in range(2):
        assert relative_error(central[i], exact[i]) < 1e-6, i


def test_an_unknown_method_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"integrate: method is 'rk4'; expected one of \['rodas5p'"):
        _two_children(np.array([1.0, 2.0]), "rk4")


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_the_switch_agrees_with_the_analytic_engine_within_1e_6_per_child(card):
    rng = np.random.default_rng(8)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 50, 80), age_years=rng.uniform(2, 17, 80))
    reg = pk.Regimen.parse("2 mg/kg/day TID for 4 days")
    times = np.arange(0, 96.5, 0.5)
    exact = pk.simulate(card, cohort, reg, times, engine="analytic", seed=3).concentrations
    got = pk.simulate(card, cohort, reg, times, engine="ode", method="dop853_rodas5p", seed=3)
    peak = exact.max(axis=1)
    assert np.max(np.abs(got.concentrations - exact).max(axis=1) / peak) < 1e-6
    # with IIV 0.837 on ka some of 80 children absorb fast enough to be Rodas5P's
    assert got.parameters["ka"].max() > 10


def test_rodas5p_stage_sums_as_one_block_give_the_same_bits_as_term_by_term(monkeypatch):
    # below BLOCK_BELOW subjects the stage sums are one block (fewer numpy calls); the same
    # additions in the same order, so a subject's numbers cannot depend on the batch's size
    from pkmodel.engines import _rodas

    rng = np.random.default_rng(1)
    n = 40
    ka, ke = rng.uniform(0.5, 30, n), rng.uniform(0.05, 0.3, n)
    rhs, jac = oral_1cmt(ka, ke)
    y, h, s = rng.uniform(0, 10, (2, n)), rng.uniform(0.01, 1, n), np.arange(n)
    args = (rhs, np.zeros(n), y, h, jac(None, y.T, s), rhs(None, y.T, s).T, s)
    monkeypatch.setattr(_rodas, "BLOCK_BELOW", n)
    block, (block_stages,) = _rodas.step(*args)
    monkeypatch.setattr(_rodas, "BLOCK_BELOW", n - 1)
    terms, (term_stages,) = _rodas.step(*args)
    np.testing.assert_array_equal(block, terms)
    np.testing.assert_array_equal(block_stages, term_stages)
