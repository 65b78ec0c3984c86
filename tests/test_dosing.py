import numpy as np
import pytest

import pkmodel as pk
from conftest import typical_cohort


def test_weight_based_tid_times_and_amounts_follow_the_formula():
    # per-dose mg = min(w * 2/3, 20, 80/3): 10 kg 6.67, 20 kg 13.33, 60 kg capped at 20
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14,
                                  max_mg_per_day=80, max_mg_per_dose=20)
    doses = reg.doses(typical_cohort(10, 20, 60))
    np.testing.assert_array_equal(doses.time_h, np.arange(42) * 8.0)
    np.testing.assert_allclose(doses.amount_mg[:, 0], [20 / 3, 40 / 3, 20.0], rtol=1e-15)
    np.testing.assert_allclose(doses.amount_mg.sum(axis=1) / 14, [20 / 3 * 3, 40.0, 60.0], rtol=1e-14)


def test_daily_cap_binds_before_the_dose_cap_on_qid():
    # QID, 50 kg: 25 mg/dose wanted; per-dose cap 30 vs 100/4 = 25 mg/day cap; 60 mg/day cap -> 15
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=4, days=1,
                                  max_mg_per_day=60, max_mg_per_dose=30)
    np.testing.assert_allclose(reg.doses(typical_cohort(50)).amount_mg, [[15.0] * 4])


def test_start_time_shifts_every_dose():
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=4, days=2, start_h=7.5)
    np.testing.assert_array_equal(reg.time_h, 7.5 + 6.0 * np.arange(8))


def test_fixed_regimen_gives_everyone_the_same_amount():
    reg = pk.Regimen.fixed(mg=2.5, every_h=8, n_doses=3)
    doses = reg.doses(typical_cohort(10, 45))
    np.testing.assert_array_equal(doses.amount_mg, np.full((2, 3), 2.5))
    np.testing.assert_array_equal(doses.time_h, [0.0, 8.0, 16.0])


def test_events_are_a_nonmem_dose_table_sorted_by_id_and_time():
    cohort = pk.Cohort(weight_kg=[10, 30], age_years=[3, 9], ids=[11, 12])
    ev = pk.Regimen.weight_based(mg_per_kg_day=3.0, doses_per_day=3, days=1).events(cohort)
    assert list(ev.columns) == ["ID", "TIME", "AMT", "EVID", "CMT"]
    assert ev["ID"].tolist() == [11, 11, 11, 12, 12, 12]
    assert ev["TIME"].tolist() == [0.0, 8.0, 16.0] * 2
    np.testing.assert_allclose(ev["AMT"], [10.0] * 3 + [30.0] * 3, rtol=1e-15)
    assert set(ev["EVID"]) == {1} and set(ev["CMT"]) == {1}


def test_merged_doses_add_at_equal_times():
    doses = pk.Doses(time_h=np.array([0.0, 4.0, 4.0, 9.0]),
                     amount_mg=np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 0.0]]))
    times, amounts = doses.merged()
    np.testing.assert_array_equal(times, [0.0, 4.0, 9.0])
    np.testing.assert_array_equal(amounts, [[1.0, 5.0, 4.0], [0.0, 2.0, 0.0]])


# --- bad regimens ------------------------------------------------------------

@pytest.mark.parametrize("dose", [0.0, -2.0])
def test_non_positive_weight_based_dose_is_refused(dose):
    with pytest.raises(ValueError, match=rf"Regimen\.weight_based: mg_per_kg_day is {dose!r}; "
                                         r"expected a finite number > 0"):
        pk.Regimen.weight_based(mg_per_kg_day=dose, doses_per_day=3, days=14)


def test_non_positive_fixed_dose_is_refused():
    with pytest.raises(ValueError, match=r"Regimen\.fixed: mg is -2\.5; expected a finite number > 0"):
        pk.Regimen.fixed(mg=-2.5, every_h=8, n_doses=3)


@pytest.mark.parametrize("every", [0.0, -8.0])
def test_non_positive_interval_is_refused(every):
    with pytest.raises(ValueError, match=rf"Regimen\.fixed: every_h is {every!r}; expected a finite number > 0"):
        pk.Regimen.fixed(mg=2.5, every_h=every, n_doses=3)


def test_zero_doses_per_day_is_refused():
    with pytest.raises(ValueError, match=r"doses_per_day is 0; expected a whole number >= 1"):
        pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=0, days=14)


def test_days_that_split_a_dosing_interval_are_refused():
    with pytest.raises(ValueError, match=r"days is 1\.5; expected a whole number of dosing intervals"):
        pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=1.5)


def test_non_positive_cap_is_refused():
    with pytest.raises(ValueError, match=r"max_mg_per_dose is 0; expected a finite number > 0"):
        pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14, max_mg_per_dose=0)


def test_decreasing_dose_times_are_refused():
    with pytest.raises(ValueError, match=r"Regimen\.time_h\[2\] is 4\.0; expected non-decreasing dose times"):
        pk.Regimen(time_h=[0.0, 8.0, 4.0], mg=1.0, mg_per_kg=np.inf, max_mg=np.inf)
