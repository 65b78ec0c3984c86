import itertools

import numpy as np
import pytest

import pkmodel as pk


def test_bundled_formulations_deliver_the_steps_the_products_allow():
    # issue 4: tablets 5/10/20 mg halved -> 2.5 mg; 1 mg/mL x 0.5 mL -> 0.5 mg; 2 mg/mL x 0.5 mL
    # -> 1 mg; 5 mg/mL x 0.5 mL (assumed measure) -> 2.5 mg; whole 5/10/20 mg sachets -> 5 mg
    steps = {name: f.step_mg for name, f in pk.bundled_formulations().items()}
    assert steps == {
        "tablet": 2.5,
        "oral_solution_1mg_ml": 0.5,
        "oral_solution_2mg_ml": 1.0,
        "suspension_5mg_ml": 2.5,
        "granules": 5.0,
    }
    np.testing.assert_array_equal(
        pk.bundled_formulations()["tablet"].deliverable_mg(10), [2.5, 5.0, 7.5, 10.0]
    )


def test_rounding_is_nearest_ties_down_never_above_the_cap():
    tablet = pk.bundled_formulations()["tablet"]
    wanted = np.array([20 / 3, 40 / 3, 13.75, 16.25, 1.0, 100 / 3, 100 / 3])
    cap = np.array([np.inf, np.inf, np.inf, np.inf, np.inf, 20.0, 80 / 3])
    # 6.67 -> 7.5 (0.83 away vs 1.67); 13.33 -> 12.5; 13.75 and 16.25 are ties -> down;
    # 1 -> 2.5 (the smallest tablet piece, +150 %: allowed here); 33.3 capped at 20 -> 20; at
    # 26.7 -> 25
    np.testing.assert_array_equal(
        tablet.round(wanted, cap, max_change=None), [7.5, 12.5, 12.5, 15.0, 2.5, 20.0, 25.0]
    )


@pytest.mark.parametrize("rounding", ["nearest", "down", "up"])
def test_rounding_matches_a_brute_force_search_over_what_can_be_given(rounding):
    # 10 and 25 mg tablets, unscored: 15 mg cannot be given, 20, 25, 30, 35 ... can
    odd = pk.Formulation.from_units("odd", [10, 25])
    sums = sorted({10 * a + 25 * b for a, b in itertools.product(range(12), range(6))} - {0})
    rng = np.random.default_rng(3)
    wanted = rng.uniform(10, 80, 2000)
    cap = np.where(rng.random(2000) < 0.5, np.inf, rng.uniform(10, 90, 2000))
    expected = []
    for w, c in zip(wanted, cap):
        allowed = [s for s in sums if s <= c]
        intended = min(w, c)
        if rounding == "nearest":
            expected.append(min(allowed, key=lambda s: (abs(s - intended), s)))  # then the lower
        elif rounding == "down":
            expected.append(max(s for s in allowed if s <= intended))
        else:
            expected.append(min([s for s in allowed if s >= intended] or [max(allowed)]))
    np.testing.assert_array_equal(odd.round(wanted, cap, rounding=rounding, max_change=None), expected)
    # one amount, not an array: 22 mg -> 20 (nearest), 20 (down), 25 (up)
    assert odd.round(22.0, rounding=rounding) == {"nearest": 20, "down": 20, "up": 25}[rounding]


def test_rounding_up_and_down_bracket_the_wanted_dose_and_never_pass_the_cap():
    tablet = pk.bundled_formulations()["tablet"]
    wanted = np.array([6.0, 13.4, 7.5])
    # 6 -> 5 down, 7.5 up; 13.4 -> 12.5 down, 15 up but capped at 13.33 -> 12.5; 7.5 exact
    cap = np.array([np.inf, 40 / 3, np.inf])
    np.testing.assert_array_equal(tablet.round(wanted, cap, rounding="down"), [5.0, 12.5, 7.5])
    np.testing.assert_array_equal(tablet.round(wanted, cap, rounding="up"), [7.5, 12.5, 7.5])


def test_rounding_that_changes_a_dose_by_more_than_25_percent_is_refused():
    tablet = pk.bundled_formulations()["tablet"]
    solution = pk.bundled_formulations()["oral_solution_1mg_ml"]
    # 6.25 mg is a tie between 5 and 7.5 mg: down, -20 %, allowed; 3.75 mg -> 2.5 mg is -33 %
    assert tablet.round(6.25) == 5.0
    with pytest.raises(
        ValueError,
        match=r"^3\.75 mg rounds to 2\.5 mg as 'tablet' \(-33\.3 %\); "
        r"expected a change of at most 25 %",
    ):
        tablet.round(3.75)
    # the cases: 1e-6 mg of solution is not 0.5 mg (x 5e5), 1 mg is not 2.5 mg of tablets
    with pytest.raises(
        ValueError,
        match=r"1e-06 mg rounds to 0\.5 mg as 'oral_solution_1mg_ml' "
        r"\(\+5e\+07 %\)",
    ):
        solution.round(np.array([1e-6]))
    with pytest.raises(ValueError, match=r"1\.0 mg rounds to 2\.5 mg as 'tablet' \(\+150 %\)"):
        tablet.round(np.array([1.0]))
    assert tablet.round(np.array([1.0]), max_change=1.5) == 2.5  # the caller allows it


def test_rounding_down_below_the_smallest_piece_is_refused_not_a_dose_of_zero():
    with pytest.raises(
        ValueError,
        match=r"formulation 'tablet' rounding down 1 mg gives no dose \(its "
        r"smallest is 2\.5 mg\)",
    ):
        pk.bundled_formulations()["tablet"].round(np.array([1.0]), rounding="down", max_change=None)


def test_a_tiny_piece_is_kept_and_works():
    # issue 12: Formulation('tiny', (1e-7,)) gave ZeroDivisionError, and (0.3, 1e-7) dropped the
    # 1e-7 piece (read as 0 with denominators up to 1e6). Pieces are read as their decimals.
    tiny = pk.Formulation("tiny", (1e-7,))
    assert tiny.step_mg == 1e-7
    np.testing.assert_array_equal(tiny.round(np.array([0.3, 2.0]), max_change=None), [0.3, 2.0])
    both = pk.Formulation("both", (0.3, 1e-7))
    # 0.30000012 mg: 0.3 + one 1e-7 piece (0.3 alone, if the small piece were dropped)
    assert both.round(np.array([0.30000012]))[0] == 0.3000001
    np.testing.assert_array_equal(both.deliverable_mg(3e-7), [1e-7, 2e-7, 3e-7])


def test_a_third_of_a_tablet_is_read_as_a_third():
    thirds = pk.Formulation.from_units("thirds", [5, 10], pieces_per_unit=3)
    assert thirds.step_mg == 5 / 3
    np.testing.assert_array_equal(thirds.round(np.array([3.4, 9.9])), [10 / 3, 10.0])


def test_pieces_whose_sums_leave_endless_gaps_are_refused():
    # (1.0, 1.000001) mg share a step of 1e-6 mg; below 999,999 x 1,000,000 steps, not every step is
    # a sum of pieces: a table of that is refused (it took 10 s per rounding)
    with pytest.raises(
        ValueError,
        match=r"Formulation 'close': pieces_mg \(1\.0, 1\.000001\) share a "
        r"step of 1e-06 mg, and sums of them leave gaps up to "
        r"999,999,000,000 steps",
    ):
        pk.Formulation("close", (1.0, 1.000001))


def test_huge_amounts_round_without_a_table_of_every_amount():
    # above Schur's bound (2 - 1)(5 - 1) = 4 steps of 5 mg, every multiple of 5 mg is deliverable:
    # 1e15 mg needs no table of 2e14 amounts (it raised MemoryError)
    odd = pk.Formulation.from_units("odd", [10, 25])
    np.testing.assert_array_equal(odd.round(np.array([1e15, 1e15 + 2]), max_change=None), [1e15, 1e15])
    assert pk.bundled_formulations()["tablet"].round(np.array([1e15]))[0] == 1e15


def test_a_cap_below_the_smallest_dose_is_refused():
    with pytest.raises(
        ValueError,
        match=r"formulation 'granules' cannot give a dose within a cap of "
        r"3 mg; expected caps >= its smallest dose, 5 mg",
    ):
        pk.bundled_formulations()["granules"].round(np.array([2.0]), 3.0)


def test_bad_pieces_per_unit_is_refused():
    with pytest.raises(
        ValueError, match=r"Formulation 'tab': pieces_per_unit is 0; expected a whole number >= 1"
    ):
        pk.Formulation.from_units("tab", [5, 10], pieces_per_unit=0)


def test_bad_strength_is_refused():
    with pytest.raises(
        ValueError, match=r"Formulation 'tab': strengths_mg is -5; expected a finite number > 0"
    ):
        pk.Formulation.from_units("tab", [-5, 10])


def test_bad_concentration_is_refused():
    with pytest.raises(ValueError, match=r"Formulation 'sol': mg_per_ml is 0; expected a finite number > 0"):
        pk.Formulation.from_liquid("sol", mg_per_ml=0, measure_ml=0.5)


def test_unknown_formulation_name_is_refused():
    with pytest.raises(
        ValueError,
        match=r"formulation is 'pill'; expected a Formulation or one of "
        r"\['granules', 'oral_solution_1mg_ml'",
    ):
        pk.Regimen.weight_based(2.0, 3, 1, formulation="pill")


def test_the_description_is_words_only():
    a = pk.Formulation("tab", (2.5, 5.0), "scored 5 mg")
    assert a == pk.Formulation("tab", (5.0, 2.5)) and a != pk.Formulation("tab", (5.0,))
