import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from conftest import typical_cohort

TIMES = np.arange(0, 48.5, 0.5)


def table(**columns) -> pd.DataFrame:
    """A two-child event table (IDs 1, 2): a dose each at 0 h, an observation at 4 h; columns override."""
    base = {
        "ID": [1, 1, 2, 2],
        "TIME": [0.0, 4.0, 0.0, 4.0],
        "AMT": [5.0, 0.0, 7.5, 0.0],
        "EVID": [1, 0, 1, 0],
        "CMT": [1, 2, 1, 2],
    }
    base.update(columns)
    return pd.DataFrame(base)


COHORT = pk.Cohort(weight_kg=[20.0, 30.0], age_years=[6.0, 9.0])


def test_addl_expansion_equals_writing_every_dose_out(card):
    # ID 1: 5 mg at 0 h and 5 more every 8 h; ID 2: 7.5 mg at 4 h and 3 more every 12 h
    short = pd.DataFrame(
        {
            "ID": [1, 2],
            "TIME": [0.0, 4.0],
            "AMT": [5.0, 7.5],
            "EVID": [1, 1],
            "CMT": [1, 1],
            "II": [8.0, 12.0],
            "ADDL": [5, 3],
        }
    )
    long = pd.DataFrame(
        {
            "ID": [1] * 6 + [2] * 4,
            "TIME": [0.0, 8, 16, 24, 32, 40, 4, 16, 28, 40],
            "AMT": [5.0] * 6 + [7.5] * 4,
            "EVID": 1,
            "CMT": 1,
        }
    )
    a, b = pk.read_events(short), pk.read_events(long)
    np.testing.assert_array_equal(a.doses_given.time_h, b.doses_given.time_h)
    np.testing.assert_array_equal(a.doses_given.amount_mg, b.doses_given.amount_mg)
    da, db = a.doses(COHORT), b.doses(COHORT)
    np.testing.assert_array_equal(da.time_h, db.time_h)
    np.testing.assert_array_equal(da.amount_mg, db.amount_mg)
    np.testing.assert_array_equal(
        pk.simulate(card, COHORT, a, TIMES, seed=1).concentrations,
        pk.simulate(card, COHORT, b, TIMES, seed=1).concentrations,
    )


def test_a_nonmem_csv_round_trips_unchanged(tmp_path):
    text = (
        "ID,TIME,AMT,EVID,CMT,II,ADDL,SS,RATE,DV,MDV,WT\n"
        "1,0,5,1,1,8,2,0,0,.,1,20.5\n"
        "1,2.5,0,0,2,0,0,0,0,0.1234,0,20.5\n"
        "2,0,7.5,1,1,0,0,0,0,.,1,30\n"
        "2,8,7.5,1,1,0,0,0,0,.,1,30\n"
        "2,12.25,.,0,2,.,.,.,.,0.05,0,30\n"
    )
    (tmp_path / "in.csv").write_text(text)
    pk.write_events(pk.read_events(tmp_path / "in.csv"), tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == text


def test_a_regimens_events_written_and_read_back_are_the_same_table(tmp_path):
    ev = pk.Regimen.weight_based(2.0, 3, days=2, max_mg_per_dose=20).events(typical_cohort(13, 47))
    pk.write_events(ev, tmp_path / "ev.csv")
    back = pk.read_events(tmp_path / "ev.csv").to_frame()
    pd.testing.assert_frame_equal(back, ev, check_dtype=False)  # 20.0 is written 20, read as int


def test_event_table_gives_the_same_curves_as_the_regimen_it_records(card):
    # covariates are joined by ID: the table lists ID 12 first, the cohort ID 11
    cohort = pk.Cohort(weight_kg=[15.0, 42.0], age_years=[4.0, 12.0], ids=[11, 12])
    reg = pk.Regimen.weight_based(2.0, 3, days=2, missed_dose_probability=0.2)
    ev = reg.events(cohort, seed=3).sort_values("ID", ascending=False, kind="stable")
    from_table = pk.simulate(card, cohort, pk.read_events(ev), TIMES, seed=3)
    from_regimen = pk.simulate(card, cohort, reg, TIMES, seed=3)  # the same missed doses, from seed 3
    assert (from_regimen.doses.amount_mg == 0).any()
    assert from_table.regimen == "event table (events)"
    # 1e-12: the table has no column where no child got a dose, so the engine steps the state
    # over other intervals: the same sums in another order
    np.testing.assert_allclose(from_table.concentrations, from_regimen.concentrations, rtol=1e-12)


def test_doses_at_the_same_time_add(card):
    twice = table(TIME=[0.0, 0.0, 0.0, 4.0], AMT=[2.0, 3.0, 7.5, 0.0], EVID=[1, 1, 1, 0], CMT=[1, 1, 1, 2])
    once = table()
    a = pk.simulate(card, COHORT, pk.read_events(twice), TIMES, variability=False)
    b = pk.simulate(card, COHORT, pk.read_events(once), TIMES, variability=False)
    # each record stays a dose of its own (two infusions must stay two); the engine adds boluses
    np.testing.assert_array_equal(a.doses.amount_mg, [[2.0, 3.0], [7.5, 0.0]])
    # 2 + 3 mg at once is 5 mg: the same curve to rounding
    np.testing.assert_allclose(a.concentrations, b.concentrations, rtol=1e-14)


def test_children_with_different_dose_times_share_the_union_of_times():
    ev = table(TIME=[0.0, 4.0, 2.0, 4.0])
    doses = pk.read_events(ev).doses(COHORT)
    np.testing.assert_array_equal(doses.time_h, [0.0, 2.0])
    np.testing.assert_array_equal(doses.amount_mg, [[5.0, 0.0], [0.0, 7.5]])


def test_dose_records_keep_what_the_engines_will_need_for_ss_rate_and_cmt():
    ev = pd.DataFrame(
        {
            "ID": [1, 1],
            "TIME": [0.0, 30.0],
            "AMT": [10.0, 4.0],
            "EVID": [4, 1],
            "CMT": [1, 2],
            "II": [12.0, 0.0],
            "ADDL": [2, 0],
            "SS": [1, 0],
            "RATE": [5.0, 0.0],
        }
    )
    given = pk.read_events(ev).doses_given
    np.testing.assert_array_equal(given.time_h, [0.0, 12.0, 24.0, 30.0])
    np.testing.assert_array_equal(given.ss, [1, 0, 0, 0])  # only the row's own dose
    np.testing.assert_array_equal(given.reset, [True, False, False, False])
    np.testing.assert_array_equal(given.rate_mg_per_h, [5.0, 5.0, 5.0, 0.0])
    np.testing.assert_array_equal(given.ii_h, [12.0, 12.0, 12.0, 0.0])
    np.testing.assert_array_equal(given.cmt, [1, 1, 1, 2])
    np.testing.assert_array_equal(given.row, [0, 0, 0, 1])


# --- what the engines cannot do yet -----------------------------------------------


@pytest.mark.parametrize(
    "columns, message",
    [
        (
            {"EVID": [1, 0, 4, 0]},
            r"events row 2, column EVID is 4: resets \(EVID 3 and 4\) are not supported yet",
        ),
    ],
)
def test_simulate_refuses_what_the_engines_do_not_support_yet(card, columns, message):
    with pytest.raises(NotImplementedError, match=message):
        pk.simulate(card, COHORT, pk.read_events(table(**columns)), TIMES)


# --- steady state and compartments ------------------------------------------------


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("name", ["baclofen_cp_card", "baclofen_cp_he2014_fast_absorption"])
def test_ss1_dose_equals_60_days_of_repeated_dosing(engine, name):
    model = pk.load_model(name)
    cohort = pk.Cohort(weight_kg=[12.0, 45.0], age_years=[4.0, 14.0])
    last = 60 * 24.0 - 8.0  # the last of 180 doses, every 8 h
    times = np.linspace(last, last + 8.0, 33)  # the last dosing interval
    steady = pd.DataFrame(
        {"ID": [1, 2], "TIME": [last] * 2, "AMT": [10.0, 20.0], "EVID": 1, "CMT": 1, "SS": 1, "II": 8.0}
    )
    repeated = pd.DataFrame(
        {"ID": [1, 2], "TIME": [0.0] * 2, "AMT": [10.0, 20.0], "EVID": 1, "CMT": 1, "II": 8.0, "ADDL": 179}
    )
    a = pk.simulate(model, cohort, pk.read_events(steady), times, engine=engine, seed=3)
    b = pk.simulate(model, cohort, pk.read_events(repeated), times, engine=engine, seed=3)
    # after 60 days (320 half-lives) the repeated doses are at steady state to far below 1e-9;
    # the pre-dose value at the SS dose's own time is still 0 (nothing before it)
    rtol = 1e-9 if engine == "analytic" else 1e-6  # ode: its own tolerance on 180 doses
    np.testing.assert_allclose(a.concentrations[:, 1:], b.concentrations[:, 1:], rtol=rtol)
    assert np.all(a.concentrations[:, 0] == 0)


def test_ss2_adds_the_steady_state_to_what_is_there(card):
    base = {"ID": [1, 1], "AMT": [10.0, 10.0], "EVID": 1, "CMT": 1, "II": [0.0, 8.0]}
    one = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(24.5, 32.5, 0.5)
    plus = pk.simulate(
        card,
        one,
        pk.read_events(pd.DataFrame({**base, "TIME": [20.0, 24.0], "SS": [0, 2]})),
        times,
        variability=False,
    )
    reset = pk.simulate(
        card,
        one,
        pk.read_events(pd.DataFrame({**base, "TIME": [20.0, 24.0], "SS": [0, 1]})),
        times,
        variability=False,
    )
    single = pk.simulate(
        card,
        one,
        pk.read_events(
            pd.DataFrame(
                {**{k: v[:1] if isinstance(v, list) else v for k, v in base.items()}, "TIME": [20.0]}
            )
        ),
        times,
        variability=False,
    )
    # SS=2 keeps the 20 h dose on top of the steady state; SS=1 forgets it
    np.testing.assert_allclose(plus.concentrations, reset.concentrations + single.concentrations, rtol=1e-12)


@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_a_dose_into_central_is_an_iv_bolus_without_bioavailability(engine, tmp_path):
    from conftest import write_model

    model = pk.load_model(write_model(tmp_path, F={"value": 0.5, "unit": "1"}))
    one = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    iv = pd.DataFrame({"ID": [1], "TIME": [2.0], "AMT": [10.0], "EVID": 1, "CMT": [2]})
    times = np.arange(0, 24.25, 0.25)
    res = pk.simulate(model, one, pk.read_events(iv), times, engine=engine, variability=False)
    p = res.individual
    after = times > 2.0
    # C = D / V exp(-k (t - 2)) after the bolus (F is for the oral route); 0 up to and at 2 h (pre-dose)
    expected = 10.0 / p["V"][0] * np.exp(-p["CL"][0] / p["V"][0] * (times[after] - 2.0))
    np.testing.assert_allclose(
        res.concentrations[0, after], expected, rtol=1e-12 if engine == "analytic" else 1e-8
    )
    assert np.all(res.concentrations[0, ~after] == 0)


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("amounts", [(30.0, 30.0), (30.0, 12.0)])  # same length, or per child
def test_rate_is_a_zero_order_input_over_amount_over_rate_hours(engine, amounts):
    model = pk.load_model("baclofen_cp_card")
    two = pk.Cohort(weight_kg=[20.0, 30.0], age_years=[6.0, 9.0])
    infusion = pd.DataFrame(
        {"ID": [1, 2], "TIME": [1.0, 1.0], "AMT": list(amounts), "EVID": 1, "CMT": 2, "RATE": 6.0}
    )  # into central, 6 mg/h
    times = np.arange(0, 24.25, 0.25)
    res = pk.simulate(model, two, pk.read_events(infusion), times, engine=engine, variability=False)
    p = res.individual
    k, v = p["CL"] / p["V"], p["V"]
    for i, amount in enumerate(amounts):
        duration = amount / 6.0
        during = np.clip(times - 1.0, 0, duration)
        after = np.clip(times - 1.0 - duration, 0, None)
        # textbook: R/CL (1 - e^{-k t}) while it runs, then first-order decline
        expected = 6.0 / (k[i] * v[i]) * (1 - np.exp(-k[i] * during)) * np.exp(-k[i] * after)
        np.testing.assert_allclose(
            res.concentrations[i], expected, rtol=1e-11 if engine == "analytic" else 1e-7, atol=1e-15
        )


# --- bad tables -------------------------------------------------------------------


def test_negative_amount_is_refused():
    with pytest.raises(ValueError, match=r"events row 2, column AMT is -7\.5; expected an amount >= 0 mg"):
        pk.read_events(table(AMT=[5.0, 0.0, -7.5, 0.0]))


def test_decreasing_time_within_an_id_is_refused():
    with pytest.raises(
        ValueError,
        match=r"events row 3, column TIME is 1\.0; expected a time >= 4\.0, the "
        r"TIME of row 1 of the same ID 1",
    ):
        pk.read_events(table(ID=[1, 1, 2, 1], TIME=[0.0, 4.0, 0.0, 1.0]))


def test_unknown_compartment_of_the_model_is_refused(card):
    with pytest.raises(
        ValueError,
        match=r"events row 1, column CMT is 3; expected a compartment of "
        r"one_compartment_oral: 1 \(depot\), 2 \(central\)",
    ):
        pk.simulate(card, COHORT, pk.read_events(table(CMT=[1, 3, 1, 2])), TIMES)


def test_compartment_that_is_not_a_number_1_2_is_refused():
    with pytest.raises(
        ValueError, match=r"events row 0, column CMT is 0; expected a compartment number 1, 2"
    ):
        pk.read_events(table(CMT=[0, 2, 1, 2]))


def test_evid_outside_0_to_4_is_refused():
    with pytest.raises(ValueError, match=r"events row 1, column EVID is 5; expected 0, 1, 2, 3 or 4"):
        pk.read_events(table(EVID=[1, 5, 1, 0]))


def test_additional_doses_without_an_interval_are_refused():
    with pytest.raises(
        ValueError,
        match=r"events row 0, column II is 0\.0 \(ADDL is 3\); expected an "
        r"interval > 0 h where ADDL is above 0",
    ):
        pk.read_events(table(ADDL=[3, 0, 0, 0], II=[0.0, 0, 0, 0]))


def test_steady_state_without_an_interval_is_refused():
    with pytest.raises(
        ValueError,
        match=r"events row 2, column II is 'missing' \(SS is 1\); expected an "
        r"interval > 0 h where SS is 1 or 2",
    ):
        pk.read_events(table(SS=[0, 0, 1, 0]))


def test_ids_missing_from_the_cohort_are_refused(card):
    with pytest.raises(ValueError, match=r"events row 2, column ID is 7; expected an ID of the cohort"):
        pk.simulate(card, COHORT, pk.read_events(table(ID=[1, 1, 7, 7])), TIMES)


def test_cohort_children_missing_from_the_table_are_refused(card):
    cohort = pk.Cohort(weight_kg=[20.0, 30.0, 40.0], age_years=[6.0, 9.0, 12.0])
    with pytest.raises(ValueError, match=r"events: no rows for cohort ID 3; expected rows for every child"):
        pk.simulate(card, cohort, pk.read_events(table()), TIMES)


def test_missing_column_is_refused():
    with pytest.raises(
        ValueError,
        match=r"events: column EVID is missing; expected columns ID, TIME, AMT, "
        r"EVID, CMT",
    ):
        pk.read_events(table().drop(columns="EVID"))


def test_text_in_a_number_column_is_refused():
    with pytest.raises(ValueError, match=r"events row 1, column TIME is 'four'; expected a number"):
        pk.read_events(table(TIME=[0.0, "four", 0.0, 4.0]))


def test_a_dose_amount_on_an_observation_row_is_refused():
    with pytest.raises(
        ValueError,
        match=r"events row 1, column AMT is 5\.0; expected 0 or missing on a row "
        r"that is not a dose",
    ):
        pk.read_events(table(AMT=[5.0, 5.0, 7.5, 0.0]))


def test_a_dose_before_time_0_is_taken_as_nonmem_7_4_takes_it(card):
    # NONMEM 7.4 accepts negative TIME; a dose at -2 h is the dose at 0 h seen 2 h later
    # (time invariance: the same exact solution at offsets t + 2)
    early = pk.simulate(
        card, COHORT, pk.read_events(table(TIME=[-2.0, 4.0, -2.0, 4.0])), TIMES, variability=False
    )
    at_0 = pk.simulate(card, COHORT, pk.read_events(table()), TIMES + 2.0, variability=False)
    np.testing.assert_allclose(early.concentrations, at_0.concentrations, rtol=1e-12)


def test_infinite_time_is_refused():
    with pytest.raises(ValueError, match=r"events row 0, column TIME is -inf; expected a finite time \(h\)"):
        pk.read_events(table(TIME=[-np.inf, 4.0, 0.0, 4.0]))


def test_fractional_id_is_refused():
    with pytest.raises(
        ValueError, match=r"events row 2, column ID is 2\.5; expected a whole-number subject ID"
    ):
        pk.read_events(table(ID=[1, 1, 2.5, 2.5]))


def test_fractional_addl_is_refused():
    with pytest.raises(ValueError, match=r"events row 0, column ADDL is 1\.5; expected a whole number >= 0"):
        pk.read_events(table(ADDL=[1.5, 0, 0, 0], II=[8.0, 0, 0, 0]))


def test_ss_other_than_0_1_2_is_refused():
    with pytest.raises(ValueError, match=r"events row 0, column SS is 3; expected 0, 1 or 2"):
        pk.read_events(table(SS=[3, 0, 0, 0], II=[8.0, 0, 0, 0]))


def test_modelled_rate_is_refused():
    with pytest.raises(
        ValueError,
        match=r"events row 0, column RATE is -2; expected a rate >= 0 mg/h "
        r"\(modelled rates -1 and -2 are not supported\)",
    ):
        pk.read_events(table(RATE=[-2, 0, 0, 0]))


def test_mdv_other_than_0_1_is_refused():
    with pytest.raises(ValueError, match=r"events row 1, column MDV is 2; expected 0, 1 or missing"):
        pk.read_events(table(MDV=[1, 2, 1, 0]))


def test_empty_table_is_refused():
    with pytest.raises(ValueError, match=r"events: the table has no rows; expected one or more events"):
        pk.read_events(table().iloc[:0])


def test_something_that_is_not_a_table_is_refused():
    with pytest.raises(
        TypeError, match=r"events is a list; expected a path to a CSV file or a pandas DataFrame"
    ):
        pk.read_events([1, 0.0, 5.0])


def test_a_file_names_itself_in_the_message(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ID,TIME,AMT,EVID,CMT\n1,0,5,1,1\n1,2,-1,1,1\n")
    with pytest.raises(ValueError, match=r"bad\.csv row 1, column AMT is -1; expected an amount >= 0 mg"):
        pk.read_events(path)


# --- issue 12: every record stays a dose of its own, in record order -------------------


@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_two_infusions_at_one_time_run_side_by_side_and_their_rates_add(card, engine):
    # 2 x 10 mg at 5 mg/h into central from 0 h: 10 mg/h for 2 h (not 5 mg/h for 4 h)
    two = pd.DataFrame(
        {"ID": [1, 1], "TIME": [0.0, 0.0], "AMT": [10.0, 10.0], "EVID": 1, "CMT": 2, "RATE": [5.0, 5.0]}
    )
    one = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(0, 12.25, 0.25)
    res = pk.simulate(card, one, pk.read_events(two), times, engine=engine, variability=False)
    cl, v = res.individual["CL"][0], res.individual["V"][0]
    k = cl / v
    during, after = np.clip(times, 0, 2.0), np.clip(times - 2.0, 0, None)
    # textbook: R/CL (1 - e^{-k t}) while the 10 mg/h run, then first-order decline
    expected = 10.0 / cl * (1 - np.exp(-k * during)) * np.exp(-k * after)
    np.testing.assert_allclose(
        res.concentrations[0], expected, rtol=1e-11 if engine == "analytic" else 1e-7, atol=1e-15
    )


@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_a_dose_on_the_row_after_an_ss1_dose_at_its_time_is_given_after_the_reset(card, engine):
    one = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(24.25, 48.25, 0.25)
    ss = {"ID": [1], "TIME": [24.0], "AMT": [10.0], "EVID": 1, "CMT": 1, "SS": [1], "II": [8.0]}
    extra = {"ID": [1], "TIME": [24.0], "AMT": [6.0], "EVID": 1, "CMT": 1, "SS": [0], "II": [0.0]}

    def run(*parts):
        frame = pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)
        return pk.simulate(
            card, one, pk.read_events(frame), times, engine=engine, variability=False
        ).concentrations[0]

    rtol = 1e-12 if engine == "analytic" else 1e-7
    # record order, as NONMEM: after the SS=1 record the 6 mg adds (superposition of the steady
    # state and one 6 mg dose); before it, the reset wipes it out
    np.testing.assert_allclose(run(ss, extra), run(ss) + run(extra), rtol=rtol)
    np.testing.assert_allclose(run(extra, ss), run(ss), rtol=rtol)


def test_children_on_their_own_schedules_are_each_simulated_as_alone(card):
    # q8h and q6h children, one 1 h late: the union of their times holds zeros for the others
    ev = pd.DataFrame(
        {
            "ID": [1, 2, 3],
            "TIME": [0.0, 0.0, 1.0],
            "AMT": [10.0, 7.5, 5.0],
            "EVID": 1,
            "CMT": 1,
            "II": [8.0, 6.0, 8.0],
            "ADDL": [8, 11, 8],
        }
    )
    cohort = pk.Cohort(weight_kg=[20.0, 30.0, 40.0], age_years=[6.0, 9.0, 12.0])
    times = np.arange(0, 72.5, 0.5)
    together = pk.simulate(card, cohort, pk.read_events(ev), times, variability=False).concentrations
    for i in range(3):
        alone = pk.simulate(
            card,
            pk.Cohort(weight_kg=[cohort.weight_kg[i]], age_years=[cohort.age_years[i]], ids=[i + 1]),
            pk.read_events(ev[ev.ID == i + 1]),
            times,
            variability=False,
        ).concentrations[0]
        # 1e-12: the others' columns split each child's steps (rounding only)
        np.testing.assert_allclose(together[i], alone, rtol=1e-12)


# --- issue 12: IDs exactly ----------------------------------------------------------------


def test_ids_2_to_the_53_and_one_more_keep_their_own_doses(card):
    ids = np.array([2**53, 2**53 + 1], dtype=np.int64)
    cohort = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[6.0, 6.0], ids=ids)
    ev = pd.DataFrame({"ID": ids, "TIME": [0.0, 0.0], "AMT": [10.0, 30.0], "EVID": 1, "CMT": 1})
    res = pk.simulate(card, cohort, pk.read_events(ev), TIMES, variability=False)
    # the same child given 10 and 30 mg: 3 times the curve (an ID read through a float would
    # give both doses to one child)
    np.testing.assert_allclose(res.concentrations[1], 3 * res.concentrations[0], rtol=1e-14)
    assert res.concentrations[0].max() > 0


def test_17_digit_ids_from_a_csv_are_read_exactly(card, tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("ID,TIME,AMT,EVID,CMT\n12345678901234567,0,10,1,1\n12345678901234568,0,20,1,1\n")
    ev = pk.read_events(path)
    np.testing.assert_array_equal(ev.doses_given.id, [12345678901234567, 12345678901234568])
    cohort = pk.Cohort(
        weight_kg=[20.0, 20.0], age_years=[6.0, 6.0], ids=[12345678901234568, 12345678901234567]
    )
    res = pk.simulate(card, cohort, ev, TIMES, variability=False)
    np.testing.assert_allclose(res.concentrations[0], 2 * res.concentrations[1], rtol=1e-14)


@pytest.mark.parametrize(
    "ids, message",
    [
        (
            [2.0**53, 1.0],
            r"events row 0, column ID is 9007199254740992\.0; expected a whole-number subject "
            r"ID below 2\*\*53 when given as a float",
        ),
        (
            np.array([2**63, 1], dtype=np.uint64),
            r"events row 0, column ID is 9223372036854775808; expected a "
            r"subject ID from -2\*\*63 to 2\*\*63 - 1",
        ),
        (
            [True, False],
            r"events row 0, column ID is True; expected a whole-number subject ID, not True/False",
        ),
        (
            pd.array([1, True], dtype=object),
            r"events row 1, column ID is True; expected a whole-number subject "
            r"ID, not True/False",
        ),
    ],
)
def test_ids_that_are_not_exact_integers_are_refused(ids, message):
    with pytest.raises(ValueError, match=message):
        pk.read_events(pd.DataFrame({"ID": ids, "TIME": [0.0, 0.0], "AMT": [5.0, 5.0], "EVID": 1, "CMT": 1}))


def test_true_and_false_are_not_numbers_in_any_column():
    with pytest.raises(
        ValueError,
        match=r"events row 0, column EVID is True; expected a number, not "
        r"True/False",
    ):
        pk.read_events(table(EVID=[True, False, True, False]))


# --- issue 12: Regimen.events round-trips ---------------------------------------------


def test_regimen_events_with_jitter_and_missed_doses_round_trip_to_the_same_curves(card, tmp_path):
    cohort = pk.Cohort.from_growth_charts(30, seed=5)
    reg = pk.Regimen.weight_based(2.0, 3, days=2, missed_dose_probability=0.7, timing_sd_h=0.5)
    ev = reg.events(cohort, seed=9)
    given = ev[ev.EVID == 1].groupby("ID").size().reindex(cohort.ids, fill_value=0)
    assert (given == 0).any() and ev.TIME.min() < 0  # a child missed every dose; a dose before 0
    pk.write_events(ev, tmp_path / "given.csv")
    back = pk.read_events(tmp_path / "given.csv")
    pd.testing.assert_frame_equal(back.to_frame(), ev, check_dtype=False)
    times = np.arange(0, 48.5, 0.5)
    from_table = pk.simulate(card, cohort, back, times, seed=9)
    from_regimen = pk.simulate(card, cohort, reg, times, seed=9)
    # the same doses at the same times (every child at its own), through the same engine path
    np.testing.assert_allclose(from_table.concentrations, from_regimen.concentrations, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(from_table.concentrations[(given == 0).to_numpy()], 0.0)


# --- issue 12: bounded cost, clear errors for broken files --------------------------------


def test_addl_beyond_the_stated_limit_is_refused_before_expanding():
    with pytest.raises(
        ValueError,
        match=r"events row 0, column ADDL is 100000000; expected at most "
        r"5,000,000 doses in one event table "
        r"\(pkmodel\.dosing\.events\.MAX_TABLE_DOSES\), ADDL expanded: this "
        r"table would give 100,000,002",
    ):
        pk.read_events(table(ADDL=[100_000_000, 0, 0, 0], II=[8.0, 0, 0, 0]))


def test_a_repeated_column_is_refused_in_a_table_and_in_a_file(tmp_path):
    twice = pd.concat([table(), table()[["ID"]]], axis=1)
    with pytest.raises(ValueError, match=r"events: column ID appears 2 times; expected each column once"):
        pk.read_events(twice)
    path = tmp_path / "twice.csv"
    path.write_text("ID,TIME,AMT,EVID,CMT,AMT\n1,0,5,1,1,7\n")
    with pytest.raises(
        ValueError,
        match=r"twice\.csv: column AMT appears 2 times in the header; expected "
        r"each column once",
    ):
        pk.read_events(path)


@pytest.mark.parametrize(
    "lines, message",
    [
        (["1,0,5,1,1", "1,2,5,1", "1,4,5,1,1"], r"line 3 \(row 1\) has 4 fields; expected 5"),
        (["1,0,5,1,1", "1,2,5,1,1,7", "1,4,5,1,1"], r"line 3 \(row 1\) has 6 fields; expected 5"),
        (["1,0,5,1,1,9", "1,2,5,1,1"], r"line 2 \(row 0\) has 6 fields; expected 5"),
        (["1,0,5,1,1", "", '1,2,"5,0",1,1,8'], r"line 4 \(row 1\) has 6 fields; expected 5"),
    ],
)
def test_a_ragged_line_is_blamed_on_its_own_line_and_row(tmp_path, lines, message):
    # a first row with one field too many would otherwise become the index, shifting every column
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(["ID,TIME,AMT,EVID,CMT"] + lines) + "\n")
    with pytest.raises(ValueError, match=r"ragged\.csv " + message + ", as many as the header"):
        pk.read_events(path)


def test_an_empty_file_names_its_path(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty; expected a header line"):
        pk.read_events(path)


def test_quoted_commas_and_blank_lines_do_not_count_as_fields(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('ID,TIME,AMT,EVID,CMT,NOTE\n1,0,5,1,1,"a, b"\n\n1,8,5,1,1,c\n')
    ev = pk.read_events(path)
    assert ev.to_frame()["NOTE"].tolist() == ["a, b", "c"]
    np.testing.assert_array_equal(ev.doses_given.time_h, [0.0, 8.0])
