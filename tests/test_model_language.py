"""The model language in model files: the bundled baclofen models written out as raw [odes]
give their short forms' numbers; linear models of any shape are solved exactly; files that
cannot be read are refused naming the file, the section, the expression and the column."""

import tomllib

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from pkmodel.engines import analytic
from conftest import PARAMS, relative_error_where_visible, write_toml

COHORT = pk.Cohort.from_growth_charts(30, age_years=(2, 17), seed=4)
TID = pk.Regimen.parse("2 mg/kg/day TID for 2 days")
TIMES = np.arange(0.0, 48.25, 0.25)

# The bundled models' equations, written out by hand (not by System.from_structure)
RAW = {
    "baclofen_cp_card": {
        "compartments": ["depot", "central"],
        "odes": {"depot": "-ka * depot", "central": "ka * depot - CL / V * central"},
        "outputs": {"conc": "central / V"},
    },
    "baclofen_cp_he2014": {
        "compartments": ["depot", "t1", "t2", "t3", "gut", "central", "peripheral"],
        "derived": {"ktr": "4 / MTT"},  # (n + 1) / MTT with n = 3 transit compartments
        "odes": {
            "depot": "-ktr * depot",
            "t1": "ktr * depot - ktr * t1",
            "t2": "ktr * t1 - ktr * t2",
            "t3": "ktr * t2 - ktr * t3",
            "gut": "ktr * t3 - ka * gut",
            "central": "ka * gut - (CL + Q) / V1 * central + Q / V2 * peripheral",
            "peripheral": "Q / V1 * central - Q / V2 * peripheral",
        },
        "outputs": {"conc": "central / V1"},
        "dosing": {"depot": {"lag": "tlag"}},
    },
    "baclofen_cp_he2014_fast_absorption": {
        "compartments": ["depot", "t1", "t2", "t3", "central", "peripheral"],
        "derived": {"ktr": "4 / MTT"},
        "odes": {
            "depot": "-ktr * depot",
            "t1": "ktr * depot - ktr * t1",
            "t2": "ktr * t1 - ktr * t2",
            "t3": "ktr * t2 - ktr * t3",
            "central": "ktr * t3 - CL / V1 * central - Q / V1 * central + Q / V2 * peripheral",
            "peripheral": "Q / V1 * central - Q / V2 * peripheral",
        },
        "outputs": {"conc": "central / V1"},
    },
}


def written_out(tmp_path, name: str, **sections) -> pk.Model:
    """The bundled model `name` with its structure replaced by the raw equations."""
    with open(PARAMS / f"{name}.toml", "rb") as f:
        doc = tomllib.load(f)
    raw = {**RAW[name], **sections}
    for key in ("structure", "absorption", "n_transit"):
        doc["model"].pop(key, None)
    doc["model"].update(name=f"{name}_raw", compartments=raw.pop("compartments"))
    doc.update(raw)
    return pk.load_model(write_toml(tmp_path / f"{name}_raw.toml", doc))


def language(tmp_path, text: str, name: str = "m.toml") -> pk.Model:
    path = tmp_path / name
    path.write_text(text)
    return pk.load_model(path)


ONE_CMT = """
[model]
name = "one"
compartments = ["central"]

[parameters.CL]
value = 1.0
unit = "L/h"

[parameters.V]
value = 10.0
unit = "L"

[odes]
central = "-CL / V * central"

[outputs]
conc = "central / V"
"""


# --- the bundled models written out --------------------------------------------------------


@pytest.mark.parametrize("name", list(RAW))
@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_bundled_models_written_out_are_linear_and_give_their_short_forms_numbers(tmp_path, name, engine):
    raw = written_out(tmp_path, name)
    assert raw.structure is None and raw.is_linear and raw.nonlinear_reason is None
    short = pk.load_model(name)
    # with the genotype on some children (he2014: the categorical covariate stays a parameter's)
    cohort = COHORT.with_covariates(abcc9_rs11046232=np.where(np.arange(30) % 4 == 0, "AT", "TT"))
    tight = {"rtol": 1e-13, "atol": 2e-12} if engine == "ode" else {}
    a = pk.simulate(short, cohort, TID, TIMES, engine=engine, seed=2, **tight)
    b = pk.simulate(raw, cohort, TID, TIMES, engine=engine, seed=2, **tight)
    np.testing.assert_array_equal(a.etas, b.etas)
    # analytic: the closed form (card) or the same matrix exponential; ode: each within
    # ~1e-13 of the exact curve at rtol 1e-13, the same steps on the same equations
    assert relative_error_where_visible(b.concentrations, a.concentrations) <= 1e-12


def test_auto_picks_the_analytic_engine_for_a_linear_model_written_out(tmp_path):
    raw = written_out(tmp_path, "baclofen_cp_he2014")
    assert pk.simulate(raw, COHORT, TID, TIMES, seed=1).engine == "analytic"
    assert raw.compartments[0] == "depot" and raw.dose_compartment == "depot"


def test_a_short_form_has_the_same_compiled_system_as_its_written_out_form(tmp_path):
    short, raw = pk.load_model("baclofen_cp_card"), written_out(tmp_path, "baclofen_cp_card")
    p = {
        "CL": np.array([2.0]),
        "V": np.array([10.0]),
        "ka": np.array([1.5]),
        "F": np.array([1.0]),
        "tlag": np.array([0.0]),
    }
    k_short = short.system.rate_matrix(p)
    k_raw = raw.system.rate_matrix({n: p[n] for n in raw.parameters})
    # K = [[-ka, 0], [ka, -CL/V]] written by hand
    np.testing.assert_allclose(k_short[0], [[-1.5, 0.0], [1.5, -0.2]], rtol=1e-15)
    np.testing.assert_allclose(k_raw, k_short, rtol=1e-15)


def test_a_model_of_the_language_gives_the_same_numbers_in_chunks(tmp_path):
    raw = written_out(tmp_path, "baclofen_cp_card")
    whole = pk.simulate(raw, COHORT, TID, TIMES, seed=3)
    chunks = pk.simulate(raw, COHORT, TID, TIMES, seed=3, chunk_size=7)
    np.testing.assert_array_equal(np.asarray(chunks.concentrations), whole.concentrations)


# --- three compartments, IV and oral -------------------------------------------------------

THREE = pk.load_model("three_compartment_iv_oral")


def iv_and_oral(cohort: pk.Cohort) -> pk.EventTable:
    """Each child: 5 mg IV into central (CMT 2) at 0 h, then 10 mg oral (CMT 1) every 12 h x 4."""
    ids = np.asarray(cohort.ids)
    iv = pd.DataFrame({"ID": ids, "TIME": 0.0, "AMT": 5.0, "EVID": 1, "CMT": 2})
    oral = pd.DataFrame(
        {
            "ID": np.repeat(ids, 4),
            "TIME": np.tile([1.0, 13.0, 25.0, 37.0], ids.size),
            "AMT": 10.0,
            "EVID": 1,
            "CMT": 1,
        }
    )
    return pk.read_events(pd.concat([iv, oral]).sort_values(["ID", "TIME"], kind="stable"))


def test_three_compartments_analytic_matches_the_ode_engine_within_1e_8():
    cohort = COHORT
    events = iv_and_oral(cohort)
    times = np.arange(0.0, 60.25, 0.25)
    exact = pk.simulate(THREE, cohort, events, times, seed=5)
    assert exact.engine == "analytic"
    ode = pk.simulate(THREE, cohort, events, times, seed=5, engine="ode")
    assert relative_error_where_visible(ode.concentrations, exact.concentrations, 1e-6) <= 1e-8


def test_three_compartments_conserve_mass_to_1e_9():
    cohort = pk.Cohort.from_growth_charts(12, age_years=(2, 17), seed=8)
    reg = pk.Regimen.fixed(mg=10, every_h=12, n_doses=4)
    times = np.arange(0.0, 72.0, 0.5)
    res = pk.simulate(THREE, cohort, reg, times, seed=6)
    amounts = analytic.amounts(THREE.compartment_model, res.individual, res.doses, times)
    # every dose taken before t, times F (0.6), is somewhere: in a compartment or eliminated
    arrived = reg.time_h[None, :] + THREE.parameters["ALAG"].value < times[:, None]
    given = 0.6 * 10.0 * arrived.sum(axis=1)
    np.testing.assert_allclose(
        amounts.sum(axis=1), np.broadcast_to(given, (12, times.size)), rtol=1e-9, atol=1e-9 * 40
    )


def test_three_compartments_steady_state_auc_is_f_dose_over_cl():
    # AUC over a steady-state interval = F dose / CL for any mammillary model with
    # elimination from central (superposition): the row (-K)^-1 e of the language's path
    cohort = pk.Cohort.from_growth_charts(10, age_years=(2, 17), seed=9)
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=2, days=3)
    res = pk.simulate(THREE, cohort, reg, np.arange(0.0, 72.5, 0.5), seed=7)
    table = pk.exposure(res, window="steady_state")
    dose = 1.0 * cohort.weight_kg
    expected = res.individual["F"] * dose / res.individual["CL"]
    np.testing.assert_allclose(table["auc_ss"], expected, rtol=1e-11)


def test_find_dose_on_a_linear_model_of_the_language_is_exact():
    cohort = pk.Cohort.from_growth_charts(40, age_years=(2, 17), seed=10)
    found = pk.find_dose(
        THREE, cohort, target=0.3, doses_per_day=2, max_mg_per_dose=None, max_mg_per_day=None, seed=1
    )
    x = float(found["mg_per_kg_day"].iloc[0])
    individual = pk.simulate(
        THREE, cohort, pk.Regimen.fixed(mg=1, every_h=24, n_doses=1), [0.0], seed=1
    ).individual
    # Cavg = F x w / (CL * 24) for a weight-based x mg/kg/day, computed by hand
    cavg = individual["F"] * x * cohort.weight_kg / (individual["CL"] * 24.0)
    assert abs(float(np.median(cavg)) - 0.3) <= 1e-10


# --- covariates and outputs ----------------------------------------------------------------


def test_a_maturation_function_on_clearance_follows_its_formula():
    model = pk.load_model("maturation_renal_cl")
    cohort = pk.Cohort(weight_kg=[12.0, 30.0, 60.0], age_years=[2.0, 9.0, 16.0])
    times = np.arange(0.5, 24.0, 0.5)
    res = pk.simulate(model, cohort, pk.Regimen.fixed(mg=10, every_h=24, n_doses=1), times, variability=False)
    # Rhodin 2009 written out here: CL = 6 (W/70)^0.75 PMA^3.4 / (PMA^3.4 + TM50^3.4), PMA and
    # TM50 in weeks; V = 50 W / 70; one compartment, first-order absorption ka = 1
    w, pma = np.array([12.0, 30.0, 60.0]), np.array([2.0, 9.0, 16.0]) * 365.25 / 7 + 40
    cl = 6.0 * (w / 70) ** 0.75 * pma**3.4 / (pma**3.4 + 47.7**3.4)
    v, ka = 50.0 * w / 70, 1.0
    k = (cl / v)[:, None]
    expected = 10 * ka / (v[:, None] * (ka - k)) * (np.exp(-k * times) - np.exp(-ka * times))
    np.testing.assert_allclose(res.concentrations, expected, rtol=1e-10)


def test_an_effect_compartment_gives_its_effect_by_name_on_both_engines():
    model = pk.load_model("effect_compartment_emax")
    assert model.is_linear and model.outputs == ("conc", "effect")
    times = np.arange(0.0, 48.25, 0.25)
    exact = pk.simulate(model, COHORT, TID, times, seed=11)
    # rtol 1e-10 (the default 1e-8 agrees within 2e-8): the effect is read to 1e-8 below
    ode = pk.simulate(model, COHORT, TID, times, seed=11, engine="ode", rtol=1e-10)
    assert exact.engine == "analytic" and set(exact.outputs) == {"effect"}
    assert relative_error_where_visible(ode.outputs["effect"], exact.outputs["effect"], 1e-3) <= 1e-8
    # the effect lags the concentration: its peak after the first dose comes later
    first = times < 8
    assert np.all(
        np.argmax(exact.outputs["effect"][:, first], axis=1)
        > np.argmax(exact.concentrations[:, first], axis=1)
    )
    assert np.all((exact.outputs["effect"] >= 0) & (exact.outputs["effect"] < 100))


def test_a_declared_covariate_is_read_from_the_cohort_and_a_missing_one_refused(tmp_path):
    text = (
        ONE_CMT.replace('central = "-CL / V * central"', 'central = "-CL * CRCL / 100 / V * central"')
        + """
[covariates.CRCL]
unit = "L/h"
source = "creatinine clearance (assumed for the test)"
"""
    )
    model = language(tmp_path, text)
    cohort = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[8.0, 8.0])
    times = np.array([1.0, 5.0])
    with pytest.raises(ValueError, match="uses covariate 'CRCL' .*cohort does not have"):
        pk.simulate(model, cohort, pk.Regimen.fixed(mg=10, every_h=24, n_doses=1), times)
    given = cohort.with_covariates(CRCL=np.array([100.0, 50.0]))
    res = pk.simulate(model, given, pk.Regimen.fixed(mg=10, every_h=24, n_doses=1), times, variability=False)
    k = np.array([0.1, 0.05])[:, None]  # CL * CRCL / 100 / V
    np.testing.assert_allclose(res.concentrations, np.exp(-k * times), rtol=1e-12)


# --- malformed model text: named file, section, expression and column ---------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ('central = "-CL / V * central"', 'central = "-CL / V * centrl"'),
            r"odes\.central: unknown name 'centrl' \(did you mean 'central'\?\) at column 11",
        ),
        (
            ('central = "-CL / V * central"', 'central = "-CL / V * * central"'),
            r"odes\.central: syntax error .* at column \d+ of '-CL / V \* \* central'",
        ),
        (('conc = "central / V"', 'conc = "central // V"'), r"outputs\.conc: operator '//'"),
        (('conc = "central / V"', "conc = \"__import__('os')\""), r"unknown function '__import__'"),
        (('unit = "L/h"', 'unit = "litres per hour"'), r"parameters\.CL\.unit is 'litres per hour'"),
    ],
)
def test_malformed_text_is_refused_naming_file_section_expression_and_column(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(ONE_CMT.replace(*change, 1))
    with pytest.raises(pk.ModelFileError, match=message) as err:
        pk.load_model(path)
    assert str(path) in str(err.value)


def test_a_compartment_without_an_equation_and_an_unused_parameter_are_refused(tmp_path):
    with pytest.raises(pk.ModelFileError, match="compartment 'peripheral' has no equation"):
        language(
            tmp_path,
            ONE_CMT.replace('compartments = ["central"]', 'compartments = ["central", "peripheral"]'),
        )
    with pytest.raises(pk.ModelFileError, match=r"parameters\.KA is not used by any expression"):
        language(tmp_path, ONE_CMT + '\n[parameters.KA]\nvalue = 1.0\nunit = "1/h"\n', "b.toml")


def test_each_childs_own_dose_times_and_growing_covariates_agree_between_engines():
    # jittered doses: the per-child paths of both engines; weight updates: the parameters and
    # the covariates the equations read (weight_kg, age_years) change every 24 h (epochs)
    cohort = pk.Cohort.from_growth_charts(8, age_years=(2, 17), seed=15)
    jitter = pk.Regimen.parse("10 mg q8h for 2 days, ± 30 min")
    times = np.arange(0.0, 48.25, 0.25)
    for model, options in (
        (THREE, {}),
        (pk.load_model("effect_compartment_emax"), {}),
        (pk.load_model("maturation_renal_cl"), {"weight_update_h": 24.0}),
    ):
        exact = pk.simulate(model, cohort, jitter, times, seed=15, **options)
        ode = pk.simulate(model, cohort, jitter, times, seed=15, engine="ode", rtol=1e-10, **options)
        assert exact.engine == "analytic"
        assert relative_error_where_visible(ode.concentrations, exact.concentrations, 1e-6) <= 1e-8
        for name in exact.outputs or ():
            assert relative_error_where_visible(ode.outputs[name], exact.outputs[name], 1e-3) <= 1e-8
