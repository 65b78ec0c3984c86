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
    ("soon", r"times is 'soon'; expected numbers \(h\)"),
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
