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
    weight = np.array([10.0, 40.0])
    etas = np.array([[0.0, 0.0, 0.0], [0.1, -0.2, 0.3]])
    p = card.individual_parameters(weight, etas)
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
