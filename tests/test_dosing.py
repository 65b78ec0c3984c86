import dataclasses

import numpy as np
import pytest

import pkmodel as pk
from conftest import typical_cohort

# a titration like He 2014's (its steps are not published): 2.5 mg TID, +2.5 mg per dose every
# week, to 2 mg/kg/day, 20 mg/dose cap
TRIAL = dict(
    start_mg=2.5,
    doses_per_day=3,
    step_mg=2.5,
    step_every_days=7,
    target_mg_per_kg_day=2.0,
    days=84,
    max_mg_per_dose=20,
)
# common pediatric references: 40 mg/day for ages 2-7, 60 mg/day from 8 years
AGE_CAPS = {(2, 8): 40, (8, 18): 60}


def test_weight_based_tid_times_and_amounts_follow_the_formula():
    # per-dose mg = min(w * 2/3, 20, 80/3): 10 kg 6.67, 20 kg 13.33, 60 kg capped at 20
    reg = pk.Regimen.weight_based(
        mg_per_kg_day=2.0, doses_per_day=3, days=14, max_mg_per_day=80, max_mg_per_dose=20
    )
    doses = reg.doses(typical_cohort(10, 20, 60))
    np.testing.assert_array_equal(doses.time_h, np.arange(42) * 8.0)
    np.testing.assert_allclose(doses.amount_mg[:, 0], [20 / 3, 40 / 3, 20.0], rtol=1e-15)
    np.testing.assert_allclose(doses.amount_mg.sum(axis=1) / 14, [20 / 3 * 3, 40.0, 60.0], rtol=1e-14)


def test_daily_cap_binds_before_the_dose_cap_on_qid():
    # QID, 50 kg: 25 mg/dose wanted; per-dose cap 30 vs 100/4 = 25 mg/day cap; 60 mg/day cap -> 15
    reg = pk.Regimen.weight_based(
        mg_per_kg_day=2.0, doses_per_day=4, days=1, max_mg_per_day=60, max_mg_per_dose=30
    )
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


def test_doses_at_one_time_into_one_compartment_are_one_event_and_add():
    from pkmodel.engines import common

    doses = pk.Doses(
        time_h=np.array([0.0, 4.0, 4.0, 9.0]),
        amount_mg=np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 0.0]]),
    )
    line = common.shared_timeline(common.Epochs.constant({}), common.Inputs.from_doses(doses))
    np.testing.assert_array_equal(line.times_h, [0.0, 4.0, 9.0])
    np.testing.assert_array_equal(line.amounts_mg, [[1.0, 5.0, 4.0], [0.0, 2.0, 0.0]])


def test_steady_state_dose_needs_an_interval():
    with pytest.raises(ValueError, match=r"Doses\.ii_h\[1\] is 0\.0; expected an interval > 0 h"):
        pk.Doses(time_h=np.array([0.0, 4.0]), amount_mg=np.ones((1, 2)), ss=[0, 1], ii_h=[0.0, 0.0])


# --- caps and rounding at steady state -----------------------------------------


def test_2_mg_kg_day_tid_rounded_to_tablets_gives_20_40_60_mg_day_within_a_step():
    # per dose 2w/3 = 6.67, 13.33, 20 mg; nearest 2.5 mg: 7.5, 12.5, 20 -> 22.5, 37.5, 60 mg/day
    reg = pk.Regimen.weight_based(2.0, 3, days=14, max_mg_per_dose=20, formulation="tablet")
    day, mg = reg.daily_mg(typical_cohort(10, 20, 30))
    np.testing.assert_array_equal(mg[:, -1], [22.5, 37.5, 60.0])
    assert np.all(np.abs(mg - [[20.0], [40.0], [60.0]]) <= 2.5)  # one rounding step


def test_titration_settles_on_the_same_steady_state_doses():
    described = pk.Regimen.titration(**TRIAL, formulation="tablet").describe(typical_cohort(10, 20, 30))
    np.testing.assert_array_equal(described["final_mg_per_day"], [22.5, 37.5, 60.0])
    assert not described["cap_bound"].any() and described["day_target_reached"].notna().all()


def test_a_50_kg_child_is_held_at_60_mg_day_tid_and_80_mg_day_qid_by_the_dose_cap():
    # wanted 100 mg/day: 33.3 mg TID or 25 mg QID, both above the 20 mg/dose cap
    child = typical_cohort(50)
    for per_day, held in ((3, 60.0), (4, 80.0)):
        reg = pk.Regimen.weight_based(2.0, per_day, days=7, max_mg_per_dose=20, formulation="tablet")
        assert reg.daily_mg(child)[1][0, -1] == held
        titrated = pk.Regimen.titration(**{**TRIAL, "doses_per_day": per_day}).describe(child)
        assert titrated["final_mg_per_day"][0] == held and titrated["cap_bound"][0]


def test_age_bands_cap_the_daily_dose_by_age():
    # 30 kg wants 60 mg/day: at 6 y the 2-8 y band holds it at 40; at 10 y it gets 60
    reg = pk.Regimen.weight_based(2.0, 3, days=2, max_mg_per_day=AGE_CAPS)
    _, mg = reg.daily_mg(pk.Cohort(weight_kg=[30, 30], age_years=[6, 10]))
    np.testing.assert_allclose(mg[:, -1], [40.0, 60.0], rtol=1e-15)


# --- titration ---------------------------------------------------------------


def test_trial_titration_brings_a_20_kg_child_to_target_in_week_6():
    # target 2 mg/kg/day x 20 kg / 3 = 13.33 mg/dose; the dose on day j is 2.5 + 2.5 (j // 7);
    # it first reaches 13.33 when j // 7 = ceil((13.33 - 2.5) / 2.5) = 5: day 35, week 6
    reg = pk.Regimen.titration(**TRIAL)
    child = typical_cohort(20)
    amount = reg.doses(child).amount_mg[0]
    np.testing.assert_allclose(amount[reg.time_h // 24 == 34], 12.5, rtol=1e-15)
    np.testing.assert_allclose(amount[reg.time_h // 24 == 35], 40 / 3, rtol=1e-15)
    row = reg.describe(child).iloc[0]
    assert row["day_target_reached"] == 35
    np.testing.assert_allclose(
        [row["final_mg_per_dose"], row["final_mg_per_kg_day"]], [40 / 3, 2.0], rtol=1e-15
    )


def test_trial_titration_never_exceeds_a_cap_over_500_children():
    rng = np.random.default_rng(7)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 500), age_years=rng.uniform(2, 17.9, 500))
    reg = pk.Regimen.titration(**TRIAL, max_mg_per_day=AGE_CAPS, formulation="tablet")
    amount = reg.doses(cohort).amount_mg
    assert amount.max() <= 20.0
    daily = amount.reshape(500, 84, 3).sum(axis=2)  # 3 doses a day, 84 days
    age_cap = np.where(cohort.age_years < 8, 40.0, 60.0)
    assert np.all(daily <= age_cap[:, None])
    # the caps bind: both age groups have children held at their largest deliverable dose under
    # the cap: 2-7 y, 40/3 = 13.3 mg/dose -> 12.5 mg (37.5 mg/day); 8+ y, 20 mg (60 mg/day)
    held = daily[:, -1] == np.where(cohort.age_years < 8, 37.5, 60.0)
    assert held[cohort.age_years < 8].sum() > 50 and held[cohort.age_years >= 8].sum() > 50


def test_he_2014_schedule_moves_heavy_children_to_qid_up_to_80_mg_day():
    # TID to 20 mg (60 mg/day, day 49); next week the prescribed TID amount, 3 x 22.5, is above 60
    # mg/day: children whose target 2w is above 60 (35 and 50 kg) go QID from day 56 at the same
    # 60 mg/day (15 mg QID), then +2.5 mg/dose weekly: 35 kg reaches its 70 mg/day (17.5 mg QID)
    # on day 63; 50 kg is held at 80 mg/day (20 mg/dose) from day 70, its 100 never reached.
    # 30 kg wants 60 mg/day: stays TID.
    reg = pk.Regimen.titration(**TRIAL, max_mg_per_day=80, switch_to_qid_above_mg_per_day=60)
    cohort = typical_cohort(30, 35, 50)
    described = reg.describe(cohort)
    assert described["final_doses_per_day"].tolist() == [3, 4, 4]
    np.testing.assert_allclose(described["final_mg_per_day"], [60.0, 70.0, 80.0], rtol=1e-15)
    np.testing.assert_array_equal(described["day_target_reached"], [49, 63, np.nan])
    np.testing.assert_array_equal(described["day_cap_reached"], [np.nan, np.nan, 70])
    assert described["cap_bound"].tolist() == [False, False, True]
    day, mg = reg.daily_mg(cohort)
    assert np.all(mg <= 80.0) and reg.doses(cohort).amount_mg.max() <= 20.0
    np.testing.assert_allclose(mg[:, 55:57], 60.0, rtol=1e-15)  # the switch keeps the daily dose


def test_a_45_kg_child_switching_to_qid_follows_the_hand_computed_schedule():
    # issue 12 item 10: it went from 60 to 80 mg/day in one week (20 mg TID -> 20 mg QID).
    # By hand: week k (days 7k..7k+6) TID at 2.5 (k + 1) mg/dose -> 7.5, 15, ..., 60 mg/day in
    # week 7 (20 mg TID). Week 8: TID would be 3 x 22.5 = 67.5 > 60 and the target 2 x 45 = 90 is
    # above 60: QID at 60 / 4 = 15 mg (60 mg/day), then +2.5 mg/dose: 17.5 (70), 20 (80, the dose
    # cap), and 22.5 is held at 20 (80 mg/day; the 90 mg/day target is never reached).
    reg = pk.Regimen.titration(**TRIAL, max_mg_per_day=80, switch_to_qid_above_mg_per_day=60)
    child = typical_cohort(45)
    weekly = [7.5 * (k + 1) for k in range(8)] + [60.0, 70.0, 80.0, 80.0]
    day, mg = reg.daily_mg(child)
    np.testing.assert_array_equal(day, np.arange(84))
    np.testing.assert_allclose(mg[0], np.repeat(weekly, 7), rtol=1e-15)
    per_dose = reg.doses(child).amount_mg[0]
    given = per_dose > 0  # the TID doses of lighter children stay in the schedule, at 0 for this one
    from_week_8 = given & (reg.time_h >= 56 * 24)
    np.testing.assert_array_equal(per_dose[from_week_8], np.repeat([15, 17.5, 20, 20], 28))
    np.testing.assert_array_equal(np.diff(reg.time_h[from_week_8]), 6.0)  # every 6 h
    assert np.diff(weekly).max() == 10.0  # never more than +2.5 mg/dose x 4 doses in a week
    row = reg.describe(child).iloc[0]
    assert np.isnan(row["day_target_reached"]) and row["day_cap_reached"] == 70 and row["cap_bound"]


def test_the_switch_keeps_the_daily_dose_a_lower_dose_cap_allows():
    # max 15 mg/dose: TID is held at 45 mg/day from day 35 (15 mg), the prescription climbs on; at
    # the switch (week 8) QID starts at 45 / 4 = 11.25 mg (45 mg/day), then 13.75, 15 (the cap)
    reg = pk.Regimen.titration(**{**TRIAL, "max_mg_per_dose": 15}, switch_to_qid_above_mg_per_day=60)
    _, mg = reg.daily_mg(typical_cohort(45))
    np.testing.assert_allclose(mg[0, ::7], [7.5, 15, 22.5, 30, 37.5, 45, 45, 45, 45, 55, 60, 60], rtol=1e-15)


def test_a_child_still_climbing_at_the_end_has_not_reached_its_target():
    # 20 days: the last prescribed dose is 2.5 + 2.5 x (19 // 7) = 7.5 mg. A 20 kg child's
    # target is 13.33 mg: not reached. An 8 kg child's, 5.33 mg, is reached on day 14 (7.5 > 5.33).
    described = pk.Regimen.titration(**{**TRIAL, "days": 20}).describe(typical_cohort(8, 20))
    assert described["day_target_reached"][0] == 14 and np.isnan(described["day_target_reached"][1])
    assert described["final_mg_per_dose"][1] == 7.5


# --- clock times -------------------------------------------------------------


def test_clock_times_repeat_daily_and_titration_steps_at_the_day_boundary():
    reg = pk.Regimen.titration(**{**TRIAL, "days": 14}, times_of_day=("08:00", "14:00", "20:30"))
    np.testing.assert_array_equal(reg.time_h[:6], [8.0, 14.0, 20.5, 32.0, 38.0, 44.5])
    amount = reg.doses(typical_cohort(30)).amount_mg[0]
    np.testing.assert_array_equal(amount[reg.time_h < 168], 2.5)  # days 0-6
    np.testing.assert_array_equal(amount[reg.time_h >= 168], 5.0)  # day 7 starts at 168 h


# --- adherence ---------------------------------------------------------------


def test_a_tenth_of_100000_scheduled_doses_are_missed():
    cohort = pk.Cohort(weight_kg=np.full(1000, 20.0), age_years=np.full(1000, 8.0))
    reg = pk.Regimen.weight_based(2.0, 4, days=25, missed_dose_probability=0.1)  # 1000 x 100 doses
    missed = reg.doses(cohort, seed=4).amount_mg == 0
    # binomial SD of the fraction: sqrt(0.1 x 0.9 / 1e5) = 0.095 pp; 0.5 pp is 5 SD
    assert missed.size == 100_000 and abs(missed.mean() - 0.1) < 0.005


def test_probability_0_reproduces_the_plain_regimen_exactly(card):
    cohort = typical_cohort(10, 25, 40)
    plain = pk.Regimen.weight_based(2.0, 3, days=3)
    zero = pk.Regimen.weight_based(2.0, 3, days=3, missed_dose_probability=0.0)
    np.testing.assert_array_equal(zero.doses(cohort, seed=1).amount_mg, plain.doses(cohort).amount_mg)
    times = np.arange(0, 72.5, 0.5)
    np.testing.assert_array_equal(
        pk.simulate(card, cohort, zero, times, seed=2).concentrations,
        pk.simulate(card, cohort, plain, times, seed=2).concentrations,
    )


def test_missed_doses_come_from_the_simulation_seed(card):
    cohort = typical_cohort(*np.linspace(10, 60, 20))
    reg = pk.Regimen.weight_based(2.0, 3, days=7, missed_dose_probability=0.3)
    times = np.arange(0, 168.5, 1.0)
    a = pk.simulate(card, cohort, reg, times, variability=False, seed=5)
    b = pk.simulate(card, cohort, reg, times, variability=False, seed=5)
    c = pk.simulate(card, cohort, reg, times, variability=False, seed=6)
    assert a.seed == 5
    np.testing.assert_array_equal(a.doses.amount_mg, reg.doses(cohort, seed=5).amount_mg)
    np.testing.assert_array_equal(a.concentrations, b.concentrations)
    assert not np.array_equal(a.doses.amount_mg, c.doses.amount_mg)


def test_missed_doses_do_not_depend_on_how_the_cohort_is_cut():
    rng = np.random.default_rng(1)
    w, age = rng.uniform(10, 60, 5000), rng.uniform(2, 17, 5000)
    reg = pk.Regimen.weight_based(2.0, 3, days=2, missed_dose_probability=0.2)
    whole = reg.doses(pk.Cohort(weight_kg=w, age_years=age), seed=9).amount_mg
    # cut at 3000: across the 4096-subject block boundary of the draws
    head = reg.doses(pk.Cohort(weight_kg=w[:3000], age_years=age[:3000]), seed=9).amount_mg
    tail = reg.doses(pk.Cohort(weight_kg=w[3000:], age_years=age[3000:]), seed=9, first=3000).amount_mg
    np.testing.assert_array_equal(np.vstack([head, tail]), whole)


def test_events_record_only_the_doses_given():
    cohort = typical_cohort(20, 30)
    reg = pk.Regimen.weight_based(2.0, 3, days=10, missed_dose_probability=0.25)
    amount = reg.doses(cohort, seed=3).amount_mg
    ev = reg.events(cohort, seed=3)
    assert len(ev) == np.count_nonzero(amount) < amount.size
    np.testing.assert_array_equal(ev["AMT"], amount[amount > 0])


def test_daily_totals_are_as_prescribed_without_a_seed_and_as_given_with_one():
    cohort = typical_cohort(20, 35)
    reg = pk.Regimen.weight_based(2.0, 3, days=4, missed_dose_probability=0.3)
    day, prescribed = reg.daily_mg(cohort)
    np.testing.assert_array_equal(day, [0, 1, 2, 3])
    np.testing.assert_allclose(prescribed, [[40.0] * 4, [70.0] * 4], rtol=1e-15)  # 2 mg/kg/day
    _, given = reg.daily_mg(cohort, seed=5)
    np.testing.assert_allclose(
        given, reg.doses(cohort, seed=5).amount_mg.reshape(2, 4, 3).sum(axis=2), rtol=1e-15
    )
    assert np.all(given <= prescribed + 1e-12) and given.sum() < prescribed.sum()


# --- bad regimens ------------------------------------------------------------


@pytest.mark.parametrize("dose", [0.0, -2.0])
def test_non_positive_weight_based_dose_is_refused(dose):
    with pytest.raises(
        ValueError,
        match=rf"Regimen\.weight_based: mg_per_kg_day is {dose!r}; "
        r"expected a finite number > 0",
    ):
        pk.Regimen.weight_based(mg_per_kg_day=dose, doses_per_day=3, days=14)


def test_non_positive_fixed_dose_is_refused():
    with pytest.raises(ValueError, match=r"Regimen\.fixed: mg is -2\.5; expected a finite number > 0"):
        pk.Regimen.fixed(mg=-2.5, every_h=8, n_doses=3)


@pytest.mark.parametrize("every", [0.0, -8.0])
def test_non_positive_interval_is_refused(every):
    with pytest.raises(
        ValueError, match=rf"Regimen\.fixed: every_h is {every!r}; expected a finite number > 0"
    ):
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


def test_age_outside_every_band_is_refused():
    reg = pk.Regimen.weight_based(2.0, 3, days=1, max_mg_per_day=AGE_CAPS)
    with pytest.raises(
        ValueError,
        match=r"child ID 2 is 1\.5 years old, in no age band of max_mg_per_day; "
        r"expected ages in \[2, 8\), \[8, 18\) y",
    ):
        reg.doses(pk.Cohort(weight_kg=[20, 10], age_years=[5, 1.5]))


def test_overlapping_age_bands_are_refused():
    with pytest.raises(ValueError, match=r"age bands \(2, 8\) and \(7, 18\) overlap; expected disjoint"):
        pk.Regimen.weight_based(2.0, 3, days=1, max_mg_per_day={(2, 8): 40, (7, 18): 60})


def test_age_band_that_is_not_a_range_is_refused():
    with pytest.raises(
        ValueError,
        match=r"age band \(8, 2\) is not an age range; expected \(from_years, "
        r"to_years\) with 0 <= from < to",
    ):
        pk.Regimen.weight_based(2.0, 3, days=1, max_mg_per_day={(8, 2): 40})


def test_age_bands_without_doses_per_day_are_refused():
    with pytest.raises(ValueError, match=r"max_mg_per_day_by_age needs doses_per_day"):
        pk.Regimen(time_h=[0.0], mg=5.0, mg_per_kg=np.inf, max_mg=np.inf, max_mg_per_day_by_age=AGE_CAPS)


@pytest.mark.parametrize(
    "times, message",
    [
        (("08:00", "14:00"), r"times_of_day has 2 times; expected 3, one per dose of the day"),
        (
            ("08:00", "14:00", "24:00"),
            r"times_of_day\[2\] is '24:00'; expected a clock time 'HH:MM' from "
            r"'00:00' to '23:59'",
        ),
        (("08:00", "8:30", "20:00"), r"times_of_day\[1\] is '8:30'; expected a clock time 'HH:MM'"),
        (
            ("08:00", "20:00", "14:00"),
            r"times_of_day\[2\] is '14:00'; expected a time later in the day "
            r"than '20:00'",
        ),
        ((8, 14, 20), r"times_of_day is \(8, 14, 20\); expected clock times like"),
    ],
)
def test_bad_clock_times_are_refused(times, message):
    with pytest.raises(ValueError, match=message):
        pk.Regimen.weight_based(2.0, 3, days=1, times_of_day=times)


def test_missed_dose_probability_above_1_is_refused():
    with pytest.raises(
        ValueError, match=r"missed_dose_probability is 1\.5; expected a probability from 0 to 1"
    ):
        pk.Regimen.weight_based(2.0, 3, days=1, missed_dose_probability=1.5)


def test_missed_doses_without_a_seed_are_refused():
    reg = pk.Regimen.weight_based(2.0, 3, days=1, missed_dose_probability=0.1)
    with pytest.raises(
        ValueError, match=r"missed_dose_probability is 0\.1, timing_sd_h is 0\.0; expected a seed"
    ):
        reg.doses(typical_cohort(20))


def test_non_positive_titration_step_is_refused():
    with pytest.raises(ValueError, match=r"Regimen\.titration: step_mg is 0; expected a finite number > 0"):
        pk.Regimen.titration(**{**TRIAL, "step_mg": 0})


def test_fractional_step_interval_is_refused():
    with pytest.raises(ValueError, match=r"step_every_days is 3\.5; expected a whole number >= 1"):
        pk.Regimen.titration(**{**TRIAL, "step_every_days": 3.5})


def test_switch_to_qid_from_qid_is_refused():
    with pytest.raises(
        ValueError,
        match=r"switch_to_qid_above_mg_per_day needs doses_per_day < 4; "
        r"doses_per_day is 4",
    ):
        pk.Regimen.titration(**{**TRIAL, "doses_per_day": 4}, switch_to_qid_above_mg_per_day=60)


def test_switch_with_clock_times_needs_qid_clock_times():
    with pytest.raises(ValueError, match=r"qid_times_of_day is None; expected 4 clock times"):
        pk.Regimen.titration(
            **TRIAL, switch_to_qid_above_mg_per_day=60, times_of_day=("08:00", "14:00", "20:00")
        )


def test_qid_clock_times_without_a_switch_are_refused():
    with pytest.raises(
        ValueError,
        match=r"qid_times_of_day is \('07:00', '12:00', '17:00', '22:00'\) "
        r"without switch_to_qid_above_mg_per_day; expected None",
    ):
        pk.Regimen.titration(**TRIAL, qid_times_of_day=("07:00", "12:00", "17:00", "22:00"))


def test_weight_range_that_is_empty_is_refused():
    with pytest.raises(
        ValueError,
        match=r"Regimen\.max_weight_kg\[0\] is 10\.0; expected a weight above "
        r"min_weight_kg",
    ):
        pk.Regimen(time_h=[0.0], mg=5.0, mg_per_kg=np.inf, max_mg=np.inf, min_weight_kg=20, max_weight_kg=10)


def test_start_after_the_first_dose_is_refused():
    with pytest.raises(ValueError, match=r"start_h is 5\.0; expected a finite time <= the first dose, 4 h"):
        pk.Regimen(time_h=[4.0], mg=5.0, mg_per_kg=np.inf, max_mg=np.inf, start_h=5.0)


def test_replace_checks_again():
    reg = pk.Regimen.weight_based(2.0, 3, days=1)
    with pytest.raises(ValueError, match=r"missed_dose_probability is -0\.1"):
        dataclasses.replace(reg, missed_dose_probability=-0.1)


# --- timing jitter ------------------------------------------------------------------


def test_timing_jitter_has_the_requested_sd_and_zero_is_the_plain_regimen():
    cohort = pk.Cohort(weight_kg=np.full(2500, 20.0), age_years=np.full(2500, 6.0))
    jittered = pk.Regimen.weight_based(2.0, 4, 10, timing_sd_h=0.5).doses(cohort, seed=1)
    offsets = jittered.offset_h
    assert offsets.shape == (2500, 40)
    # 100,000 draws: SE of the SD 0.5/sqrt(2e5) = 0.0011; of the mean 0.0016
    np.testing.assert_allclose(np.std(offsets), 0.5, atol=0.005)
    assert abs(np.mean(offsets)) < 0.008
    plain = pk.Regimen.weight_based(2.0, 4, 10).doses(cohort)
    still = pk.Regimen.weight_based(2.0, 4, 10, timing_sd_h=0.0).doses(cohort, seed=1)
    assert still.offset_h is None and np.array_equal(still.amount_mg, plain.amount_mg)


def test_jittered_doses_are_simulated_at_the_times_taken(card):
    cohort = pk.Cohort(weight_kg=[12.0, 30.0, 45.0], age_years=[4.0, 9.0, 14.0])
    reg = pk.Regimen.weight_based(2.0, 3, 2, timing_sd_h=0.75, start_h=2.0)
    times = np.arange(0, 48.25, 0.25)
    res = pk.simulate(card, cohort, reg, times, variability=False, seed=7)
    taken = res.doses.actual_time_h
    assert taken.shape == (3, 6) and np.all(np.abs(taken - reg.time_h) > 0)
    # independent check: superposition of the textbook curve at each child's own times
    p = res.individual
    k, ka, v = p["CL"] / p["V"], p["ka"], p["V"]
    dt = times[None, None, :] - taken[:, :, None]
    after = dt > 0
    dt = np.where(after, dt, 0.0)
    curve = (
        res.doses.amount_mg[:, :, None]
        * (ka / (v * (ka - k)))[:, None, None]
        * (np.exp(-k[:, None, None] * dt) - np.exp(-ka[:, None, None] * dt))
    )
    expected = np.where(after, curve, 0.0).sum(axis=1)
    from conftest import relative_error_where_visible

    assert relative_error_where_visible(res.concentrations, expected) < 1e-11
    ode = pk.simulate(card, cohort, reg, times, variability=False, seed=7, engine="ode")
    assert relative_error_where_visible(ode.concentrations, res.concentrations) < 1e-6
    # the event table records what was actually given
    ev = reg.events(cohort, seed=7)
    np.testing.assert_allclose(np.sort(ev["TIME"].to_numpy()), np.sort(taken.ravel()))


def test_negative_timing_sd_is_refused():
    with pytest.raises(ValueError, match=r"Regimen: timing_sd_h is -1\.0; expected a finite SD >= 0 h"):
        pk.Regimen.weight_based(2.0, 3, 1, timing_sd_h=-1.0)


# --- value equality, labels, bounded work ------------------------------------------------


def test_regimens_are_equal_when_every_field_is():
    a = pk.Regimen.weight_based(2.0, 3, 14, max_mg_per_dose=20)
    assert a == pk.Regimen.weight_based("2 mg/kg/day", 3, 14, max_mg_per_dose="20 mg")
    assert hash(a) == hash(pk.Regimen.weight_based(2.0, 3, 14, max_mg_per_dose=20))
    # one field apart: the dose cap, a dose time, the jitter, the label
    assert a != pk.Regimen.weight_based(2.0, 3, 14, max_mg_per_dose=25)
    assert a != pk.Regimen.weight_based(2.0, 3, 14, max_mg_per_dose=20, start_h=1.0)
    assert a != pk.Regimen.weight_based(2.0, 3, 14, max_mg_per_dose=20, timing_sd_h=0.5)
    assert a != dataclasses.replace(a, label="TID")
    raw = pk.Regimen(time_h=[0.0, 8.0], mg=[5.0, 7.5], mg_per_kg=np.inf, max_mg=np.inf)
    assert raw == pk.Regimen(time_h=[0.0, 8.0], mg=[5.0, 7.5], mg_per_kg=np.inf, max_mg=np.inf)
    assert raw != pk.Regimen(time_h=[0.0, 8.0], mg=[5.0, 7.5 + 1e-15], mg_per_kg=np.inf, max_mg=np.inf)
    assert raw != "5 mg"


def test_the_binding_builders_read_back_from_their_labels():
    for reg in (
        pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14, max_mg_per_day=80),
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1),
        pk.Regimen.weight_based(2.0, 3, 14, timing_sd_h=0.5),
        pk.Regimen.titration(
            **TRIAL,
            switch_to_qid_above_mg_per_day=60,
            timing_sd_h=0.25,
            missed_dose_probability=0.1,
            formulation="tablet",
        ),
    ):
        assert pk.Regimen.parse(reg.label) == reg
    # issue 20: the jitter is in the label
    assert pk.Regimen.weight_based(2.0, 3, 14, timing_sd_h=0.5).label == (
        "2 mg/kg/day TID for 14 days, timing sd 0.5 h"
    )


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: pk.Regimen.weight_based(2.0, 4, 100_000_000),
            r"Regimen\.weight_based: days is 100000000, 4e\+08 doses at 4 a day; expected at most 100,000 "
            r"doses per regimen",
        ),
        (
            lambda: pk.Regimen.fixed(2.0, 8, 300_000_000),
            r"Regimen\.fixed: n_doses is 300000000; expected at most 100,000 doses per regimen",
        ),
        (
            lambda: pk.Regimen.titration(**{**TRIAL, "days": 10**8}),
            r"Regimen\.titration: days is 100000000, 3e\+08 doses",
        ),
    ],
)
def test_a_regimen_of_too_many_doses_is_refused_before_anything_is_allocated(build, message):
    # issue 12 item 16: QID for 1e8 days was OOM-killed. Refused before the 3.2 GB of dose times:
    # tracemalloc (which numpy reports to) sees less than 1 MB allocated at the peak
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            build()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1e6


def test_the_most_doses_allowed_are_scheduled():
    assert pk.dosing.MAX_DOSES == 100_000
    assert pk.Regimen.fixed(1.0, 6, 100_000).time_h[-1] == 6 * 99_999


def test_rounding_that_changes_a_childs_dose_by_more_than_25_percent_is_refused_naming_the_child():
    # 0.1 mg/kg/day TID for 20 kg: 0.667 mg per dose would be 2.5 mg of tablets (x 3.75)
    cohort = pk.Cohort(weight_kg=[40.0, 20.0], age_years=[12.0, 6.0], ids=[7, 8])
    reg = pk.Regimen.weight_based(0.1, 3, 1, formulation="tablet")
    with pytest.raises(
        ValueError,
        match=r"Regimen: child ID 7 \(40 kg\), dose 0 at 0 h: "
        r"1\.3333333333333333 mg rounds to 2\.5 mg as 'tablet' "
        r"\(\+87\.5 %\); expected a change of at most 25 % "
        r"\(max_rounding_change\)",
    ):
        reg.doses(cohort)
    allowed = pk.Regimen.weight_based(0.1, 3, 1, formulation="tablet", max_rounding_change=None)
    np.testing.assert_array_equal(allowed.doses(cohort).amount_mg, 2.5)
    down = pk.Regimen.weight_based(2.0, 3, 1, formulation="tablet", rounding="down")
    # 2 x 40 / 3 = 26.67 -> 25; 13.33 -> 12.5 (nearest would be 12.5 too; 26.67 -> 27.5)
    np.testing.assert_array_equal(down.doses(cohort).amount_mg[:, 0], [25.0, 12.5])


def test_rounding_options_without_a_formulation_are_refused():
    with pytest.raises(
        ValueError,
        match=r"Regimen: rounding is 'up', max_rounding_change is 0\.25, "
        r"without a formulation",
    ):
        pk.Regimen.weight_based(2.0, 3, 1, rounding="up")


def test_missed_doses_are_the_uniform_draws_below_the_probability():
    # drawn on the normal scale (normal < ndtri(p)); the same doses as the uniforms
    # (ndtr of those normals) below p, the rule as stated, for every scheduled dose
    from pkmodel.population.variability import STREAM_ADHERENCE, seed_entropy, uniforms

    cohort = pk.Cohort(weight_kg=np.linspace(10, 60, 2_000), age_years=np.full(2_000, 8.0))
    for p in (0.01, 0.1, 0.5):
        reg = pk.Regimen.weight_based(2.0, 3, 14, missed_dose_probability=p)
        doses = reg.doses(cohort, seed=7)
        expected = uniforms(seed_entropy(7), STREAM_ADHERENCE, 0, *doses.amount_mg.shape) < p
        np.testing.assert_array_equal(doses.missed_mg > 0, expected)
        assert abs(expected.mean() - p) < 5 * np.sqrt(p * (1 - p) / expected.size)
