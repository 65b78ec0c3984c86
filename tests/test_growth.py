import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from pkmodel.population import cerebral_palsy, growth

CDC_CSV = Path(__file__).resolve().parents[1] / "pkmodel" / "data" / "cdc2000_lms_2to20y.csv"

# CDC 2000 rows (wtage.csv, statage.csv), copied from the CDC tables: (L, M, S)
BOYS_WEIGHT_120_5 = (-1.206688407, 32.08799062, 0.17892874)
BOYS_WEIGHT_121_5 = (-1.19219015, 32.39690313, 0.17994683)
GIRLS_STATURE_60_5 = (-0.057729947, 107.9566031, 0.044276588)
GIRLS_STATURE_61_5 = (-0.077206672, 108.5436278, 0.044344632)


def lms_formula(z, L, M, S):
    """The CDC formula as printed, for L != 0."""
    return M * (1 + L * S * z) ** (1 / L)


@pytest.mark.parametrize(
    "measure, sex, months, row",
    [
        ("weight_kg", "M", 120.5, BOYS_WEIGHT_120_5),
        ("stature_cm", "F", 60.5, GIRLS_STATURE_60_5),
    ],
)
def test_lms_at_a_tabulated_age_is_the_cdc_row(measure, sex, months, row):
    # 1e-12: the row itself, read from the packaged CSV; only float rounding of months/12*12
    np.testing.assert_allclose(growth.lms(measure, [sex], [months / 12]), np.array(row)[:, None], rtol=1e-12)


@pytest.mark.parametrize(
    "measure, sex, row0, row1",
    [
        ("weight_kg", "M", BOYS_WEIGHT_120_5, BOYS_WEIGHT_121_5),
        ("stature_cm", "F", GIRLS_STATURE_60_5, GIRLS_STATURE_61_5),
    ],
)
def test_between_tabulated_ages_l_m_s_are_linear_in_age(measure, sex, row0, row1):
    months0 = 120.5 if measure == "weight_kg" else 60.5
    # a quarter and half-way between two rows: the weighted mean of the rows' L, M and S
    for frac in (0.25, 0.5):
        expected = (1 - frac) * np.array(row0) + frac * np.array(row1)
        np.testing.assert_allclose(
            growth.lms(measure, [sex], [(months0 + frac) / 12]), expected[:, None], rtol=1e-12
        )


def test_lms_value_follows_the_cdc_formula_and_its_l_zero_limit():
    z = np.linspace(-3, 3, 13)
    L, M, S = BOYS_WEIGHT_120_5
    # 1e-13: the same formula written with log1p/exp
    np.testing.assert_allclose(growth.lms_value(z, L, M, S), lms_formula(z, L, M, S), rtol=1e-13)
    np.testing.assert_allclose(growth.lms_value(z, 0.0, M, S), M * np.exp(S * z), rtol=1e-15)
    np.testing.assert_allclose(growth.lms_z(M * np.exp(S * z), 0.0, M, S), z, atol=1e-14)
    # L -> 0 is continuous: the L = 1e-12 curve is M exp(S z) to O(L)
    np.testing.assert_allclose(growth.lms_value(z, 1e-12, M, S), M * np.exp(S * z), rtol=1e-11)


@pytest.mark.parametrize("measure", growth.MEASURES)
def test_z_to_measurement_to_z_round_trips_at_every_tabulated_age(measure):
    table = pd.read_csv(CDC_CSV)
    rows = table[table["measure"] == measure]
    sex = np.where(rows["sex"] == "male", "M", "F")
    age = rows["age_months"].to_numpy() / 12
    z = np.linspace(-5, 5, 41)[:, None]  # includes z > 2, where weight goes linear
    x = growth.measurement_at_z(measure, z, sex, age)
    assert np.all(np.diff(x, axis=0) > 0)  # increasing in z at every age
    np.testing.assert_allclose(
        growth.z_score(measure, x, sex, age), np.broadcast_to(z, x.shape), rtol=0, atol=1e-10
    )
    if measure == "stature_cm":  # the rows where L is closest to 0 are among those tested
        assert np.abs(rows["L"]).min() < 0.003


def test_above_z2_weight_goes_on_linearly_with_the_step_from_z1_to_z2():
    # girls 17 y: L S = -0.30, so the LMS curve has no value beyond z = 3.3 and is absurd at 3
    L, M, S = (a.item() for a in growth.lms("weight_kg", ["F"], [17.0]))
    assert 1 + L * S * 4 < 0 and lms_formula(3, L, M, S) > 150
    x1, x2 = lms_formula(1, L, M, S), lms_formula(2, L, M, S)
    np.testing.assert_allclose(
        growth.measurement_at_z("weight_kg", [1.5, 2.5, 4.0], ["F"] * 3, [17.0] * 3),
        [lms_formula(1.5, L, M, S), x2 + 0.5 * (x2 - x1), x2 + 2 * (x2 - x1)],
        rtol=1e-12,
    )
    # stature keeps the plain LMS curve above z = 2
    Lh, Mh, Sh = (a.item() for a in growth.lms("stature_cm", ["F"], [17.0]))
    np.testing.assert_allclose(
        growth.measurement_at_z("stature_cm", 4.0, "F", 17.0), lms_formula(4.0, Lh, Mh, Sh), rtol=1e-12
    )


def test_measurement_at_z_and_z_score_take_scalars_in_the_tail():
    # the issue: a scalar z > 3 raised TypeError (assignment into a numpy scalar)
    w = growth.measurement_at_z("weight_kg", 3.5, "F", 16.6)
    assert np.ndim(w) == 0
    np.testing.assert_allclose(growth.z_score("weight_kg", w, "F", 16.6), 3.5, rtol=1e-12)
    np.testing.assert_allclose(w, growth.measurement_at_z("weight_kg", [3.5], ["F"], [16.6])[0], rtol=0)


def test_no_chart_weight_reaches_the_stated_bound_below_z_6_6():
    # the tail is linear from z = 2, so the z that reaches 200 kg at each age is exact:
    # 2 + (200 - x2) / (x2 - x1); its smallest over every age and sex of the charts
    ages = np.linspace(2, 20, 4321)
    lowest = min(
        float(np.min(2 + (growth.MAX_WEIGHT_KG - x2) / (x2 - x1)))
        for sex in "MF"
        for L, M, S in [growth.lms("weight_kg", np.full(ages.shape, sex), ages)]
        for x1, x2 in [(lms_formula(1, L, M, S), lms_formula(2, L, M, S))]
    )
    assert growth.MAX_WEIGHT_KG == 200.0 and lowest > 6.6  # a standard normal: once in 6e10


def test_a_million_children_from_the_charts_stay_below_the_bound():
    cohort = pk.Cohort.from_growth_charts(1_000_000, age_years=(2, 17), seed=1)
    heaviest = float(cohort.weight_kg.max())
    assert heaviest < growth.MAX_WEIGHT_KG
    # and below the 175-236 kg adolescents the linear tail from z = 3 gave: the heaviest is a
    # z ~ 5 adolescent on the extended curve (about 160 kg), not an LMS extrapolation
    assert heaviest < 165 and cohort.weight_z.max() > 4.5


def test_gmfcs_offsets_are_ruiz_brunner_2022():
    # Sci Rep 2022, Table 2(b), main effect model: GMFCS I-II -0.571, III-V -1.751
    assert cerebral_palsy.gmfcs_weight_z_shifts() == {1: -0.571, 2: -0.571, 3: -1.751, 4: -1.751, 5: -1.751}


def test_weight_trajectory_keeps_each_childs_z_score():
    cohort = pk.Cohort.from_growth_charts(500, seed=4)
    twelve_weeks_h = 12 * 7 * 24.0
    w = growth.weight_trajectory(cohort, [0.0, twelve_weeks_h])
    assert w.shape == (500, 2)
    np.testing.assert_allclose(w[:, 0], cohort.weight_kg, rtol=1e-12)
    later_age = cohort.age_years + twelve_weeks_h / (24 * 365.25)
    np.testing.assert_allclose(
        growth.z_score("weight_kg", w[:, 1], cohort.sex, later_age), cohort.weight_z, atol=1e-10
    )


def test_weight_trajectory_of_a_median_boy_follows_the_median_curve():
    # a 10-year-old boy at z = 0 weighs M; 12 weeks later M at 10 y + 12 w, from the rows
    # 122.5 and 123.5 months of the CDC table (linear interpolation, done here independently)
    cohort = pk.Cohort(weight_kg=[BOYS_WEIGHT_120_5[1]], age_years=[120.5 / 12], sex=["M"], weight_z=[0.0])
    table = pd.read_csv(CDC_CSV).query("measure == 'weight_kg' and sex == 'male'")
    months = 120.5 + 12 * 7 / 365.25 * 12
    expected = np.interp(months, table["age_months"], table["M"])
    w = growth.weight_trajectory(cohort, [12 * 7 * 24.0])
    np.testing.assert_allclose(w, [[expected]], rtol=1e-12)
    # a median 10-year-old boy gains 2.7 % in 12 weeks (32.09 -> 32.95 kg)
    assert 0.025 < expected / BOYS_WEIGHT_120_5[1] - 1 < 0.03


def test_age_outside_the_charts_is_refused_naming_the_range():
    with pytest.raises(
        ValueError,
        match=r"age_years\[1\] is 1\.0; expected an age within the CDC "
        r"2000 weight_kg chart, 2 to 20 years",
    ):
        growth.measurement_at_z("weight_kg", 0.0, ["M", "F"], [5.0, 1.0])


def test_growth_past_twenty_years_is_refused():
    cohort = pk.Cohort.from_growth_charts(3, age_years=(19.9, 19.9), seed=1)
    with pytest.raises(ValueError, match=r"age_years\[\d\] is 20\.9\d*; expected an age within"):
        growth.weight_trajectory(cohort, [0.0, 8766.0])


def test_weight_trajectory_needs_weight_z():
    with pytest.raises(ValueError, match=r"weight_trajectory needs a cohort with sex and weight_z"):
        growth.weight_trajectory(pk.Cohort(weight_kg=[20.0], age_years=[6.0], sex=["M"]), [0.0])


def test_negative_time_is_refused():
    cohort = pk.Cohort.from_growth_charts(2, seed=1)
    with pytest.raises(ValueError, match=r"times_h\[1\] is -1\.0; expected a finite time >= 0 h"):
        growth.weight_trajectory(cohort, [0.0, -1.0])


def test_unknown_measure_and_sex_are_refused():
    with pytest.raises(ValueError, match=r"measure is 'height_cm'; expected one of \('weight_kg', "):
        growth.lms("height_cm", ["M"], [5.0])
    with pytest.raises(ValueError, match=r"sex\[0\] is 'male'; expected 'M' or 'F'"):
        growth.lms("weight_kg", ["male"], [5.0])


def test_z_score_off_the_stature_curve_is_refused():
    # stature at 10 y: L S = 0.024, so no height has z below -41
    with pytest.raises(
        ValueError,
        match=r"z\[0\] is -50\.0; expected a z-score the CDC 2000 "
        r"stature_cm curve reaches",
    ):
        growth.measurement_at_z("stature_cm", -50.0, "M", 10.0)


def test_non_positive_measurement_is_refused():
    with pytest.raises(ValueError, match=r"weight_kg\[0\] is 0\.0; expected a finite value > 0"):
        growth.z_score("weight_kg", 0.0, "M", 10.0)


def test_weight_trajectory_is_vectorised_over_children_and_times():
    cohort = pk.Cohort.from_growth_charts(20_000, seed=2)
    w = growth.weight_trajectory(cohort, np.arange(0, 2016.5, 24.0))
    # at a fixed z-score every child of 2-17 y gains weight from day to day
    assert w.shape == (20_000, 85) and np.all(np.diff(w, axis=1) > 0)
    # the median child gains about what the median 10-year-old boy does (2.7 %, test above);
    # 1 % either way for the spread of gains over ages 2-17
    assert math.isclose(float(np.median(w[:, -1] / w[:, 0] - 1)), 0.027, abs_tol=0.01)
