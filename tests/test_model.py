import math
import shutil

import numpy as np
import pytest

import pkmodel as pk
from conftest import CL_PER_KG, KA, PARAMS, V_PER_KG, write_model


def test_card_model_holds_he2014_numbers_at_full_precision(card):
    # outside checks compare to 1e-9; the file must not round derived values
    p = card.parameters
    assert card.structure.name == "one_compartment_oral"
    assert (p["CL"].value, p["CL"].unit, p["CL"].iiv_sd) == (0.273, "L/h/kg", 0.334)
    assert p["V"].unit == "L/kg" and p["V"].iiv_sd == 0.439
    assert p["ka"].unit == "1/h" and p["ka"].iiv_sd == 0.837
    np.testing.assert_allclose(p["V"].value, V_PER_KG, rtol=1e-15)
    np.testing.assert_allclose(p["ka"].value, KA, rtol=1e-15)
    # the half-life the volume was derived from
    np.testing.assert_allclose(math.log(2) * p["V"].value / p["CL"].value, 4.5, rtol=1e-15)


def test_every_parameter_names_a_source(card):
    for name, p in card.parameters.items():
        assert "He" in p.source or "derived" in p.source, name


def test_load_model_takes_a_path_too(tmp_path, card):
    path = shutil.copy(PARAMS / "baclofen_cp_card.toml", tmp_path / "my_model.toml")
    assert pk.load_model(path).parameters == card.parameters
    assert pk.load_model(str(path)).parameters == card.parameters


def test_per_kg_parameters_scale_with_weight_and_etas_are_log_normal(card):
    cohort = pk.Cohort(weight_kg=[10.0, 40.0], age_years=[3.0, 12.0])
    etas = np.array([[0.0, 0.0, 0.0], [0.1, -0.2, 0.3]])
    p = card.individual_parameters(cohort, etas)
    np.testing.assert_allclose(p["CL"], [2.73, CL_PER_KG * 40 * math.exp(0.1)], rtol=1e-15)
    np.testing.assert_allclose(p["V"], [V_PER_KG * 10, V_PER_KG * 40 * math.exp(-0.2)], rtol=1e-15)
    np.testing.assert_allclose(p["ka"], [KA, KA * math.exp(0.3)], rtol=1e-15)


def test_value_may_be_given_as_its_expression(tmp_path, card):
    path = write_model(tmp_path, drop=["V.value"])
    assert pk.load_model(path).parameters["V"].value == card.parameters["V"].value


# --- bad model files: each names the file, the field and the value ---------
# The refusals of bad model files are rows of the input audit (tests/test_input_audit.py).


# --- covariates, random effects, residual error (issue 3) ----------------------


def test_allometric_power_covariate_scales_the_typical_value(tmp_path):
    path = write_model(
        tmp_path,
        CL={
            "value": 5.46,
            "unit": "L/h",
            "covariates": {"weight_kg": {"type": "power", "reference": 20.0, "exponent": 0.75}},
        },
    )
    model = pk.load_model(path)
    cohort = pk.Cohort(weight_kg=[10.0, 20.0, 70.0], age_years=[3.0, 6.0, 16.0])
    np.testing.assert_allclose(
        model.typical_values(cohort)["CL"], 5.46 * (np.array([10.0, 20.0, 70.0]) / 20) ** 0.75, rtol=1e-15
    )


def test_categorical_genotype_covariate_is_optional_and_takes_each_levels_value():
    model = pk.load_model("baclofen_cp_he2014")
    plain = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[6.0, 6.0])
    np.testing.assert_allclose(model.typical_values(plain)["CL"], [0.273 * 20] * 2)  # default off

    class Genotyped:  # any cohort-like object that carries the covariate
        weight_kg = np.array([20.0, 20.0, 30.0])
        abcc9_rs11046232 = np.array(["AT", "TT", "AT"])

    # McLaughlin 2018: CL/F 0.51 (AT) vs 0.25 (TT) L/h/kg
    np.testing.assert_allclose(
        model.typical_values(Genotyped)["CL"], [0.51 * 20, 0.25 * 20, 0.51 * 30], rtol=1e-14
    )


def test_a_known_genotype_keeps_only_the_iiv_it_does_not_explain():
    # He 2014's 33.4 % IIV on CL includes the genotype; a child whose genotype is given keeps
    # omega 0.28 (McLaughlin 2018's TT SD/mean, 0.07/0.25), one without it the full 0.334
    model = pk.load_model("baclofen_cp_he2014")
    n = 20_000
    plain = pk.Cohort(weight_kg=np.full(n, 20.0), age_years=np.full(n, 6.0))
    genotyped = plain.with_covariates(abcc9_rs11046232=np.where(np.arange(n) % 2, "AT", "TT"))
    etas = np.random.default_rng(5).normal(size=(n, len(model.etas))) * np.sqrt(np.diag(model.omega))
    i = model.eta_names.index("CL")
    log_ratio = np.log(
        model.individual_parameters(genotyped, etas)["CL"] / model.typical_values(genotyped)["CL"]
    )
    # the drawn eta scaled by 0.28 / 0.334 exactly (1e-12: exp and log)
    np.testing.assert_allclose(log_ratio, etas[:, i] * 0.28 / 0.334, rtol=1e-12, atol=1e-15)
    # so the SD of log CL within a genotype is 0.28 (4 SE of an SD from 10,000 children: 0.006)
    for level in ("TT", "AT"):
        assert abs(np.std(log_ratio[genotyped.covariates["abcc9_rs11046232"] == level]) - 0.28) < 0.006
    without = np.log(model.individual_parameters(plain, etas)["CL"] / model.typical_values(plain)["CL"])
    np.testing.assert_allclose(without, etas[:, i], rtol=1e-12, atol=1e-15)


def _with_correlation(tmp_path, r):
    from conftest import card_document, write_toml

    doc = card_document()
    text = write_toml(tmp_path / "model.toml", doc).read_text()
    text += f'\n[[correlations]]\nbetween = ["CL", "V"]\nvalue = {r}\n'
    (tmp_path / "model.toml").write_text(text)
    return tmp_path / "model.toml"


def test_correlations_build_omega_from_sds(tmp_path):
    model = pk.load_model(_with_correlation(tmp_path, 0.5))
    assert model.eta_names == ("CL", "V", "ka")
    np.testing.assert_allclose(model.omega[0, 1], 0.5 * 0.334 * 0.439, rtol=1e-15)
    np.testing.assert_allclose(np.diag(model.omega), [0.334**2, 0.439**2, 0.837**2], rtol=1e-15)


# --- the encoding, and the largest model accepted (issue 12, item 17) -----------------------


def test_a_utf8_byte_order_mark_is_accepted(tmp_path, card):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (PARAMS / "baclofen_cp_card.toml").read_bytes())
    assert pk.load_model(path).parameters == card.parameters


def test_more_transit_compartments_than_the_stated_limit_are_refused(tmp_path):
    # the first reconstruction: depot, n transits, central, peripheral
    he = (PARAMS / "baclofen_cp_he2014_fast_absorption.toml").read_text()
    path = tmp_path / "m.toml"
    path.write_text(he.replace("n_transit = 3", "n_transit = 1000"))
    with pytest.raises(
        pk.ModelFileError,
        match=r"m\.toml: model\.n_transit is 1000; expected at most "
        r"50 transit compartments",
    ):
        pk.load_model(path)
    path.write_text(he.replace("n_transit = 3", "n_transit = 50"))
    assert len(pk.load_model(path).structure.compartments) == 1 + 50 + 2  # the limit itself


# --- validity ranges (issue 12, item 18) --------------------------------------------------


def test_bundled_models_state_their_validity_ranges():
    for name in ("baclofen_cp_card", "baclofen_cp_he2014"):
        ranges = {r.quantity: r for r in pk.load_model(name).validity}
        assert set(ranges) == {"age_years", "weight_kg", "weight_for_age_z", "dose_mg_per_kg"}, name
        # He 2014 enrolled children 2-17 years of age; the others are assumed, with their reason
        assert (ranges["age_years"].low, ranges["age_years"].high) == (2.0, 18.0)  # 2-17 completed y
        assert "He 2014" in ranges["age_years"].source
        assert (ranges["weight_for_age_z"].low, ranges["weight_for_age_z"].high) == (-6.0, 5.0)
        assert all(r.source for r in ranges.values())
