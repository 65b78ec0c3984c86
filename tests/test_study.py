"""The `make run` study's pieces: summaries computed a regimen and a metric at a time equal those
of the whole table; the dose received over the last day, chunk by chunk, equals the doses given."""

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from pkmodel import study
from pkmodel.population import cerebral_palsy

TEXTS = {
    "TID": "2 mg/kg/day TID for 3 days, max 20 mg/dose, 20 % of doses missed",
    "QID": "2 mg/kg/day QID for 3 days, max 20 mg/dose, 20 % of doses missed",
}


@pytest.fixture(scope="module")
def outcome():
    regimens = {label: pk.Regimen.parse(text) for label, text in TEXTS.items()}
    cohort = pk.Cohort.from_growth_charts(150, age_years=(2, 17), seed=4, gmfcs=cerebral_palsy.GMFCS_MIX)
    times, ends = study.study_times(regimens, 0.5)
    return (
        study.run(pk.load_model("baclofen_cp_card"), cohort, regimens, times, ends, seed=4, curves=20),
        regimens,
        cohort,
        times,
    )


def test_summaries_by_regimen_and_metric_are_those_of_the_whole_table(outcome):
    exposures = outcome[0].exposures
    # pk.summarize over the whole table is the reference: the same rows, the same numbers,
    # without the peak's absolute time (tmax_h: no exposure; tmax_h_after_dose is summarised)
    whole = pk.summarize(exposures.drop(columns="tmax_h"), by=["regimen", "age_band"], unit="ng/mL")
    pd.testing.assert_frame_equal(study.summaries(exposures), whole)
    assert "tmax_h_after_dose" in set(whole["metric"])


def test_summary_table_is_the_median_and_5th_95th_percentile_of_each_group(outcome):
    exposures, table = outcome[0].exposures, outcome[0].table
    assert len(table) == 2 * 3 * len(study.SUMMARY_METRICS)
    for (regimen, band, metric), row in table.set_index(["regimen", "age_band", "metric"]).iterrows():
        rows = (exposures["regimen"] == regimen) & (exposures["age_band"] == band)
        column = {"weight (kg)": "weight_kg", "dose (mg/kg/day)": "dose_mg_per_kg_day"}.get(metric)
        values = exposures.loc[rows, column or metric.split()[0]].to_numpy()
        values = values if column else values * 1000  # mg/L -> ng/mL
        assert row["n"] == rows.sum()
        # numpy's linear-interpolation quantiles, computed apart: 1e-12 for the order of sums
        np.testing.assert_allclose(
            [row["median"], row["p5"], row["p95"]], np.quantile(values, [0.5, 0.05, 0.95]), rtol=1e-12
        )


def test_dose_received_chunk_by_chunk_is_that_of_the_doses_given(outcome):
    _, regimens, cohort, times = outcome
    for regimen in regimens.values():
        end = times[-1]
        doses = regimen.doses(cohort, seed=4)  # the whole cohort at once
        last_day = (doses.time_h >= end - 24) & (doses.time_h < end)
        expected = doses.amount_mg[:, last_day].sum(axis=1)
        assert (doses.amount_mg == 0).any()  # missed doses drawn by position
        np.testing.assert_array_equal(study._dose_received(regimen, cohort, 4, end, 7), expected)


def test_curves_are_those_of_the_first_children_of_the_whole_cohort(outcome):
    out, regimens, cohort, times = outcome
    whole = pk.simulate(pk.load_model("baclofen_cp_card"), cohort, regimens["QID"], times, seed=4)
    np.testing.assert_array_equal(out.curves["QID"].concentrations, whole.concentrations[:20])
    assert len(out.exposures) == 2 * 150 and len(out.parameters) == 150
