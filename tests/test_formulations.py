import itertools

import numpy as np
import pytest

import pkmodel as pk


def test_bundled_formulations_deliver_the_steps_the_products_allow():
    # issue 4: tablets 5/10/20 mg halved -> 2.5 mg; 1 mg/mL x 0.5 mL -> 0.5 mg; 2 mg/mL x 0.5 mL
    # -> 1 mg; 5 mg/mL x 0.5 mL (assumed measure) -> 2.5 mg; whole 5/10/20 mg sachets -> 5 mg
    steps = {name: f.step_mg for name, f in pk.bundled_formulations().items()}
    assert steps == {"tablet": 2.5, "oral_solution_1mg_ml": 0.5, "oral_solution_2mg_ml": 1.0,
                     "suspension_5mg_ml": 2.5, "granules": 5.0}
    np.testing.assert_array_equal(pk.bundled_formulations()["tablet"].deliverable_mg(10),
                                  [2.5, 5.0, 7.5, 10.0])


def test_rounding_is_nearest_ties_down_never_above_the_cap():
    tablet = pk.bundled_formulations()["tablet"]
    wanted = np.array([20 / 3, 40 / 3, 13.75, 16.25, 1.0, 100 / 3, 100 / 3])
    cap = np.array([np.inf, np.inf, np.inf, np.inf, np.inf, 20.0, 80 / 3])
    # 6.67 -> 7.5 (0.83 away vs 1.67); 13.33 -> 12.5; 13.75 and 16.25 are ties -> down;
    # 1 -> 2.5 (the smallest tablet piece); 33.3 capped at 20 -> 20; at 26.7 -> 25
    np.testing.assert_array_equal(tablet.round(wanted, cap), [7.5, 12.5, 12.5, 15.0, 2.5, 20.0, 25.0])


def test_rounding_matches_a_brute_force_search_over_what_can_be_given():
    # 10 and 25 mg tablets, unscored: 15 mg cannot be given, 20, 25, 30, 35 ... can
    odd = pk.Formulation.from_units("odd", [10, 25])
    sums = sorted({10 * a + 25 * b for a, b in itertools.product(range(12), range(6))} - {0})
    rng = np.random.default_rng(3)
    wanted = rng.uniform(1, 80, 2000)
    cap = np.where(rng.random(2000) < 0.5, np.inf, rng.uniform(10, 90, 2000))
    expected = []
    for w, c in zip(wanted, cap):
        allowed = [s for s in sums if s <= c]
        expected.append(min(allowed, key=lambda s: (abs(s - w), s)))  # nearest, then the lower
    np.testing.assert_array_equal(odd.round(wanted, cap), expected)


def test_a_cap_below_the_smallest_dose_is_refused():
    with pytest.raises(ValueError, match=r"formulation 'granules' cannot give a dose within a cap of "
                                         r"3 mg; expected caps >= its smallest dose, 5 mg"):
        pk.bundled_formulations()["granules"].round(np.array([2.0]), 3.0)


def test_bad_pieces_per_unit_is_refused():
    with pytest.raises(ValueError, match=r"Formulation 'tab': pieces_per_unit is 0; expected a whole number >= 1"):
        pk.Formulation.from_units("tab", [5, 10], pieces_per_unit=0)


def test_bad_strength_is_refused():
    with pytest.raises(ValueError, match=r"Formulation 'tab': strengths_mg is -5; expected a finite number > 0"):
        pk.Formulation.from_units("tab", [-5, 10])


def test_bad_concentration_is_refused():
    with pytest.raises(ValueError, match=r"Formulation 'sol': mg_per_ml is 0; expected a finite number > 0"):
        pk.Formulation.from_liquid("sol", mg_per_ml=0, measure_ml=0.5)


def test_unknown_formulation_name_is_refused():
    with pytest.raises(ValueError, match=r"formulation is 'pill'; expected a Formulation or one of "
                                         r"\['granules', 'oral_solution_1mg_ml'"):
        pk.Regimen.weight_based(2.0, 3, 1, formulation="pill")
