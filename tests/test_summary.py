import numpy as np
import pandas as pd
import pytest

import pkmodel as pk

from conftest import CL_PER_KG


def test_age_and_weight_bands_are_joined_on_id():
    kids = pk.Cohort(
        weight_kg=[12.0, 19.9, 20.0, 35.0, 52.0, 70.0],
        age_years=[2.0, 6.99, 7.0, 11.5, 12.0, 17.9],
        ids=[11, 12, 13, 14, 15, 16],
    )
    table = pd.DataFrame({"id": [16, 11, 13, 12, 15, 14], "cavg": np.arange(6.0)})  # any order
    banded = pk.add_bands(table, kids)
    # each band is [low, high): 6.99 y is "2-6 y" (completed years), 7.0 y is "7-11 y"
    assert banded["age_band"].tolist() == ["12-17 y", "2-6 y", "7-11 y", "2-6 y", "12-17 y", "7-11 y"]
    assert banded["weight_band"].tolist() == [
        ">=50 kg",
        "<15 kg",
        "20-30 kg",
        "15-20 kg",
        ">=50 kg",
        "30-40 kg",
    ]
    assert list(banded["age_band"].cat.categories) == ["2-6 y", "7-11 y", "12-17 y"]
    assert banded["cavg"].tolist() == list(np.arange(6.0)) and "age_band" not in table


def test_an_age_in_no_band_is_refused():
    kids = pk.Cohort(weight_kg=[20.0, 60.0], age_years=[7.0, 18.0])
    with pytest.raises(
        ValueError,
        match=r"Cohort.age_years: 18.0 \(entry 1\) is in no band; expected "
        r"a value in one of \{'2-6 y': \(2.0, 7.0\)",
    ):
        pk.add_bands(pd.DataFrame({"id": [1, 2]}), kids)


def test_overlapping_bands_are_refused():
    kids = pk.Cohort(weight_kg=[20.0], age_years=[7.0])
    with pytest.raises(ValueError, match=r"Cohort.weight_kg bands 'a' \(0, 20\) and 'b' \(15, 40\) overlap"):
        pk.add_bands(pd.DataFrame({"id": [1]}), kids, weight={"a": (0, 20), "b": (15, 40)})


def test_summary_statistics_per_group_and_the_ng_per_ml_display():
    rng = np.random.default_rng(4)
    values = {"A": rng.lognormal(-1.2, 0.4, 50), "B": rng.lognormal(-1.0, 0.3, 31)}
    table = pd.DataFrame(
        {"regimen": np.repeat(["A", "B"], [50, 31]), "cavg": np.concatenate([values["A"], values["B"]])}
    )
    table["auc"] = 24 * table["cavg"]
    out = pk.summarize(table, by="regimen", unit="ng/mL")
    assert out[["regimen", "metric", "unit"]].values.tolist() == [
        ["A", "auc", "ng*h/mL"],
        ["A", "cavg", "ng/mL"],
        ["B", "auc", "ng*h/mL"],
        ["B", "cavg", "ng/mL"],
    ]
    for label, v in values.items():
        row = out[(out["regimen"] == label) & (out["metric"] == "cavg")].iloc[0]
        assert row["n"] == v.size
        # 1000 ng/mL per mg/L; statistics straight from numpy on the raw values
        np.testing.assert_allclose(
            row[["mean", "geo_mean", "median", "p5", "p25", "p75", "p95"]].to_numpy(float),
            1000
            * np.array(
                [v.mean(), np.exp(np.log(v).mean()), np.median(v), *np.percentile(v, [5, 25, 75, 95])]
            ),
            rtol=1e-12,
        )


def test_geometric_mean_is_missing_where_a_value_is_not_positive():
    out = pk.summarize(pd.DataFrame({"cmin": [0.0, 0.1, 0.2]}))
    assert np.isnan(out["geo_mean"].iloc[0]) and out["median"].iloc[0] == 0.1


def test_pta_without_variability_is_0_or_1_per_band_as_the_arithmetic_says(card):
    weights = np.array([10.0, 15.0, 18.0, 25.0, 28.0, 35.0, 45.0, 60.0])
    kids = pk.Cohort(weight_kg=weights, age_years=np.full(weights.size, 9.0))
    bands = {"<20 kg": (0, 20), "20-40 kg": (20, 40), ">=40 kg": (40, np.inf)}
    regimens = {
        label: pk.Regimen.weight_based(2.0, n, 14, max_mg_per_day=40) for label, n in (("TID", 3), ("QID", 4))
    }
    table = pk.add_bands(
        pk.compare(card, kids, regimens, times=np.arange(0, 336.25, 0.25), variability=False),
        kids,
        age=None,
        weight=bands,
    )
    pta = pk.target_attainment(table, by=["regimen", "weight_band"], target=(0.15, 0.40))
    # Cavg = min(2 w, 40) mg/day / (24 h * 0.273 w): 0.305 mg/L up to 20 kg; 0.244, 0.218,
    # 0.174 at 25, 28, 35 kg; 0.136, 0.102 at 45, 60 kg: the bands are all in, all in, all out
    cavg = np.minimum(2 * weights, 40) / (24 * CL_PER_KG * weights)
    band = np.digitize(weights, [20, 40])
    expected = [float(np.all((cavg[band == b] >= 0.15) & (cavg[band == b] <= 0.40))) for b in range(3)]
    assert expected == [1.0, 1.0, 0.0]
    assert pta["pta"].tolist() == expected * 2 and pta["n"].tolist() == [3, 3, 2] * 2
    assert pta["regimen"].tolist() == ["TID"] * 3 + ["QID"] * 3


def test_pta_on_time_in_range():
    table = pd.DataFrame({"frac_in_range": [0.79, 0.8, 1.0, 0.2]})
    out = pk.target_attainment(table, metric="frac_in_range", target=(0.8, 1.0))
    # bounds are inclusive: 0.8 and 1.0 count
    assert out[["n", "n_attained", "pta"]].iloc[0].tolist() == [4, 2, 0.5]


def test_an_empty_exposure_table_is_refused():
    with pytest.raises(ValueError, match=r"exposures has no rows; expected one row per subject"):
        pk.summarize(pd.DataFrame({"regimen": [], "cavg": []}), by="regimen")


def test_a_missing_band_column_is_refused():
    with pytest.raises(
        ValueError,
        match=r"exposures has no column 'age_band'; columns are "
        r"\['id', 'cavg'\]; add bands with pk.add_bands",
    ):
        pk.summarize(pd.DataFrame({"id": [1], "cavg": [0.3]}), by="age_band")


def test_pta_target_with_low_not_below_high_is_refused():
    with pytest.raises(ValueError, match=r"target is \(0.4, 0.08\); expected low < high \(mg/L\)"):
        pk.target_attainment(pd.DataFrame({"cavg": [0.3]}), target=(0.4, 0.08))


def test_pta_on_a_metric_with_missing_values_is_refused():
    with pytest.raises(
        ValueError,
        match=r"metric 'trough' is missing for 1 rows; expected a value "
        r"for every subject",
    ):
        pk.target_attainment(
            pd.DataFrame({"trough": [0.3, np.nan]}), metric="trough", target=pk.BACLOFEN_TARGET_MG_L
        )
