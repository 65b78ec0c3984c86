"""Renal function as a covariate of CL/F (issue 18 part 4): the bedside Schwartz eGFR, and the
dose reductions it implies against Vlavonou 2014's recommendations."""

import numpy as np
import pytest

import pkmodel as pk
from pkmodel.population import renal

# Vlavonou R et al., J Clin Pharmacol 2014;54:584 (doi 10.1002/jcph.247): in mild, moderate
# and severe chronic kidney disease (creatinine clearance 50-80, 30-50 and < 30 mL/min) give
# about 2/3, 1/2 and 1/3 of the normal dose. Each class at its middle (0-30 for the last).
VLAVONOU = [(65.0, 2 / 3), (40.0, 1 / 2), (15.0, 1 / 3)]
REGIMEN = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14)
LAST_DAY = np.arange(312.0, 336.01, 0.25)


@pytest.mark.parametrize("name", ["baclofen_cp_he2014", "baclofen_cp_card"])
def test_the_dose_that_keeps_cavg_normal_is_vlavonous_reduction_within_10_percent(name):
    # a typical 10-year-old (30 kg, 138 cm) at normal renal function and in each CKD class;
    # the dose keeping Cavg at its normal value is dose * Cavg(normal) / Cavg(impaired) (the
    # models are linear: Cavg is proportional to the dose), Cavg simulated over the last
    # 8-h interval of day 14 (steady state: the slowest child's half-life is 14 h)
    egfr = [100.0] + [e for e, _ in VLAVONOU]
    cohort = pk.Cohort(
        weight_kg=[30.0] * 4, age_years=[10.0] * 4, height_cm=[138.0] * 4, covariates={renal.EGFR: egfr}
    )
    res = pk.simulate(pk.load_model(name), cohort, REGIMEN, LAST_DAY, variability=False)
    cavg = pk.exposure(res, window="steady_state")["cavg"].to_numpy()
    dose_fraction = cavg[0] / cavg[1:]
    recommended = np.array([r for _, r in VLAVONOU])
    assert np.all(np.abs(dose_fraction / recommended - 1) < 0.10), dose_fraction
    # and the model's own statement: CL/F scales as (1 - fe) + fe eGFR / 100 with fe = 0.8
    cl = np.asarray(res.individual["CL"])
    np.testing.assert_allclose(cl / cl[0], 0.2 + 0.8 * np.array(egfr) / 100, rtol=1e-12)


def test_children_without_an_egfr_keep_he_s_clearance():
    # the covariate is optional: a cohort without it gives the same CL/F as eGFR 100
    model = pk.load_model("baclofen_cp_he2014")
    plain = pk.Cohort(weight_kg=[30.0, 12.0], age_years=[10.0, 3.0])
    normal = plain.with_covariates(**{renal.EGFR: [100.0, 100.0]})
    a = pk.simulate(model, plain, REGIMEN, [24.0], variability=False).individual["CL"]
    b = pk.simulate(model, normal, REGIMEN, [24.0], variability=False).individual["CL"]
    np.testing.assert_allclose(np.asarray(a), 0.273 * np.array([30.0, 12.0]), rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bedside_schwartz_from_serum_creatinine():
    # Schwartz 2009: eGFR = 0.413 height (cm) / serum creatinine (mg/dL)
    cohort = pk.Cohort(weight_kg=[30.0, 45.0], age_years=[10.0, 14.0], height_cm=[138.0, 160.0])
    with_egfr = renal.with_egfr(cohort, [0.6, 1.6])
    np.testing.assert_allclose(
        with_egfr.covariates[renal.EGFR], [0.413 * 138 / 0.6, 0.413 * 160 / 1.6], rtol=1e-15
    )
    assert with_egfr.covariates[renal.EGFR][0] == pytest.approx(94.99, abs=0.005)


def test_an_egfr_read_from_a_frame_is_checked():
    frame = pk.Cohort(weight_kg=[30.0], age_years=[10.0]).to_frame()
    frame[renal.EGFR] = [-5.0]
    with pytest.raises(
        ValueError,
        match=r"Cohort\.covariates\['egfr_ml_min_1_73m2'\]\[0\] is "
        r"-5\.0; expected an eGFR in mL/min/1\.73 m\^2, > 0",
    ):
        pk.Cohort.from_frame(frame)
