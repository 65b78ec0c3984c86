import math

import numpy as np
import pytest

import pkmodel as pk


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
