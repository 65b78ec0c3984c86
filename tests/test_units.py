"""Units at the edge: concentrations shown in ng/mL, doses given with their unit.

Doses written with a unit of the wrong kind are refused; those cases are rows of the input
audit (tests/test_input_audit.py), one test each.
"""

import numpy as np
import pytest

import pkmodel as pk
from pkmodel.units import as_dose, concentration_in
from conftest import typical_cohort


@pytest.mark.parametrize(
    "text, unit, expected",
    [
        # 1 g = 1000 mg = 10^6 ug = 10^9 ng; 1 day = 24 h
        ("2.5 mg", "mg", 2.5),
        ("2500 ug", "mg", 2.5),
        ("2500 µg", "mg", 2.5),
        ("2500 mcg", "mg", 2.5),
        ("0.0025 g", "mg", 2.5),
        ("2.5e6 ng", "mg", 2.5),
        ("2.5mg", "mg", 2.5),
        ("20 mg/dose", "mg", 20.0),
        ("2 mg/kg/day", "mg/kg/day", 2.0),
        ("2000 ug/kg/d", "mg/kg/day", 2.0),
        ("0.125 mg/kg/h", "mg/kg/day", 3.0),
        ("0.5 mg/kg", "mg/kg", 0.5),
        ("0.5 mg/kg/dose", "mg/kg", 0.5),
        ("80 mg/day", "mg/day", 80.0),
        ("0.08 g/day", "mg/day", 80.0),
    ],
)
def test_a_dose_with_its_unit_is_converted(text, unit, expected):
    assert as_dose(text, unit, "dose") == expected


def test_conversion_is_exact_to_the_nearest_double():
    # 300 ug is 0.3 mg: the double nearest 3/10, not 300 * 0.001 = 0.30000000000000004
    assert as_dose("300 ug", "mg", "dose") == 0.3
    assert as_dose("1 mg/kg/h", "mg/kg/day", "dose") == 24.0


def test_a_number_is_taken_in_the_documented_unit():
    assert as_dose(2.5, "mg", "dose") == 2.5
    assert as_dose(None, "mg", "dose") is None  # optional caps stay absent
    assert as_dose({(2, 12): "60 mg/day", (12, 18): 80}, "mg/day", "cap") == {(2, 12): 60.0, (12, 18): 80}


def test_weight_based_regimen_from_text_equals_the_one_from_numbers():
    cohort = typical_cohort(8, 27, 70)
    text = pk.Regimen.weight_based(
        "2 mg/kg/day", 3, 2, max_mg_per_day="0.06 g/day", max_mg_per_dose="20000 ug"
    )
    numbers = pk.Regimen.weight_based(2.0, 3, 2, max_mg_per_day=60, max_mg_per_dose=20)
    np.testing.assert_array_equal(text.doses(cohort).amount_mg, numbers.doses(cohort).amount_mg)
    assert text.label == numbers.label == "2 mg/kg/day TID for 2 days, max 20 mg/dose, max 60 mg/day"
    # 8 kg: 16/3 mg per dose; 27 kg: 18 mg; 70 kg: 140/3 capped at 20 (dose and day caps agree)
    np.testing.assert_allclose(text.doses(cohort).amount_mg[:, 0], [16 / 3, 18.0, 20.0], rtol=1e-15)


def test_fixed_and_titrated_regimens_take_text():
    assert pk.Regimen.fixed("2500 ug", every_h=8, n_doses=3).mg.tolist() == [2.5] * 3
    text = pk.Regimen.titration(
        "2.5 mg", 3, "2500 ug", 7, "2 mg/kg/day", 14, max_mg_per_dose="20 mg", max_mg_per_day="80 mg/day"
    )
    numbers = pk.Regimen.titration(2.5, 3, 2.5, 7, 2.0, 14, max_mg_per_dose=20, max_mg_per_day=80)
    cohort = typical_cohort(15, 40)
    np.testing.assert_array_equal(text.doses(cohort).amount_mg, numbers.doses(cohort).amount_mg)


def test_concentrations_shown_in_ng_per_ml():
    # 1 mg/L = 1 ug/mL = 1000 ng/mL
    np.testing.assert_array_equal(concentration_in([0.3053, 1.0], "ng/mL"), [305.3, 1000.0])
