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


def test_rounded_derived_value_is_refused(tmp_path):
    path = write_model(tmp_path, V={"value": 1.7723508577})
    with pytest.raises(pk.ModelFileError, match=r"model\.toml: parameters\.V\.value is 1\.7723508577 but"):
        pk.load_model(path)


# --- bad model files: each names the file, the field and the value ---------

def test_missing_value_is_refused(tmp_path):
    path = write_model(tmp_path, drop=["CL.value"])
    with pytest.raises(ValueError, match=r"model\.toml: parameters\.CL\.value is missing"):
        pk.load_model(path)


def test_missing_unit_is_refused(tmp_path):
    path = write_model(tmp_path, drop=["CL.unit"])
    with pytest.raises(ValueError, match=r"model\.toml: parameters\.CL\.unit is missing"):
        pk.load_model(path)


def test_unknown_unit_is_refused(tmp_path):
    path = write_model(tmp_path, CL={"unit": "mL/min/kg"})
    with pytest.raises(ValueError, match=r"model\.toml: parameters\.CL\.unit is 'mL/min/kg'; "
                                         r"expected one of 'L/h/kg', 'L/h'"):
        pk.load_model(path)


def test_unit_of_the_wrong_dimension_is_refused(tmp_path):
    path = write_model(tmp_path, ka={"unit": "L/h"})
    with pytest.raises(ValueError, match=r"parameters\.ka\.unit is 'L/h'; expected one of '1/h'"):
        pk.load_model(path)


def test_unknown_structure_is_refused(tmp_path):
    path = write_model(tmp_path, model={"structure": "three_compartment_magic"})
    with pytest.raises(ValueError, match=r"model\.toml: model\.structure is 'three_compartment_magic'; "
                                         r"expected one of \['one_compartment_oral'"):
        pk.load_model(path)


@pytest.mark.parametrize("value", [0.0, -0.273])
def test_non_positive_value_is_refused(tmp_path, value):
    path = write_model(tmp_path, CL={"value": value})
    with pytest.raises(ValueError, match=rf"model\.toml: parameters\.CL\.value is {value!r}; "
                                         r"expected a finite number > 0"):
        pk.load_model(path)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_value_is_refused(tmp_path, value):
    path = write_model(tmp_path, drop=["ka.derived"], ka={"value": value})
    with pytest.raises(ValueError, match=rf"parameters\.ka\.value is {value!r}; expected a finite number > 0"):
        pk.load_model(path)


def test_negative_omega_is_refused(tmp_path):
    path = write_model(tmp_path, CL={"iiv_sd": -0.334})
    with pytest.raises(ValueError, match=r"model\.toml: parameters\.CL\.iiv_sd is -0\.334; "
                                         r"expected a finite number >= 0"):
        pk.load_model(path)


def test_missing_parameter_is_refused(tmp_path):
    path = write_model(tmp_path, drop=["ka"])
    with pytest.raises(ValueError, match=r"parameters \['ka'\] missing"):
        pk.load_model(path)


def test_unknown_parameter_is_refused(tmp_path):
    path = write_model(tmp_path, Q={"value": 1.0, "unit": "L/h"})
    with pytest.raises(ValueError, match=r"unknown parameters \['Q'\]"):
        pk.load_model(path)


def test_misspelt_field_is_refused(tmp_path):
    path = write_model(tmp_path, CL={"iiv_cv": 0.3})
    with pytest.raises(ValueError, match=r"unknown field parameters\.CL\.iiv_cv"):
        pk.load_model(path)


def test_bad_expression_is_refused(tmp_path):
    path = write_model(tmp_path, drop=["V.value"], V={"derived": "__import__('os')"})
    with pytest.raises(ValueError, match=r"parameters\.V\.derived is \"__import__\('os'\)\""):
        pk.load_model(path)


def test_invalid_toml_is_refused(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[model\nname = ")
    with pytest.raises(ValueError, match=r"broken\.toml: not valid TOML"):
        pk.load_model(path)


def test_unknown_bundled_name_lists_the_models():
    with pytest.raises(ValueError, match=r"model 'baclofen' is not a bundled model; expected one of "
                                         r"\['baclofen_cp_card'"):
        pk.load_model("baclofen")


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.toml' does not exist"):
        pk.load_model(tmp_path / "nope.toml")


# --- covariates, random effects, residual error (issue 3) ----------------------

def test_allometric_power_covariate_scales_the_typical_value(tmp_path):
    path = write_model(tmp_path, CL={"value": 5.46, "unit": "L/h",
                                     "covariates": {"weight_kg": {"type": "power", "reference": 20.0,
                                                                  "exponent": 0.75}}})
    model = pk.load_model(path)
    cohort = pk.Cohort(weight_kg=[10.0, 20.0, 70.0], age_years=[3.0, 6.0, 16.0])
    np.testing.assert_allclose(model.typical_values(cohort)["CL"],
                               5.46 * (np.array([10.0, 20.0, 70.0]) / 20) ** 0.75, rtol=1e-15)


def test_categorical_genotype_covariate_is_optional_and_takes_each_levels_value():
    model = pk.load_model("baclofen_cp_he2014")
    plain = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[6.0, 6.0])
    np.testing.assert_allclose(model.typical_values(plain)["CL"], [0.273 * 20] * 2)  # default off

    class Genotyped:  # any cohort-like object that carries the covariate
        weight_kg = np.array([20.0, 20.0, 30.0])
        abcc9_rs11046232 = np.array(["AT", "TT", "AT"])
    # McLaughlin 2018: CL/F 0.51 (AT) vs 0.25 (TT) L/h/kg
    np.testing.assert_allclose(model.typical_values(Genotyped)["CL"], [0.51 * 20, 0.25 * 20, 0.51 * 30],
                               rtol=1e-14)


def test_a_known_genotype_keeps_only_the_iiv_it_does_not_explain():
    # He 2014's 33.4 % IIV on CL includes the genotype; a child whose genotype is given keeps
    # omega 0.28 (McLaughlin 2018's TT SD/mean, 0.07/0.25), one without it the full 0.334
    model = pk.load_model("baclofen_cp_he2014")
    n = 20_000
    plain = pk.Cohort(weight_kg=np.full(n, 20.0), age_years=np.full(n, 6.0))
    genotyped = plain.with_covariates(abcc9_rs11046232=np.where(np.arange(n) % 2, "AT", "TT"))
    etas = np.random.default_rng(5).normal(size=(n, len(model.etas))) * np.sqrt(np.diag(model.omega))
    i = model.eta_names.index("CL")
    log_ratio = np.log(model.individual_parameters(genotyped, etas)["CL"]
                       / model.typical_values(genotyped)["CL"])
    # the drawn eta scaled by 0.28 / 0.334 exactly (1e-12: exp and log)
    np.testing.assert_allclose(log_ratio, etas[:, i] * 0.28 / 0.334, rtol=1e-12, atol=1e-15)
    # so the SD of log CL within a genotype is 0.28 (4 SE of an SD from 10,000 children: 0.006)
    for level in ("TT", "AT"):
        assert abs(np.std(log_ratio[genotyped.covariates["abcc9_rs11046232"] == level]) - 0.28) < 0.006
    without = np.log(model.individual_parameters(plain, etas)["CL"] / model.typical_values(plain)["CL"])
    np.testing.assert_allclose(without, etas[:, i], rtol=1e-12, atol=1e-15)


def test_unknown_covariate_is_refused(tmp_path):
    path = write_model(tmp_path, CL={"covariates": {"shoe_size": {"type": "power", "reference": 30,
                                                                  "exponent": 1}}})
    with pytest.raises(ValueError, match=r"unknown covariate 'shoe_size' in parameters\.CL\.covariates"):
        pk.load_model(path)


def test_weight_covariate_on_a_per_kg_parameter_is_refused(tmp_path):
    path = write_model(tmp_path, CL={"covariates": {"weight_kg": {"type": "power", "reference": 20,
                                                                  "exponent": 0.75}}})
    with pytest.raises(ValueError, match=r"unit 'L/h/kg' already scales with weight"):
        pk.load_model(path)


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
    np.testing.assert_allclose(np.diag(model.omega), [0.334 ** 2, 0.439 ** 2, 0.837 ** 2], rtol=1e-15)


def test_correlation_outside_minus_one_to_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"correlation between 'CL' and 'V' is 1\.5; expected a number in \[-1, 1\]"):
        pk.load_model(_with_correlation(tmp_path, 1.5))


def test_omega_that_is_not_positive_semi_definite_is_refused(tmp_path):
    # pairwise fine, jointly impossible: corr(CL,V) = corr(V,ka) = 0.9, corr(CL,ka) = -0.9
    from conftest import card_document, write_toml
    text = write_toml(tmp_path / "model.toml", card_document()).read_text()
    for a, b, r in (("CL", "V", 0.9), ("V", "ka", 0.9), ("CL", "ka", -0.9)):
        text += f'\n[[correlations]]\nbetween = ["{a}", "{b}"]\nvalue = {r}\n'
    (tmp_path / "model.toml").write_text(text)
    with pytest.raises(ValueError, match=r"omega \(random effects \['CL', 'V', 'ka'\]\) is not positive "
                                         r"semi-definite: smallest eigenvalue -"):
        pk.load_model(tmp_path / "model.toml")


def test_parameter_in_two_random_effects_is_refused(tmp_path):
    from conftest import card_document, write_toml
    doc = card_document()
    doc["random_effects"] = {"Vss": {"sd": 0.4, "parameters": ["V"]}}
    with pytest.raises(ValueError, match=r"parameters\.V has two random effects \('V' and 'Vss'\)"):
        pk.load_model(write_toml(tmp_path / "model.toml", doc))


def test_transit_model_with_negative_n_is_refused(tmp_path):
    path = write_model(tmp_path, model={"absorption": "transit", "n_transit": -2}, MTT={"value": 0.389, "unit": "h"},
                       drop=["ka"])
    with pytest.raises(ValueError, match=r"model\.toml: model\.n_transit is -2; expected a whole number >= 0"):
        pk.load_model(path)


def test_unknown_residual_error_type_is_refused(tmp_path):
    from conftest import card_document, write_toml
    doc = card_document()
    doc["residual_error"]["type"] = "gaussian"
    with pytest.raises(ValueError, match=r"residual_error\.type is 'gaussian'; expected one of"):
        pk.load_model(write_toml(tmp_path / "model.toml", doc))
