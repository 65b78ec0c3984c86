import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from pkmodel.population import cerebral_palsy


def test_ids_default_to_one_to_n_and_frame_has_one_row_per_child():
    cohort = pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 7, 11], sex=["M", "F", "M"])
    assert len(cohort) == 3
    frame = cohort.to_frame()
    assert list(frame.columns) == ["id", "age_years", "sex", "weight_kg"]
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["weight_kg"].tolist() == [10.0, 20.0, 30.0]
    assert frame["sex"].tolist() == ["M", "F", "M"]


def test_cohort_is_immutable_and_copies_its_input():
    weights = np.array([10.0, 20.0])
    cohort = pk.Cohort(weight_kg=weights, age_years=[3, 7], ids=[101, 205])
    weights[0] = 99.0
    assert cohort.weight_kg[0] == 10.0
    with pytest.raises(ValueError):
        cohort.weight_kg[0] = 1.0
    with pytest.raises(AttributeError):
        cohort.weight_kg = np.array([1.0, 2.0])
    assert cohort.ids.tolist() == [101, 205]


@pytest.mark.parametrize("weight", [0.0, -5.0])
def test_non_positive_weight_is_refused(weight):
    with pytest.raises(ValueError, match=rf"Cohort\.weight_kg\[1\] is {weight!r}; expected a weight > 0 kg"):
        pk.Cohort(weight_kg=[10.0, weight], age_years=[3, 4])


def test_nan_weight_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.weight_kg\[0\] is nan; expected a finite number"):
        pk.Cohort(weight_kg=[math.nan, 10.0], age_years=[3, 4])


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.age_years has 2 values; expected 3, one per child"):
        pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 4])


def test_negative_age_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.age_years\[0\] is -1\.0; expected an age >= 0 years"):
        pk.Cohort(weight_kg=[10], age_years=[-1])


def test_unknown_sex_code_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.sex\[1\] is 'male'; expected 'M' or 'F'"):
        pk.Cohort(weight_kg=[10, 20], age_years=[3, 4], sex=["M", "male"])


def test_repeated_ids_are_refused():
    with pytest.raises(ValueError, match=r"Cohort\.ids repeats 7; expected unique IDs"):
        pk.Cohort(weight_kg=[10, 20], age_years=[3, 4], ids=[7, 7])


def test_empty_cohort_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.weight_kg is empty"):
        pk.Cohort(weight_kg=[], age_years=[])


# --- growth charts ---------------------------------------------------------------------------

CDC = pd.read_csv(Path(__file__).resolve().parents[1] / "pkmodel" / "data" / "cdc2000_lms_2to20y.csv")
Z95 = 1.6448536269514722  # standard normal 95th percentile
CP_III_TO_V = {3: 1 / 3, 4: 1 / 3, 5: 1 / 3}


def reference_z(measure, x, sex, age_years):
    """Plain-LMS z-scores, L M S interpolated with np.interp: independent of pkmodel.population.growth."""
    z = np.empty(len(x))
    for name, code in (("male", "M"), ("female", "F")):
        rows = CDC[(CDC["measure"] == measure) & (CDC["sex"] == name)]
        here = np.asarray(sex) == code
        L, M, S = (np.interp(age_years[here] * 12, rows["age_months"], rows[c]) for c in "LMS")
        z[here] = ((x[here] / M) ** L - 1) / (L * S)
    return z


@pytest.mark.parametrize("sex, months", [("M", 120.5), ("F", 60.5)])
def test_growth_chart_percentiles_match_the_cdc_lms_values(sex, months):
    cohort = pk.Cohort.from_growth_charts(
        200_000, age_years=(months / 12, months / 12), sex_ratio=1.0 if sex == "M" else 0.0, seed=11
    )
    assert set(cohort.sex) == {sex}
    code = "male" if sex == "M" else "female"
    for measure, values in (("weight_kg", cohort.weight_kg), ("stature_cm", cohort.height_cm)):
        L, M, S = CDC[(CDC["measure"] == measure) & (CDC["sex"] == code) & (CDC["age_months"] == months)][
            ["L", "M", "S"]
        ].to_numpy()[0]
        p5, p50, p95 = np.percentile(values, [5, 50, 95])
        # sampling error of the median ~0.05 % of M (n = 200,000), of p5/p95 ~0.1 %
        np.testing.assert_allclose(p50, M, rtol=0.005)
        np.testing.assert_allclose([p5, p95], M * (1 + L * S * np.array([-Z95, Z95])) ** (1 / L), rtol=0.01)


def test_growth_chart_median_between_tabulated_ages_is_the_interpolated_median():
    # 121.0 months lies half-way between the rows 120.5 and 121.5 (boys' weight M 32.088, 32.397)
    cohort = pk.Cohort.from_growth_charts(200_000, age_years=(121 / 12, 121 / 12), sex_ratio=1.0, seed=12)
    np.testing.assert_allclose(
        np.median(cohort.weight_kg), (32.08799062 + 32.39690313) / 2, rtol=0.005
    )  # sampling error ~0.05 %


def test_gmfcs_iii_to_v_cohort_has_median_weight_z_of_ruiz_brunner():
    cohort = pk.Cohort.from_growth_charts(100_000, seed=13, gmfcs=CP_III_TO_V)
    z = reference_z("weight_kg", cohort.weight_kg, cohort.sex, cohort.age_years)
    # Ruiz Brunner 2022: -1.751 for GMFCS III-V; sampling error of a median ~0.004
    assert abs(np.median(z) - (-1.751)) < 0.03
    lms = cohort.weight_z <= pk.growth.TAIL_FROM_Z  # plain LMS up to z = 2, a linear tail above
    np.testing.assert_allclose(z[lms], cohort.weight_z[lms], atol=1e-8)  # the stored z is the chart's
    assert set(np.unique(cohort.covariates["gmfcs"])) == {3, 4, 5}


@pytest.mark.parametrize("rho", [0.7, 0.3])
def test_weight_and_height_z_scores_have_the_requested_correlation(rho):
    cohort = pk.Cohort.from_growth_charts(100_000, seed=14, height_weight_corr=rho)
    z_height = reference_z("stature_cm", cohort.height_cm, cohort.sex, cohort.age_years)
    # sampling error of r ~ (1 - r^2) / sqrt(n) < 0.003
    assert abs(np.corrcoef(cohort.weight_z, z_height)[0, 1] - rho) < 0.01


def test_same_seed_same_cohort_and_cp_keeps_the_same_children():
    a = pk.Cohort.from_growth_charts(1000, seed=5, gmfcs=[0.4, 0.2, 0.1, 0.1, 0.2])
    b = pk.Cohort.from_growth_charts(1000, seed=5, gmfcs=[0.4, 0.2, 0.1, 0.1, 0.2])
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    c = pk.Cohort.from_growth_charts(1000, seed=6, gmfcs=[0.4, 0.2, 0.1, 0.1, 0.2])
    assert not np.any(c.weight_kg == a.weight_kg)
    # without CP: same ages, sexes and heights; weight z-scores differ by the level's offset
    typical = pk.Cohort.from_growth_charts(1000, seed=5)
    np.testing.assert_array_equal(typical.age_years, a.age_years)
    np.testing.assert_array_equal(typical.height_cm, a.height_cm)
    offset = np.array([np.nan, -0.571, -0.571, -1.751, -1.751, -1.751])[a.covariates["gmfcs"]]
    np.testing.assert_allclose(a.weight_z - typical.weight_z, offset, atol=1e-12)


def test_to_frame_names_the_binding_columns_and_bmi_is_weight_over_height_squared():
    frame = pk.Cohort.from_growth_charts(50, seed=1, gmfcs=2).to_frame()
    assert list(frame.columns) == [
        "id",
        "age_years",
        "sex",
        "weight_kg",
        "height_cm",
        "bmi_kg_m2",
        "weight_z",
        "gmfcs",
    ]
    np.testing.assert_allclose(
        frame["bmi_kg_m2"], frame["weight_kg"] / (frame["height_cm"] / 100) ** 2, rtol=1e-15
    )
    assert set(frame["gmfcs"]) == {2} and frame["id"].tolist() == list(range(1, 51))


def test_sex_ratio_ages_and_gmfcs_proportions_are_drawn_as_asked():
    cohort = pk.Cohort.from_growth_charts(
        100_000, age_years=(4, 9), sex_ratio=0.58, seed=7, gmfcs={1: 0.5, 5: 0.5}
    )
    # binomial sampling error of a share ~0.0016 at n = 100,000
    assert abs(np.mean(cohort.sex == "M") - 0.58) < 0.006
    assert abs(np.mean(cohort.covariates["gmfcs"] == 5) - 0.5) < 0.006 and set(
        np.unique(cohort.covariates["gmfcs"])
    ) == {1, 5}
    assert 4 <= cohort.age_years.min() < 4.01 and 8.99 < cohort.age_years.max() <= 9
    assert abs(cohort.age_years.mean() - 6.5) < 0.02  # uniform: SD 1.44 / sqrt(n) = 0.005


def test_ages_can_come_from_a_scipy_distribution():
    from scipy import stats

    cohort = pk.Cohort.from_growth_charts(20_000, age_years=stats.uniform(loc=5, scale=2), seed=8)
    assert 5 <= cohort.age_years.min() and cohort.age_years.max() <= 7
    assert abs(cohort.age_years.mean() - 6) < 0.02  # SD 0.58 / sqrt(n) = 0.004


def test_sex_specific_shift_gives_krick_quadriplegic_offsets():
    plain_cohort = pk.Cohort.from_growth_charts(2000, seed=9)
    krick = pk.Cohort.from_growth_charts(2000, seed=9, weight_z_shift={"M": -2.4, "F": -2.1})
    expected = np.where(plain_cohort.sex == "M", -2.4, -2.1)
    np.testing.assert_allclose(krick.weight_z - plain_cohort.weight_z, expected, atol=1e-12)


def test_a_number_shifts_every_child_and_a_level_mapping_overrides_the_paper():
    base = pk.Cohort.from_growth_charts(500, seed=10, gmfcs=[0.2] * 5)
    shifted = pk.Cohort.from_growth_charts(500, seed=10, gmfcs=[0.2] * 5, weight_z_shift=-1.0)
    by_level = pk.Cohort.from_growth_charts(
        500, seed=10, gmfcs=[0.2] * 5, weight_z_shift={1: 0, 2: 0, 3: -1, 4: -2, 5: -3}
    )
    typical = (
        base.weight_z - np.array([np.nan, -0.571, -0.571, -1.751, -1.751, -1.751])[base.covariates["gmfcs"]]
    )
    np.testing.assert_allclose(shifted.weight_z - typical, -1.0, atol=1e-12)
    np.testing.assert_allclose(
        by_level.weight_z - typical, -np.maximum(base.covariates["gmfcs"] - 2, 0), atol=1e-12
    )


def test_age_outside_the_charts_is_refused_naming_the_range():
    with pytest.raises(
        ValueError,
        match=r"age_years is \(1, 17\); expected \(youngest, oldest\) within "
        r"the CDC 2000 growth charts' range, 2 to 20 years",
    ):
        pk.Cohort.from_growth_charts(10, age_years=(1, 17), seed=1)


def test_distribution_drawing_ages_outside_the_charts_is_refused():
    from scipy import stats

    with pytest.raises(
        ValueError,
        match=r"drawn age_years\[\d+\] is 1\.\d+; expected an age within the "
        r"CDC 2000 growth charts' range, 2 to 20 years",
    ):
        pk.Cohort.from_growth_charts(100, age_years=stats.uniform(loc=1, scale=2), seed=1)


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_n_below_one_or_fractional_is_refused(n):
    with pytest.raises(ValueError, match=rf"n is {n!r}; expected a whole number of children >= 1"):
        pk.Cohort.from_growth_charts(n, seed=1)


@pytest.mark.parametrize("level", [0, 6])
def test_gmfcs_level_outside_one_to_five_is_refused(level):
    with pytest.raises(ValueError, match=rf"gmfcs is {level}; expected a GMFCS level 1, 2, 3, 4 or 5"):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs=level)


REID_2011 = [0.342, 0.256, 0.115, 0.137, 0.156]  # GMFCS I-V as published: they sum to 1.006


def test_registry_mix_is_reid_2011_normalised_as_on_the_command_line():
    # --gmfcs registry and gmfcs="registry" are the same mix: Reid's percentages over 100.6
    n = 200_000
    cohort = pk.Cohort.from_growth_charts(n, seed=3, gmfcs="registry")
    shares = np.bincount(cohort.covariates["gmfcs"], minlength=6)[1:] / n
    expected = np.array(REID_2011) / 1.006
    # binomial SD of a share sqrt(p (1 - p) / n) <= 0.0011; 4 SD
    np.testing.assert_allclose(shares, expected, atol=4 * math.sqrt(0.25 / n))
    np.testing.assert_allclose(
        [cerebral_palsy.GMFCS_MIX[level] for level in range(1, 6)], expected, rtol=1e-12
    )


def test_reid_published_proportions_are_accepted_and_normalised():
    # summing to 1.006 (within the 0.01 tolerance): the same children as gmfcs="registry"
    reid = pk.Cohort.from_growth_charts(5000, seed=4, gmfcs=REID_2011)
    registry = pk.Cohort.from_growth_charts(5000, seed=4, gmfcs="registry")
    by_level = pk.Cohort.from_growth_charts(5000, seed=4, gmfcs=dict(enumerate(REID_2011, 1)))
    assert np.array_equal(reid.covariates["gmfcs"], registry.covariates["gmfcs"]) and np.array_equal(
        reid.covariates["gmfcs"], by_level.covariates["gmfcs"]
    )
    np.testing.assert_array_equal(reid.weight_kg, registry.weight_kg)


@pytest.mark.parametrize(
    "shares, message",
    [
        (
            [0.35, 0.26, 0.12, 0.14, 0.16],
            r"gmfcs proportions sum to 1\.03; expected 1, within 0\.01 "
            r"\(then normalised\)$",
        ),
        (
            [34.2, 25.6, 11.5, 13.7, 15.6],
            r"gmfcs proportions sum to 100\.6; expected 1, within 0\.01 "
            r"\(then normalised\) \(percentages\? divide them by 100\)",
        ),
    ],
)
def test_gmfcs_proportions_off_by_more_than_the_tolerance_are_refused(shares, message):
    with pytest.raises(ValueError, match=message):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs=shares)


def test_gmfcs_mix_by_another_name_is_refused():
    with pytest.raises(ValueError, match=r"gmfcs is 'reid'; expected 'registry' \(Reid 2011's mix\)"):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs="reid")


def test_gmfcs_proportion_for_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match=r"gmfcs has level 6; expected GMFCS levels 1 to 5"):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs={5: 0.5, 6: 0.5})


def test_negative_gmfcs_proportion_is_refused():
    with pytest.raises(ValueError, match=r"gmfcs proportion of level\[1\] is -0\.2; expected a number >= 0"):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs=[0.6, -0.2, 0.2, 0.2, 0.2])


def test_level_shifts_without_gmfcs_are_refused():
    with pytest.raises(ValueError, match=r"weight_z_shift is given by GMFCS level but gmfcs is None"):
        pk.Cohort.from_growth_charts(10, seed=1, weight_z_shift={3: -1.0})


def test_level_shifts_missing_a_drawn_level_are_refused():
    with pytest.raises(ValueError, match=r"weight_z_shift has no shift for GMFCS level 4"):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs=4, weight_z_shift={3: -1.0})


def test_sex_ratio_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match=r"sex_ratio is 1\.5; expected a number from 0 to 1"):
        pk.Cohort.from_growth_charts(10, seed=1, sex_ratio=1.5)


def test_correlation_outside_minus_one_to_one_is_refused():
    with pytest.raises(ValueError, match=r"height_weight_corr is 1\.2; expected a number from -1 to 1"):
        pk.Cohort.from_growth_charts(10, seed=1, height_weight_corr=1.2)


def test_weight_z_that_is_not_the_charts_is_refused():
    # 32.08799062 kg is the median (z = 0) of boys aged 120.5 months
    with pytest.raises(
        ValueError,
        match=r"Cohort\.weight_z\[0\] is 1\.0; expected -?\d[\d.e-]*, the CDC "
        r"2000 weight-for-age z-score of weight_kg\[0\]",
    ):
        pk.Cohort(weight_kg=[32.08799062], age_years=[120.5 / 12], sex=["M"], weight_z=[1.0])


def test_weight_z_without_sex_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.weight_z is given without sex; expected sex too"):
        pk.Cohort(weight_kg=[20.0], age_years=[6.0], weight_z=[0.0])


def test_gmfcs_level_outside_one_to_five_is_refused_in_a_cohort():
    with pytest.raises(
        ValueError, match=r"Cohort\.covariates\[.gmfcs.\]\[1\] is 6; expected a GMFCS level 1, 2, 3, 4 or 5"
    ):
        pk.Cohort(weight_kg=[20.0, 30.0], age_years=[6.0, 9.0], covariates={"gmfcs": [2, 6]})


def test_non_positive_height_is_refused():
    with pytest.raises(ValueError, match=r"Cohort\.height_cm\[0\] is 0\.0; expected a height > 0 cm"):
        pk.Cohort(weight_kg=[20.0], age_years=[6.0], height_cm=[0.0])


# --- patient tables --------------------------------------------------------------------------


def test_from_frame_reads_a_table_back_from_to_frame():
    cohort = pk.Cohort.from_growth_charts(300, seed=3, gmfcs=[0.2] * 5)
    again = pk.Cohort.from_frame(cohort.to_frame())
    pd.testing.assert_frame_equal(again.to_frame(), cohort.to_frame(), rtol=1e-12)


def test_from_frame_maps_columns_and_converts_units():
    table = pd.DataFrame(
        {
            "ID": [11, 12],
            "WT": [44.0, 66.0],
            "AGE": [60.5, 120.5],
            "SEX": ["F", "M"],
            "height_in": [40.0, 55.0],
        }
    )
    cohort = pk.Cohort.from_frame(
        table, columns={"id": "ID", "weight_lb": "WT", "age_months": "AGE", "sex": "SEX"}
    )
    # 1 lb = 0.45359237 kg, 1 in = 2.54 cm, exactly (international definitions)
    np.testing.assert_allclose(cohort.weight_kg, [44 * 0.45359237, 66 * 0.45359237], rtol=1e-15)
    np.testing.assert_allclose(cohort.height_cm, [101.6, 139.7], rtol=1e-15)
    np.testing.assert_allclose(cohort.age_years, [60.5 / 12, 120.5 / 12], rtol=1e-15)
    assert cohort.ids.tolist() == [11, 12]
    np.testing.assert_allclose(
        cohort.weight_z, reference_z("weight_kg", cohort.weight_kg, cohort.sex, cohort.age_years), atol=1e-10
    )


def test_from_frame_without_sex_or_with_infants_has_no_weight_z():
    no_sex = pk.Cohort.from_frame(pd.DataFrame({"weight_kg": [20.0], "age_years": [6.0]}))
    assert no_sex.weight_z is None and list(no_sex.to_frame().columns) == ["id", "age_years", "weight_kg"]
    infant = pk.Cohort.from_frame(
        pd.DataFrame({"weight_kg": [20.0, 9.0], "age_years": [6.0, 1.0], "sex": ["M", "F"]})
    )
    assert infant.weight_z is None


def test_from_frame_missing_weight_is_refused():
    table = pd.DataFrame({"age_years": [6.0], "WT": [20.0]})
    with pytest.raises(
        ValueError,
        match=r"the table has no weight_kg column; its columns are "
        r"\['age_years', 'WT'\]; name yours with columns=\{'weight_kg': \.\.\.\}",
    ):
        pk.Cohort.from_frame(table)


def test_from_frame_unit_it_does_not_convert_is_refused():
    table = pd.DataFrame({"age_years": [6.0], "weight_st": [3.1]})
    with pytest.raises(
        ValueError,
        match=r"the table has no weight_kg column \(found 'weight_st': "
        r"pkmodel converts weight_\{kg, g, lb\} only\)",
    ):
        pk.Cohort.from_frame(table)
    with pytest.raises(ValueError, match=r"columns has key 'weight_st'; expected some of \['id', "):
        pk.Cohort.from_frame(table, columns={"weight_st": "weight_st"})


def test_from_frame_column_mapped_to_nothing_is_refused():
    table = pd.DataFrame({"age_years": [6.0], "weight_kg": [20.0]})
    with pytest.raises(ValueError, match=r"columns maps 'sex' to 'SEX', which the table does not have"):
        pk.Cohort.from_frame(table, columns={"sex": "SEX"})


def test_from_frame_two_spellings_of_one_field_are_refused():
    table = pd.DataFrame({"age_years": [6.0], "weight_kg": [20.0], "weight_lb": [44.1]})
    with pytest.raises(ValueError, match=r"the table has both 'weight_kg' and 'weight_lb'; expected one"):
        pk.Cohort.from_frame(table)


def test_from_frame_text_in_a_converted_column_is_refused():
    table = pd.DataFrame({"age_years": [6.0], "weight_lb": ["forty"]})
    with pytest.raises(ValueError, match=r"column 'weight_lb'\[0\] is 'forty'; expected a number"):
        pk.Cohort.from_frame(table)


def test_from_frame_needs_a_dataframe():
    with pytest.raises(TypeError, match=r"frame is a dict; expected a pandas DataFrame"):
        pk.Cohort.from_frame({"weight_kg": [20.0], "age_years": [6.0]})


def test_further_covariates_travel_with_the_cohort_and_reach_the_model():
    # He 2014 + McLaughlin 2018: CL/F 0.51 (AT) vs 0.25 (TT) L/h/kg; a carrier fraction of the user's choice
    cohort = pk.Cohort(weight_kg=[20.0, 20.0, 30.0], age_years=[6.0, 6.0, 9.0])
    carriers = np.random.default_rng(1).random(3) < 0.3
    genotyped = cohort.with_covariates(abcc9_rs11046232=np.where(carriers, "AT", "TT"))
    assert list(genotyped.to_frame().columns)[-1] == "abcc9_rs11046232"
    model = pk.load_model("baclofen_cp_he2014")
    expected = np.where(carriers, 0.51, 0.25) * genotyped.weight_kg
    np.testing.assert_allclose(model.typical_values(genotyped)["CL"], expected, rtol=1e-14)
    with pytest.raises(ValueError, match=r"Cohort\.covariates\['x'\] has 2 values; expected 3"):
        cohort.with_covariates(x=[1, 2])
    with pytest.raises(ValueError, match=r"Cohort\.covariates has 'weight_kg'; expected a name other than"):
        cohort.with_covariates(weight_kg=[1, 2, 3])


# --- accepted nonsense, refused (issue 12, item 17) ---------------------------------------


def test_a_shift_of_fifty_is_refused_as_a_z_score_not_as_a_weight():
    with pytest.raises(
        ValueError,
        match=r"from_growth_charts: weight_z_shift is 50; expected a shift "
        r"of the weight-for-age z-score from -5 to \+5 \(a "
        r"difference in z, not a weight",
    ):
        pk.Cohort.from_growth_charts(10, seed=1, weight_z_shift=50)
    with pytest.raises(ValueError, match=r"weight_z_shift\[3\] is -7; expected a shift"):
        pk.Cohort.from_growth_charts(10, seed=1, gmfcs=3, weight_z_shift={3: -7})


@pytest.mark.parametrize("weight", [1e-300, 0.19])
def test_a_weight_below_the_lightest_newborns_is_refused(weight):
    with pytest.raises(
        ValueError,
        match=rf"Cohort\.weight_kg\[0\] is {weight!r}; expected a "
        r"weight in kg, at least 0\.2",
    ):
        pk.Cohort(weight_kg=[weight], age_years=[8.0])
    assert pk.Cohort(weight_kg=[0.2], age_years=[0.0]).weight_kg[0] == 0.2  # the bound is kept


@pytest.mark.parametrize(
    "field, values", [("gmfcs", [True]), ("gmfcs", [2, True]), ("weight_kg", [20.0, True])]
)
def test_true_is_not_a_number_even_among_numbers(field, values):
    # numpy turns [2, True] into [2, 1]: True would be GMFCS level 1, or a 1 kg child
    # gmfcs is a covariate (Cohort.covariates), checked as strictly as the core fields
    given = {"weight_kg": [20.0] * len(values), "age_years": [8.0] * len(values)}
    if field == "gmfcs":
        given["covariates"], name = {"gmfcs": values}, r"Cohort\.covariates\['gmfcs'\]"
    else:
        given[field], name = values, rf"Cohort\.{field}"
    with pytest.raises(ValueError, match=rf"{name}\[{len(values) - 1}\] is True; expected a"):
        pk.Cohort(**given)


@pytest.mark.parametrize("field", ["weight_kg", "age_years", "gmfcs", "sex"])
def test_a_masked_array_is_refused_not_read_through_its_mask(field):
    # np.asarray of a masked array keeps the masked (hidden) values: -1 kg, 99 y, level 0
    values = {"weight_kg": [20.0, -1.0], "age_years": [8.0, 99.0], "gmfcs": [2, 0], "sex": ["M", "?"]}
    given = {"weight_kg": [20.0, 30.0], "age_years": [8.0, 9.0]}
    masked = np.ma.masked_array(values[field], mask=[False, True])
    if field == "gmfcs":  # a covariate (Cohort.covariates), checked as the core fields are
        given["covariates"], name = {"gmfcs": masked}, r"Cohort\.covariates\['gmfcs'\]"
    else:
        given[field], name = masked, rf"Cohort\.{field}"
    with pytest.raises(
        ValueError,
        match=rf"{name} is a masked array; expected plain "
        r"values \(fill or drop the masked entries first",
    ):
        pk.Cohort(**given)


def test_from_frame_repeated_column_names_are_refused():
    table = pd.DataFrame([[20.0, 8.0, 21.0]], columns=["weight_kg", "age_years", "weight_kg"])
    with pytest.raises(
        ValueError,
        match=r"from_frame: the table has 2 columns named 'weight_kg'; "
        r"expected one \(weight_kg\)",
    ):
        pk.Cohort.from_frame(table)
    mapped = pd.DataFrame([[20.0, 8.0, 9.0]], columns=["WT", "AGE", "AGE"])
    with pytest.raises(ValueError, match=r"2 columns named 'AGE'; expected one \(age_years\)"):
        pk.Cohort.from_frame(mapped, columns={"weight_kg": "WT", "age_years": "AGE"})
