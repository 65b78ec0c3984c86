import math

import numpy as np
import pytest

import pkmodel as pk
from pkmodel.exposure import auc_linear_up_log_down


def test_log_down_trapezoid_is_exact_on_an_exponential_decline():
    t = np.linspace(0, 10, 11)
    c = 2.0 * np.exp(-0.3 * t)[None, :]
    exact = 2.0 / 0.3 * (1 - math.exp(-3.0))
    np.testing.assert_allclose(auc_linear_up_log_down(t, c), [exact], rtol=1e-13)


def test_linear_trapezoid_where_the_curve_rises_or_touches_zero():
    t = np.array([0.0, 1.0, 3.0, 4.0])
    c = np.array([[0.0, 2.0, 4.0, 0.0]])   # up, up, down to zero (log undefined: linear)
    np.testing.assert_allclose(auc_linear_up_log_down(t, c), [1.0 + 6.0 + 2.0])


def test_metrics_over_a_window(card):
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(0, 48.25, 0.25)
    res = pk.simulate(card, cohort, pk.Regimen.fixed(mg=10, every_h=12, n_doses=4), times,
                      variability=False)
    e = pk.exposure(res, start=24, end=36)
    window = (times >= 24) & (times <= 36)
    c = res.concentrations[0, window]
    assert e["cmax"].iloc[0] == c.max() and e["cmin"].iloc[0] == c.min()
    assert e["tmax"].iloc[0] == times[window][np.argmax(c)]
    np.testing.assert_allclose(e["cavg"], e["auc"] / 12, rtol=1e-15)
    # one dose peaks ln(ka/k)/(ka-k) = 1.17 h after it is given; on top of the
    # declining earlier doses a little sooner: the 24 h dose peaks within (24, 25.25]
    assert 24 < e["tmax"].iloc[0] <= 25.25


def test_window_not_on_the_time_grid_is_refused(card):
    res = pk.simulate(card, pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
                      pk.Regimen.fixed(mg=10, every_h=12, n_doses=1), [0.0, 1.0, 2.0], seed=1)
    with pytest.raises(ValueError, match=r"exposure window: end is 5 h; expected one of the "
                                         r"simulated times \(0 to 2 h\)"):
        pk.exposure(res, start=0, end=5)
    with pytest.raises(ValueError, match=r"exposure window: end is 1 h, start is 2 h; expected end > start"):
        pk.exposure(res, start=2, end=1)
