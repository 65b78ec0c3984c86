"""Nonlinear models of the language: Michaelis-Menten elimination against its closed form
(Lambert W), tolerances, the numerical steady state, and everything exact only for linear
models refused or replaced (engine="analytic", find_dose, auc_ss)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

import pkmodel as pk
from pkmodel.engines import ode
from conftest import relative_error_where_visible

PHENYTOIN = pk.load_model("phenytoin_mm_oral")

MM_IV = """
[model]
name = "mm_iv"
compartments = ["central"]

[parameters.VMAX]
value = 0.4
unit = "mg/h/kg"
iiv_sd = 0.3
source = "assumed for the test"

[parameters.KM]
value = 4.0
unit = "mg/L"
iiv_sd = 0.5
source = "assumed for the test"

[parameters.V]
value = 0.7
unit = "L/kg"
iiv_sd = 0.2
source = "assumed for the test"

[derived]
C = "central / V"

[odes]
central = "-VMAX * C / (KM + C)"

[outputs]
conc = "C"
"""


def test_michaelis_menten_iv_bolus_matches_the_lambert_w_closed_form_per_child(tmp_path):
    path = tmp_path / "mm_iv.toml"
    path.write_text(MM_IV)
    model = pk.load_model(path)
    assert not model.is_linear
    cohort = pk.Cohort.from_growth_charts(200, age_years=(2, 17), seed=12)
    dose = pk.Regimen.fixed(mg=100, every_h=48, n_doses=1)
    times = np.arange(0.5, 48.5, 0.5)
    res = pk.simulate(model, cohort, dose, times, seed=12)
    assert res.engine == "ode"
    p = res.individual
    vmax, km, v = (p[k][:, None] for k in ("VMAX", "KM", "V"))
    c0 = 100.0 / v
    # dC/dt = -(Vmax/V) C / (Km + C): C(t) = Km W((C0/Km) exp((C0 - Vmax t / V) / Km))
    exact = km * special.lambertw(c0 / km * np.exp((c0 - vmax * times / v) / km)).real
    # 1e-6 relative where visible (above 1e-3 of the child's peak); below it each child's atol
    # (1e-10 of its dose, mg) rules: within 1e-9 of the peak (a pointwise 1e-6 at 1e-13 mg/L,
    # 36 h on for the fastest children, would need an atol of 1e-17 mg)
    assert relative_error_where_visible(res.concentrations, exact) <= 1e-6
    peak = exact.max(axis=1, keepdims=True)
    low = exact <= 1e-3 * peak
    assert np.max(np.where(low, np.abs(res.concentrations - exact) / peak, 0.0)) <= 1e-9
    assert np.ptp(p["KM"]) > 1 and np.ptp(p["VMAX"] / cohort.weight_kg) > 0.1  # with variability


def test_oral_michaelis_menten_at_default_tolerances_is_within_1e_6_of_rtol_1e_12():
    cohort = pk.Cohort.from_growth_charts(50, age_years=(7, 16), seed=13)
    reg = pk.Regimen.weight_based(mg_per_kg_day=5.0, doses_per_day=2, days=5)
    times = np.arange(0.0, 120.5, 0.5)
    default = pk.simulate(PHENYTOIN, cohort, reg, times, seed=13)
    tight = pk.simulate(PHENYTOIN, cohort, reg, times, seed=13, rtol=1e-12)
    assert relative_error_where_visible(default.concentrations, tight.concentrations) <= 1e-6


def test_engine_analytic_on_a_nonlinear_model_is_refused_with_the_reason():
    cohort = pk.Cohort(weight_kg=[30.0], age_years=[10.0])
    with pytest.raises(
        ValueError,
        match=r"engine 'analytic' cannot simulate model "
        r"'phenytoin_mm_oral'.*VMAX \* C / \(KM \+ C\) is not affine in the "
        r"amounts \(central appears in a denominator, through C\)",
    ):
        pk.simulate(
            PHENYTOIN, cohort, pk.Regimen.fixed(mg=100, every_h=12, n_doses=2), [1.0, 2.0], engine="analytic"
        )


def steady_state_record(cohort: pk.Cohort, mg: float, ii_h: float) -> pk.EventTable:
    return pk.read_events(
        pd.DataFrame(
            {"ID": np.asarray(cohort.ids), "TIME": 0.0, "AMT": mg, "EVID": 1, "CMT": 1, "SS": 1, "II": ii_h}
        )
    )


def test_the_numerical_steady_state_agrees_with_60_days_of_dosing():
    cohort = pk.Cohort(weight_kg=[25.0, 40.0, 55.0], age_years=[8.0, 12.0, 15.0])
    ii, mg = 12.0, 60.0  # 120 mg/day: 4.8, 3 and 2.2 mg/kg/day, Css about 5 to 1.5 mg/L
    last = 60 * 24.0
    steady = pk.simulate(
        PHENYTOIN, cohort, steady_state_record(cohort, mg, ii), np.linspace(0.25, ii, 48), variability=False
    )
    days = pk.simulate(
        PHENYTOIN,
        cohort,
        pk.Regimen.fixed(mg=mg, every_h=ii, n_doses=121),
        last + np.linspace(0.25, ii, 48),
        variability=False,
    )
    # stated: the fixed point to SS_RTOL (1e-9) on the engine's rtol (1e-10); 60 days are
    # > 50 of the slowest child's effective half-lives (~26 h at 5 mg/L)
    assert ode.SS_RTOL == 1e-9
    np.testing.assert_allclose(steady.concentrations, days.concentrations, rtol=1e-7)
    assert np.all(np.diff(days.concentrations.mean(axis=1)) < 0)  # heavier: lower (mg/kg)


def test_a_steady_state_that_does_not_converge_warns(monkeypatch):
    from pkmodel.engines import _stacked  # the fixed point's home (the stacked path)

    monkeypatch.setattr(_stacked, "SS_MAX_INTERVALS", 3)
    cohort = pk.Cohort(weight_kg=[25.0], age_years=[8.0])
    with pytest.warns(ode.SteadyStateWarning, match="did not converge in 3 dosing intervals"):
        pk.simulate(PHENYTOIN, cohort, steady_state_record(cohort, 60.0, 12.0), [1.0, 2.0], variability=False)


def test_find_dose_refuses_a_nonlinear_model_saying_why():
    cohort = pk.Cohort(weight_kg=[30.0], age_years=[10.0])
    with pytest.raises(
        ValueError,
        match=r"find_dose: model 'phenytoin_mm_oral' is nonlinear "
        r"\(.*central appears in a denominator.*simulate candidate doses",
    ):
        pk.find_dose(
            PHENYTOIN, cohort, target=10.0, doses_per_day=2, max_mg_per_dose=None, max_mg_per_day=None
        )


def test_exposure_of_a_nonlinear_model_reads_the_curve_and_gives_no_exact_auc_ss():
    cohort = pk.Cohort.from_growth_charts(5, age_years=(7, 16), seed=14)
    reg = pk.Regimen.weight_based(mg_per_kg_day=5.0, doses_per_day=2, days=3)
    res = pk.simulate(PHENYTOIN, cohort, reg, np.arange(0.0, 72.25, 0.25), seed=14)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = pk.exposure(res, window="steady_state")
    assert "auc_ss" not in table and table.attrs["method"] == "grid"
    assert any(
        "auc_ss and cavg_ss left out" in str(w.message) and "nonlinear" in str(w.message) for w in caught
    )
    # the window's AUC is the curve's: the trapezoid of the grid, not F dose / CL
    a, b = float(table["start_h"].iloc[0]), float(table["end_h"].iloc[0])
    assert (a, b) == (60.0, 72.0)  # the last full dosing interval
    j = (res.times >= a) & (res.times <= b)
    c, dt = res.concentrations[:, j], np.diff(res.times[j])
    c1, c2 = c[:, :-1], c[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):  # linear up, log down, by hand
        pieces = np.where(c2 < c1, (c1 - c2) / np.log(c1 / c2), (c1 + c2) / 2) * dt
    np.testing.assert_allclose(table["auc"], pieces.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("method", ["Radau", "BDF", "LSODA"])
def test_stiff_methods_with_the_exact_sparse_jacobian_match_the_closed_form(tmp_path, method):
    path = tmp_path / "mm_iv.toml"
    path.write_text(MM_IV)
    cohort = pk.Cohort.from_growth_charts(20, age_years=(2, 17), seed=16)
    times = np.arange(1.0, 25.0, 1.0)
    res = pk.simulate(
        pk.load_model(path),
        cohort,
        pk.Regimen.fixed(mg=100, every_h=48, n_doses=1),
        times,
        seed=16,
        method=method,
        rtol=1e-9,
    )
    p = res.individual
    vmax, km, v = (p[k][:, None] for k in ("VMAX", "KM", "V"))
    c0 = 100.0 / v
    exact = km * special.lambertw(c0 / km * np.exp((c0 - vmax * times / v) / km)).real
    # implicit methods at rtol 1e-9: within 1e-6 of the closed form per child
    assert np.max(np.abs(res.concentrations - exact) / exact) <= 1e-6
