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


# --- fields of the wrong type, and inputs that would cost without bound (issue 12, item 17) --

def _card_text(tmp_path, before: str = "", after: str = "", replace: tuple = ()) -> "Path":
    """The bundled card file with TOML put before it, after it, or in place of a line."""
    text = (PARAMS / "baclofen_cp_card.toml").read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    path = tmp_path / "m.toml"
    path.write_text(before + text + after)
    return path


@pytest.mark.parametrize("where, toml, message", [
    ("after", "\n[random_effects]\nVss = 5\n",
     r"random_effects\.Vss is 5; expected a table \(\[random_effects\.Vss\] with sd and parameters\)"),
    ("before", "random_effects = 5\n", r"random_effects is 5; expected a table"),
    ("before", "correlations = 5\n", r"correlations is 5; expected an array of tables"),
    ("before", "correlations = [5]\n", r"correlations is \[5\]; expected an array of tables"),
    ("after", '\n[[correlations]]\nbetween = [["CL"], "V"]\nvalue = 0.1\n',
     r"correlations\[0\]\.between is \[\['CL'\], 'V'\]; expected two random-effect names"),
    ("after", '\n[random_effects.Vss]\nsd = 0.1\nparameters = [["V"]]\n',
     r"random_effects\.Vss\.parameters is \[\['V'\]\]; expected a list of parameter names"),
    (('structure = "one_compartment_oral"', "structure = []"), "",
     r"model\.structure is \[\]; expected one of \['one_compartment_oral', 'two_compartment_oral'\]"),
    (("iiv_sd = 0.439", "iiv_sd = 0.439\ncovariates = 5"), "",  # V: CL has covariate tables
     r"parameters\.V\.covariates is 5; expected a table \(\[parameters\.V\.covariates\]\)"),
    (('unit = "L/h/kg"', "unit = 5"), "",
     r"parameters\.CL\.unit is 5; expected the unit as text"),
    (('source = "He 2014: apparent', 'source = 5\nnote = "He 2014: apparent'), "",
     r"parameters\.CL\.source is 5; expected text"),
    (('type = "proportional"', "type = []"), "",
     r"residual_error\.type is \[\]; expected one of \['proportional', 'additive'"),
])
def test_a_field_of_the_wrong_type_names_the_file_and_the_field(tmp_path, where, toml, message):
    if isinstance(where, tuple):
        path = _card_text(tmp_path, replace=where)
    else:
        path = _card_text(tmp_path, **{where: toml})
    with pytest.raises(pk.ModelFileError, match=r"m\.toml: " + message):
        pk.load_model(path)


def test_residual_error_that_is_not_a_table_is_refused(tmp_path):
    text = (PARAMS / "baclofen_cp_card.toml").read_text()
    before, _, after = text.partition("[residual_error]")
    path = tmp_path / "m.toml"
    path.write_text("residual_error = 5\n" + before + after[after.find("\n["):])
    with pytest.raises(pk.ModelFileError, match=r"m\.toml: residual_error is 5; expected a table"):
        pk.load_model(path)


@pytest.mark.parametrize("spec, message", [
    ('type = []', r"covariates\.weight_kg\.type is \[\]; expected one of \['power'"),
    ('type = "categorical"\nvalues = 5', r"covariates\.sex\.values is 5; expected a table of levels"),
])
def test_covariate_fields_of_the_wrong_type_are_refused(tmp_path, spec, message):
    covariate = "sex" if "categorical" in spec else "weight_kg"
    path = _card_text(tmp_path, replace=("[parameters.V]", f"[parameters.CL.covariates.{covariate}]\n"
                                         f"{spec}\n\n[parameters.V]"))
    with pytest.raises(pk.ModelFileError, match=message):
        pk.load_model(path)


def test_a_100000_term_derived_value_is_refused_by_its_length_not_a_recursion_error(tmp_path):
    terms = "+".join(["0.0"] * 100_000)
    path = _card_text(tmp_path, replace=('derived = "1 / 0.389"', f'derived = "{terms} + 1 / 0.389"'))
    with pytest.raises(pk.ModelFileError, match=r"parameters\.ka\.derived is 400,011 characters long; "
                                                r"expected a formula of at most 1,000 characters"):
        pk.load_model(path)


def test_a_derived_value_nested_past_the_parser_is_a_model_file_error(tmp_path):
    # within the length bound, 999 unary minuses nest past Python's recursion limit
    path = _card_text(tmp_path, replace=('derived = "1 / 0.389"', 'derived = "' + "-" * 999 + '1"'))
    with pytest.raises(pk.ModelFileError, match=r"parameters\.ka\.derived is '----.*'; expected "
                                                r"arithmetic on numbers"):
        pk.load_model(path)


@pytest.mark.parametrize("nested", ["x = " + "[" * 100_000 + "]" * 100_000 + "\n",
                                    "x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n"])
def test_toml_nested_too_deeply_is_a_model_file_error(tmp_path, nested):
    with pytest.raises(pk.ModelFileError, match=r"m\.toml: not readable as TOML: its arrays or "
                                                r"tables are nested too deeply"):
        pk.load_model(_card_text(tmp_path, before=nested))


def test_a_file_larger_than_a_model_file_is_refused_unread(tmp_path):
    path = _card_text(tmp_path, after="# " + "x" * 1_000_000 + "\n")
    with pytest.raises(pk.ModelFileError, match=r"m\.toml: is 1,00\d,\d{3} bytes; expected a model "
                                                r"file of at most 1,000,000 bytes"):
        pk.load_model(path)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path, card):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (PARAMS / "baclofen_cp_card.toml").read_bytes())
    assert pk.load_model(path).parameters == card.parameters


def test_a_file_that_is_not_utf8_is_refused_naming_the_byte(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes((PARAMS / "baclofen_cp_card.toml").read_bytes().replace(b"He Y,", b"H\xe9 Y,"))
    with pytest.raises(pk.ModelFileError, match=r"latin1\.toml: not UTF-8 text \(byte \d+\); "
                                                r"expected a TOML file in UTF-8"):
        pk.load_model(path)


@pytest.mark.parametrize("second, same", [(-0.5, "0.3 and then -0.5"), (0.3, "the same value")])
def test_a_correlation_given_twice_is_refused_not_last_wins(tmp_path, second, same):
    path = _card_text(tmp_path, after='\n[[correlations]]\nbetween = ["CL", "V"]\nvalue = 0.3\n'
                                      f'\n[[correlations]]\nbetween = ["V", "CL"]\nvalue = {second}\n')
    with pytest.raises(pk.ModelFileError, match=rf"correlations\[0\] and correlations\[1\] both give "
                                                rf"the correlation between 'V' and 'CL' \({same}\); "
                                                r"expected each pair once"):
        pk.load_model(path)


def test_more_transit_compartments_than_the_stated_limit_are_refused(tmp_path):
    # the first reconstruction: depot, n transits, central, peripheral
    he = (PARAMS / "baclofen_cp_he2014_fast_absorption.toml").read_text()
    path = tmp_path / "m.toml"
    path.write_text(he.replace("n_transit = 3", "n_transit = 1000"))
    with pytest.raises(pk.ModelFileError, match=r"m\.toml: model\.n_transit is 1000; expected at most "
                                                r"50 transit compartments"):
        pk.load_model(path)
    path.write_text(he.replace("n_transit = 3", "n_transit = 50"))
    assert len(pk.load_model(path).structure.compartments) == 1 + 50 + 2   # the limit itself


# --- validity ranges (issue 12, item 18) --------------------------------------------------

def test_bundled_models_state_their_validity_ranges():
    for name in ("baclofen_cp_card", "baclofen_cp_he2014"):
        ranges = {r.quantity: r for r in pk.load_model(name).validity}
        assert set(ranges) == {"age_years", "weight_kg", "weight_for_age_z", "dose_mg_per_kg"}, name
        # He 2014 enrolled children 2-17 years of age; the others are assumed, with their reason
        assert (ranges["age_years"].low, ranges["age_years"].high) == (2.0, 18.0)   # 2-17 completed y
        assert "He 2014" in ranges["age_years"].source
        assert (ranges["weight_for_age_z"].low, ranges["weight_for_age_z"].high) == (-6.0, 5.0)
        assert all(r.source for r in ranges.values())


@pytest.mark.parametrize("toml, message", [
    ("[validity.age_years]\nrange = [17, 2]\n",
     r"validity\.age_years\.range is \[17, 2\]; expected \[low, high\], finite numbers with low <= high"),
    ("[validity.age_years]\nrange = 2\n", r"validity\.age_years\.range is 2; expected \[low, high\]"),
    ("[validity.age_years]\nrange = [2, \"17\"]\n", r"validity\.age_years\.range is \[2, '17'\]"),
    ("[validity.age_months]\nrange = [24, 204]\n",
     r"validity has 'age_months'; expected some of \['age_years', 'weight_kg'"),
    ("[validity.age_years]\nrange = [2, 17]\nunit = \"y\"\n",
     r"unknown field validity\.age_years\.unit; expected one of \['assumed', 'note', 'range'"),
    ("[validity]\nage_years = [2, 17]\n",
     r"validity\.age_years is \[2, 17\]; expected a table \(\[validity\.age_years\] with range"),
])
def test_bad_validity_ranges_are_refused(tmp_path, toml, message):
    text = (PARAMS / "baclofen_cp_card.toml").read_text()
    text = text[:text.index("[validity")] if "[validity" in text else text
    path = tmp_path / "m.toml"
    path.write_text(text + "\n" + toml)
    with pytest.raises(pk.ModelFileError, match=r"m\.toml: " + message):
        pk.load_model(path)
