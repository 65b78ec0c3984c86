import math

import numpy as np
import pytest

import pkmodel as pk
from conftest import typical_cohort

REG = pk.Regimen.fixed(mg=5, every_h=8, n_doses=3)


def test_parameters_frame_has_one_row_per_child_with_units_and_covariates(card):
    cohort = pk.Cohort(weight_kg=[10.0, 20.0], age_years=[3.0, 6.0], sex=["F", "M"], ids=[5, 9])
    res = pk.simulate(card, cohort, REG, [0.0, 1.0], seed=1)
    assert list(res.parameters.columns) == ["id", "CL", "V", "ka", "eta_CL", "eta_V", "eta_ka",
                                            "age_years", "sex", "weight_kg"]
    assert res.parameters["id"].tolist() == [5, 9]
    np.testing.assert_allclose(res.parameters["CL"], 0.273 * cohort.weight_kg * np.exp(res.parameters["eta_CL"]),
                               rtol=1e-15)


def test_unknown_engine_is_refused(card):
    with pytest.raises(ValueError, match=r"engine is 'euler'; expected one of \['analytic', 'ode'\]"):
        pk.simulate(card, typical_cohort(20), REG, [1.0], engine="euler")


def test_option_the_engine_does_not_take_is_refused(card):
    with pytest.raises(ValueError, match=r"engine 'analytic' has no option 'rtol'"):
        pk.simulate(card, typical_cohort(20), REG, [1.0], rtol=1e-8)
    with pytest.raises(ValueError, match=r"engine 'ode' has no option 'rtl'"):
        pk.simulate(card, typical_cohort(20), REG, [1.0], engine="ode", rtl=1e-8)


def test_ode_tolerances_are_settable(card):
    times = np.arange(0.5, 24, 0.5)
    exact = pk.simulate(card, typical_cohort(20), REG, times, variability=False).concentrations
    error = {}
    for rtol in (1e-3, None):
        options = {"rtol": rtol, "atol": 1e-6} if rtol else {}
        ode = pk.simulate(card, typical_cohort(20), REG, times, engine="ode", variability=False, **options)
        error[rtol] = np.max(np.abs(ode.concentrations / exact - 1))
    # the loose run is visibly less exact than the default, and still roughly right
    assert 100 * error[None] < error[1e-3] < 1e-2


@pytest.mark.parametrize("times, message", [
    ([2.0, 1.0], r"times\[1\] is 1\.0; expected strictly increasing times"),
    ([1.0, 1.0], r"times\[1\] is 1\.0; expected strictly increasing times"),
    ([-1.0, 1.0], r"times\[0\] is -1\.0; expected a finite time >= 0 h"),
    ([0.0, math.nan], r"times\[1\] is nan; expected a finite time >= 0 h"),
    ([], r"times has shape \(0,\); expected a non-empty 1-D array of hours"),
    ("soon", r"times\[0\] is 'soon'; expected a number of hours"),
])
def test_bad_times_are_refused(card, times, message):
    with pytest.raises(ValueError, match=message):
        pk.simulate(card, typical_cohort(20), REG, times)


def test_wrong_kinds_of_argument_are_refused(card):
    with pytest.raises(TypeError, match=r"model is a str; expected a Model \(pk\.load_model\)"):
        pk.simulate("baclofen_cp_card", typical_cohort(20), REG, [1.0])
    with pytest.raises(TypeError, match=r"cohort is a list; expected a Cohort"):
        pk.simulate(card, [20.0], REG, [1.0])
    with pytest.raises(ValueError, match=r"variability is 'yes'; expected True or False"):
        pk.simulate(card, typical_cohort(20), REG, [1.0], variability="yes")


# --- growing children (issue 5, part 5) ------------------------------------------

def test_growing_weight_lowers_cavg_of_a_fixed_mg_dose_as_the_weight_rises(card):
    cohort = pk.Cohort.from_growth_charts(6, age_years=(2, 17), seed=3)
    weeks12 = 12 * 7 * 24.0
    times = np.arange(weeks12 - 48, weeks12 + 0.25, 0.25)
    reg = pk.Regimen.fixed(mg=10, every_h=8, n_doses=int(weeks12 / 8) + 1)
    fixed = pk.simulate(card, cohort, reg, times, variability=False)
    grown = pk.simulate(card, cohort, reg, times, variability=False, weight_update_h=24)
    last_day = weeks12 - 24
    # both on the grid (exact exposure takes one set of parameters per child): like with like
    ratio = (pk.exposure(grown, start=last_day, end=weeks12, method="grid")["cavg"]
             / pk.exposure(fixed, start=last_day, end=weeks12, method="grid")["cavg"]).to_numpy()
    # CL/F is 0.273 L/h/kg: at steady state Cavg ~ 1/weight; the weight of the last day's epoch
    w0 = cohort.weight_kg
    w_end = pk.growth.weight_trajectory(cohort, [last_day])[:, 0]
    assert np.all(w_end > w0)
    # a day's growth (< 0.05 %) leaves the state within 1e-3 of that epoch's steady state
    np.testing.assert_allclose(ratio, w0 / w_end, rtol=1e-3)


def test_growing_weight_analytic_and_ode_agree(card):
    cohort = pk.Cohort.from_growth_charts(4, age_years=(2, 6), seed=1)
    reg = pk.Regimen.weight_based(2.0, 3, 4)
    times = np.arange(0, 96.5, 0.5)
    a = pk.simulate(card, cohort, reg, times, seed=1, weight_update_h=12)
    o = pk.simulate(card, cohort, reg, times, seed=1, weight_update_h=12, engine="ode")
    from conftest import relative_error_where_visible
    assert relative_error_where_visible(o.concentrations, a.concentrations) < 1e-6


def test_growing_weight_needs_a_chart_cohort_and_a_positive_step(card):
    with pytest.raises(ValueError, match=r"weight_update_h is 0; expected a finite number of hours > 0"):
        pk.simulate(card, typical_cohort(20), REG, [1.0, 30.0], weight_update_h=0)
    with pytest.raises(ValueError, match=r"weight_update_h is 24 but the cohort has no sex; expected "
                                         r"a cohort that can grow"):
        pk.simulate(card, typical_cohort(20), REG, [1.0, 30.0], weight_update_h=24)
