"""individual_dose (pkmodel/estimation/dose.py): each child's dose from its own posterior."""

import math

import numpy as np
import pytest
from scipy import stats

import pkmodel as pk
from map_reference import card, frame, typical_card

TID = pk.Regimen.weight_based(2.0, 3, 14)
TIMES = [1.0, 4.0, 312.0, 336.0]


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(21)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 70, 30), age_years=rng.uniform(2, 17, 30))
    model = card()
    dv = pk.simulate(model, cohort, TID, TIMES, seed=21).observations
    return model, cohort, pk.estimate_individual(model, frame(cohort, TID, TIMES, dv))


def test_cavg_dose_puts_each_childs_steady_state_on_target_or_at_the_cap(fitted):
    model, cohort, fit = fitted
    table = pk.individual_dose(
        fit, 0.3053, doses_per_day=3, max_mg_per_dose=20, max_mg_per_day=50, samples=None
    )
    cl = typical_card(model, cohort)[:, 0] * np.exp(fit.eta[:, 0])
    cavg = table.mg_per_dose * 1.0 / (cl * 8.0)  # F dose / (CL tau), F = 1
    cap = 50 / 3
    free = ~table.capped.to_numpy()
    assert free.any() and (~free).any()
    np.testing.assert_allclose(cavg[free], 0.3053, rtol=1e-12)
    np.testing.assert_allclose(table.mg_per_dose[~free], cap, rtol=1e-15)
    np.testing.assert_allclose(table.mg_per_dose_exact, 0.3053 * cl * 8.0, rtol=1e-12)
    np.testing.assert_allclose(table.cavg, cavg, rtol=1e-12)
    np.testing.assert_allclose(table.mg_per_kg_day, table.mg_per_day / cohort.weight_kg, rtol=1e-15)


def test_rounded_doses_are_the_nearest_deliverable_amounts_under_the_cap(fitted):
    _, _, fit = fitted
    tablets = pk.bundled_formulations()["tablet"]
    table = pk.individual_dose(fit, 0.3053, max_mg_per_dose=20, formulation="tablet", samples=None)
    levels = tablets.deliverable_mg(20)
    for exact, given in zip(table.mg_per_dose_exact, table.mg_per_dose):  # over 30 children
        allowed = levels[levels <= 20 + 1e-9]
        best = allowed[np.argmin(np.abs(allowed - exact) + 1e-9 * allowed)]  # ties: the lower
        assert given == pytest.approx(best, abs=1e-12)


def test_cmin_dose_equals_the_closed_form_steady_state_trough(fitted):
    model, cohort, fit = fitted
    table = pk.individual_dose(fit, 0.15, doses_per_day=4, metric="cmin", samples=None)
    cl, v, ka = (typical_card(model, cohort) * np.exp(fit.eta)).T
    k, tau = cl / v, 6.0
    # one compartment, first-order absorption, steady state: the trough just before a dose
    per_mg = (
        ka
        / (v * (ka - k))
        * (np.exp(-k * tau) / (1 - np.exp(-k * tau)) - np.exp(-ka * tau) / (1 - np.exp(-ka * tau)))
    )
    np.testing.assert_allclose(table.mg_per_dose, 0.15 / per_mg, rtol=1e-10)


def test_probability_in_range_and_percentiles_follow_the_closed_form_posterior(fitted):
    model, cohort, fit = fitted
    table = pk.individual_dose(fit, 0.3053, target_range=(0.2, 0.4), samples=20_000, seed=3)
    # Cavg = dose / (TV_CL exp(eta_CL) tau) with eta_CL ~ N(mode, laplace_covariance[0, 0]):
    # a log-normal, so P(range) and the percentiles are closed forms
    tv = typical_card(model, cohort)[:, 0]
    centre = np.log(table.mg_per_dose / (tv * 8.0)) - fit.eta[:, 0]  # log Cavg at the mode
    sd = np.sqrt(fit.laplace_covariance[:, 0, 0])
    p = stats.norm.cdf((centre - np.log(0.2)) / sd) - stats.norm.cdf((centre - np.log(0.4)) / sd)
    # Monte Carlo: SE <= 0.5 / sqrt(20,000) = 0.0035; 5 SE
    np.testing.assert_allclose(table.prob_in_range, p, atol=0.018)
    for q in (5, 50, 95):
        expected = np.exp(centre + stats.norm.ppf(q / 100) * sd)  # of a normal log Cavg
        np.testing.assert_allclose(table[f"cavg_p{q}"], expected, rtol=0.03)


def test_a_target_range_aims_at_its_geometric_midpoint(fitted):
    _, _, fit = fitted
    ranged = pk.individual_dose(fit, (0.08, 0.4), samples=None)
    point = pk.individual_dose(fit, math.sqrt(0.08 * 0.4), samples=None)
    np.testing.assert_allclose(ranged.mg_per_dose, point.mg_per_dose, rtol=1e-15)
