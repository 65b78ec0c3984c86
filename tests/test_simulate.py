import math

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from conftest import typical_cohort

REG = pk.Regimen.fixed(mg=5, every_h=8, n_doses=3)


def test_parameters_frame_has_one_row_per_child_with_units_and_covariates(card):
    cohort = pk.Cohort(weight_kg=[10.0, 20.0], age_years=[3.0, 6.0], sex=["F", "M"], ids=[5, 9])
    res = pk.simulate(card, cohort, REG, [0.0, 1.0], seed=1)
    assert list(res.parameters.columns) == [
        "id",
        "CL",
        "V",
        "ka",
        "eta_CL",
        "eta_V",
        "eta_ka",
        "age_years",
        "sex",
        "weight_kg",
    ]
    assert res.parameters["id"].tolist() == [5, 9]
    np.testing.assert_allclose(
        res.parameters["CL"], 0.273 * cohort.weight_kg * np.exp(res.parameters["eta_CL"]), rtol=1e-15
    )


def test_unknown_engine_is_refused(card):
    with pytest.raises(
        ValueError, match=r"engine is 'euler'; expected 'auto' or one of \['analytic', 'ode'\]"
    ):
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


@pytest.mark.parametrize(
    "times, message",
    [
        ([2.0, 1.0], r"times\[1\] is 1\.0; expected strictly increasing times"),
        ([1.0, 1.0], r"times\[1\] is 1\.0; expected strictly increasing times"),
        ([-1.0, 1.0], r"times\[0\] is -1\.0; expected a finite time >= 0 h"),
        ([0.0, math.nan], r"times\[1\] is nan; expected a finite time >= 0 h"),
        ([], r"times has shape \(0,\); expected a non-empty 1-D array of hours"),
        ("soon", r"times\[0\] is 'soon'; expected a number of hours"),
    ],
)
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
    ratio = (
        pk.exposure(grown, start=last_day, end=weeks12, method="grid")["cavg"]
        / pk.exposure(fixed, start=last_day, end=weeks12, method="grid")["cavg"]
    ).to_numpy()
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
    with pytest.raises(
        ValueError,
        match=r"weight_update_h is 24 but the cohort has no sex; expected "
        r"a cohort that can grow",
    ):
        pk.simulate(card, typical_cohort(20), REG, [1.0, 30.0], weight_update_h=24)


# --- accepted nonsense, refused (issue 12, item 17) ---------------------------------------


def test_an_engine_that_is_not_a_name_is_refused(card):
    with pytest.raises(
        ValueError,
        match=r"engine is \['ode'\]; expected 'auto' or one of \['analytic', 'ode'\] "
        r"\(a name\)",
    ):
        pk.simulate(card, typical_cohort(20), REG, [1.0], engine=["ode"])


def test_atol_below_the_rounding_of_the_doses_is_refused_before_solving(card):
    # 100 eps x the largest dose (5 mg) = 1.11e-13 mg; 1e-300 made solve_ivp fail (its squared
    # error norm overflows), after accepting it
    with pytest.raises(
        ValueError,
        match=r"engine option atol is 1e-300 mg; expected >= 1\.11e-13 mg, "
        r"100 eps x the largest dose \(5 mg\)",
    ):
        pk.simulate(card, typical_cohort(20), REG, [1.0], engine="ode", atol=1e-300)
    floor = 100 * np.finfo(float).eps * 5
    assert (
        pk.simulate(card, typical_cohort(20), REG, [1.0], engine="ode", atol=floor).concentrations[0, 0] > 0
    )


def test_the_default_atol_follows_a_large_dose(card):
    # 1e5 mg (with validity warnings): 1e-12 mg is 1e-17 of the dose, below rounding, and BDF
    # fails on it ("step size less than spacing"); the default rises to 100 eps x 1e5 mg
    big = pk.Regimen.fixed(mg=1e5, every_h=8, n_doses=3)
    times = np.arange(0.5, 24.0, 0.5)
    with pytest.warns(pk.ValidityWarning):
        exact = pk.simulate(card, typical_cohort(20), big, times, variability=False).concentrations
        bdf = pk.simulate(
            card, typical_cohort(20), big, times, engine="ode", method="BDF", variability=False
        ).concentrations
    # the ode engine's stated agreement with the analytic one
    np.testing.assert_allclose(bdf, exact, rtol=1e-6)
    with (
        pytest.raises(ValueError, match=r"engine option atol is 1e-12 mg; expected >= 2\.22e-09 mg"),
        pytest.warns(pk.ValidityWarning),
    ):
        pk.simulate(card, typical_cohort(20), big, times, engine="ode", atol=1e-12)


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")  # the 0.5 kg child
def test_a_parameter_that_overflows_is_refused_naming_the_child_and_the_parameter(tmp_path):
    from conftest import write_model

    model = pk.load_model(write_model(tmp_path, CL={"value": 1e308}))
    cohort = pk.Cohort(weight_kg=[0.5, 20.0], age_years=[8.0, 8.0], ids=[7, 8])
    # 1e308 L/h/kg x 0.5 kg is finite; x 20 kg is inf (it gave all-zero or NaN curves)
    with pytest.raises(
        ValueError,
        match=r"model 'baclofen_cp_card': child ID 8 \(position 1\) has "
        r"CL = inf L/h; expected a finite number > 0 \(from the "
        r"model's value 1e\+308 L/h/kg, the child's weight 20\.0 kg",
    ):
        pk.simulate(model, cohort, REG, [1.0], variability=False)


def test_strict_is_true_or_false(card):
    with pytest.raises(ValueError, match=r"strict is 'yes'; expected True or False"):
        pk.simulate(card, typical_cohort(20), REG, [1.0], strict="yes")


# --- validity ranges (issue 12, item 18) --------------------------------------------------


def _one_child(**fields):
    return pk.Cohort(**{"weight_kg": [20.0], "age_years": [8.0], "ids": [31], **fields})


def _z(weight_kg, sex, age_years) -> str:
    """The CDC 2000 weight-for-age z-score as the warning prints it (4 digits), escaped."""
    z = pk.growth.z_score("weight_kg", np.array([weight_kg]), sex, age_years)[0]
    assert z > 5  # far outside the bound, whatever the chart's tail above z = 3
    return f"{z:.4g}".replace(".", r"\.")


VALIDITY_CASES = {
    "infant": (
        _one_child(weight_kg=[7.5], age_years=[0.5]),
        REG,
        r"child ID 31 \(position 0\) has an age of 0\.5 y, outside validity\.age_years 2 to "
        r"18 y \(the range the model states it was built on; He 2014: children 2-17 years",
    ),
    "adult": (
        _one_child(weight_kg=[70.0], age_years=[40.0]),
        REG,
        r"has an age of 40 y \(an age in months\? .*\), outside validity\.age_years 2 to 18 y",
    ),
    "months": (
        _one_child(weight_kg=[14.0], age_years=[36.0]),
        REG,
        r"has an age of 36 y \(an age in months\? 36 months is 3 years\), outside "
        r"validity\.age_years 2 to 18 y",
    ),
    # a boy of 4 at 60 kg: CDC 2000 weight-for-age z 12.2 (at z = 3 a boy of 4 weighs 25 kg)
    "heavy boy": (
        _one_child(weight_kg=[60.0], age_years=[4.0], sex=["M"]),
        REG,
        rf"has a weight-for-age z-score of {_z(60.0, 'M', 4.0)} \(4 y, 60 kg\), outside "
        r"validity\.weight_for_age_z -6 to 5 ",
    ),
    # without sex: the nearer of the two to the range, a girl's (9.4)
    "heavy child": (
        _one_child(weight_kg=[60.0], age_years=[4.0]),
        REG,
        rf"has a weight-for-age z-score of {_z(60.0, 'F', 4.0)} \(4 y, 60 kg\)",
    ),
    "5000 mg": (
        _one_child(),
        pk.Regimen.fixed(mg=5000, every_h=24, n_doses=1),
        r"has a largest single dose of 250 mg/kg, outside validity\.dose_mg_per_kg 0 to 2 "
        r"mg/kg",
    ),
}


@pytest.mark.parametrize("case", list(VALIDITY_CASES))
def test_a_child_outside_the_models_validity_is_named_with_the_bound(card, case):
    cohort, regimen, message = VALIDITY_CASES[case]
    with pytest.warns(pk.ValidityWarning, match=r"model 'baclofen_cp_card': .*" + message):
        pk.simulate(card, cohort, regimen, [1.0, 2.0], seed=1)
    with pytest.raises(pk.ValidityError, match=message):
        pk.simulate(card, cohort, regimen, [1.0, 2.0], seed=1, strict=True)


def test_an_event_table_dose_of_5000_mg_for_a_20_kg_child_is_named(card):
    events = pk.read_events(
        pd.DataFrame(
            {"ID": [31, 31], "TIME": [0.0, 12.0], "AMT": [5.0, 5000.0], "EVID": [1, 1], "CMT": [1, 1]}
        )
    )
    with pytest.raises(
        pk.ValidityError,
        match=r"child ID 31 \(position 0\) has a largest single dose "
        r"of 250 mg/kg",
    ):
        pk.simulate(pk.load_model("baclofen_cp_he2014"), _one_child(), events, [1.0], strict=True)


def test_validity_counts_the_children_outside_and_names_the_first(card):
    cohort = pk.Cohort(weight_kg=[20.0, 14.0, 14.0], age_years=[8.0, 36.0, 48.0])
    with pytest.warns(
        pk.ValidityWarning,
        match=r"child ID 2 \(position 1\) has an age of 36 y.*; "
        r"2 of 3 children are outside$",
    ):
        pk.simulate(card, cohort, REG, [1.0], seed=1)


def test_children_inside_the_validity_ranges_simulate_without_a_warning(card):
    import warnings

    cohort = pk.Cohort.from_growth_charts(2000, age_years=(2, 17), seed=1, gmfcs="registry")
    tid = pk.Regimen.parse("2 mg/kg/day TID for 2 days, max 20 mg/dose")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pk.ValidityWarning)
        pk.simulate(card, cohort, tid, [1.0, 2.0], seed=1, strict=True)
    # the edges are inside: 2 mg/kg in one dose at 2.0 and 18.0 years
    edges = pk.Cohort(weight_kg=[12.0, 60.0], age_years=[2.0, 18.0])
    pk.simulate(card, edges, pk.Regimen.weight_based(2.0, 1, 1), [1.0], strict=True)


def test_chunked_runs_check_each_chunks_doses_naming_the_position_in_the_whole_cohort(card):
    # 14 mg for 6.9 kg is 2.029 mg/kg; the doses are checked as each chunk draws them
    cohort = pk.Cohort(weight_kg=[20.0, 30.0, 6.9], age_years=[8.0, 9.0, 2.0])
    fixed = pk.Regimen.fixed(mg=14, every_h=8, n_doses=3)
    for engine, count in (
        ("analytic", "1 of 1 children in this chunk"),
        ("ode", "1 of 3 children"),
    ):  # ode: all up front (atol's floor)
        with pytest.raises(
            pk.ValidityError,
            match=r"child ID 3 \(position 2\) has a largest single "
            rf"dose of 2\.029 mg/kg.*; {count} are outside",
        ):
            pk.simulate(
                card,
                cohort,
                fixed,
                [0.0, 1.0],
                chunk_size=1,
                keep="exposure",
                window=(0.0, 1.0),
                strict=True,
                engine=engine,
            )
        with pytest.warns(pk.ValidityWarning, match=count):
            pk.simulate(
                card,
                cohort,
                fixed,
                [0.0, 1.0],
                chunk_size=1,
                keep="exposure",
                window=(0.0, 1.0),
                engine=engine,
            )
