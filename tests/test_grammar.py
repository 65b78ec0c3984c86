"""The regimen mini-language: phrasings read to the regimen they mean, bad words refused by name."""

import numpy as np
import pytest

import pkmodel as pk
from pkmodel.dosing.text import DEFAULT_TITRATION_DAYS

# children across the weight range, so that weight-based amounts, caps (20 mg/dose binds from
# 30 kg at 2 mg/kg/day TID) and the age bands of the caps all come into play
COHORT = pk.Cohort(weight_kg=[8.0, 14.0, 25.0, 38.0, 55.0, 70.0], age_years=[2.5, 4.0, 7.5, 11.0, 14.0, 17.0])
TIMES = ("08:00", "14:00", "20:00")
QID_TIMES = ("08:00", "12:00", "16:00", "20:00")
W = pk.Regimen.weight_based
T = pk.Regimen.titration
F = pk.Regimen.fixed

PHRASINGS = [
    ("2 mg/kg/day TID for 14 days, max 20 mg/dose", W(2.0, 3, 14, max_mg_per_dose=20)),
    (
        "2 mg/kg/day QID for 2 weeks, max 20 mg/dose, max 80 mg/day",
        W(2.0, 4, 14, max_mg_per_day=80, max_mg_per_dose=20),
    ),
    (
        "2.5 mg TID, +2.5 mg/dose every 7 days to 2 mg/kg/day, max 20 mg/dose",
        T(2.5, 3, 2.5, 7, 2.0, DEFAULT_TITRATION_DAYS, max_mg_per_dose=20),
    ),
    (
        "2.5 mg TID, +2.5 mg/dose weekly to 2 mg/kg/day for 10 weeks, max 60 mg/day, as tablets",
        T(2.5, 3, 2.5, 7, 2.0, 70, max_mg_per_day=60, formulation="tablet"),
    ),
    ("5 mg BID +5 mg every 2 weeks to 1.5 mg/kg/day for 8 weeks", T(5.0, 2, 5.0, 14, 1.5, 56)),
    (
        "2.5 mg TID, +2.5 mg/dose every 7 days to 2 mg/kg/day for 12 weeks, QID above 60 mg/day, "
        "max 20 mg/dose",
        T(2.5, 3, 2.5, 7, 2.0, 84, max_mg_per_dose=20, switch_to_qid_above_mg_per_day=60),
    ),
    ("10 mg q8h for 3 days", F(10.0, 8, 9)),
    ("5 mg BID for 1 week", F(5.0, 12, 14)),
    ("30 mg/day TID for 7 days", F(10.0, 8, 21)),
    ("10 mg every 12 h x 5", F(10.0, 12, 5)),
    ("2 mg/kg/day q6h for 14 days", W(2.0, 4, 14)),
    ("1 mg/kg/day QD for 10 days", W(1.0, 1, 10)),
    ("2 mg/kg/day every 8 hours for 14 days", W(2.0, 3, 14)),
    ("0.5 mg/kg/dose TID for 7 days", W(1.5, 3, 7)),
    ("2 mg/kg/day at 08:00, 14:00, 20:00 for 14 days", W(2.0, 3, 14, times_of_day=TIMES)),
    (
        "2 mg/kg/day TID at 08:00/14:00/20:00 for 2 weeks, as oral solution 1 mg/mL",
        W(2.0, 3, 14, times_of_day=TIMES, formulation="oral_solution_1mg_ml"),
    ),
    (
        "2 mg/kg/day TID for 14 days, max 40 mg/day at 2-8 y, max 60 mg/day at 8-18 y",
        W(2.0, 3, 14, max_mg_per_day={(2, 8): 40, (8, 18): 60}),
    ),
    (
        "2 mg/kg/day TID for 14 days, max 20 mg/dose, 10 % of doses missed",
        W(2.0, 3, 14, max_mg_per_dose=20, missed_dose_probability=0.1),
    ),
    ("7 mg TID for 3 days as suspension 5 mg/mL", F(7.0, 8, 9, formulation="suspension_5mg_ml")),
    ("2MG/KG/DAY tid FOR 14 DAYS,MAX 20 MG/DOSE", W(2.0, 3, 14, max_mg_per_dose=20)),
    # issue 12 item 19: what README lists and the API accepts
    ("10 mg every 12 h x 1 doses", F(10.0, 12, 1)),
    ("300 ug/kg/day TID for 14 days", W("300 ug/kg/day", 3, 14)),
    ("2 mg/kg/d BID for 14 d", W(2.0, 2, 14)),
    ("2000 mcg/kg/day QID for 2 wk, max 0.02 g/dose", W(2.0, 4, 14, max_mg_per_dose=20)),
    ("10 mg once", F(10.0, 24, 1)),
    ("2 mg/kg once", W(2.0, 1, 1)),
    ("5 mg once daily for 7 days", F(5.0, 24, 7)),
    ("5 mg twice a day for 7 days", F(5.0, 12, 14)),
    ("2 mg/kg/day 5 times a day for 2 days", W(2.0, 5, 2)),
    ("5 mg every 36 h x 4", F(5.0, 36, 4)),
    ("2 mg/kg/day TID for 1 day, starting at 7.5 h", W(2.0, 3, 1, start_h=7.5)),
    (
        "10 mg TID for 3 days, as tablets rounded up within 40 %",
        F(10.0, 8, 9, formulation="tablet", rounding="up", max_rounding_change=0.4),
    ),
    (
        "2 mg/kg/day TID for 3 days as 'halves' pieces 2.5/5 mg, rounded without limit",
        W(2.0, 3, 3, formulation=pk.Formulation("halves", (2.5, 5.0)), max_rounding_change=None),
    ),
    # issue 20 part 1: timing jitter, an SD
    (
        "2 mg/kg/day at 08:00, 14:00, 20:00 for 14 days, 10 % of doses missed, timing sd 0.5 h",
        W(2.0, 3, 14, times_of_day=TIMES, missed_dose_probability=0.1, timing_sd_h=0.5),
    ),
    ("2 mg/kg/day TID for 14 days ± 30 min", W(2.0, 3, 14, timing_sd_h=0.5)),
    (
        "2.5 mg TID, +2.5 mg/dose weekly to 2 mg/kg/day, timing SD 15 min",
        T(2.5, 3, 2.5, 7, 2.0, 84, timing_sd_h=0.25),
    ),
]


def doses_of(regimen):
    """Dose times (h) and each child's amounts (mg); seed 5 draws any missed doses."""
    return regimen.time_h, regimen.doses(COHORT, seed=5).amount_mg


@pytest.mark.parametrize("text, built", PHRASINGS, ids=[t for t, _ in PHRASINGS])
def test_phrasing_reads_to_the_regimen_it_means(text, built):
    parsed = pk.Regimen.parse(text)
    assert parsed == built  # every field, the label too
    if built.formulation is None or built.max_rounding_change is None:
        times, amounts = doses_of(parsed)
        expected_times, expected_amounts = doses_of(built)
        np.testing.assert_array_equal(times, expected_times)
        np.testing.assert_array_equal(amounts, expected_amounts)


def test_a_plain_phrase_gives_the_times_and_amounts_worked_out_by_hand():
    times, amounts = doses_of(
        pk.Regimen.parse("2 mg/kg/day at 08:00, 14:00, 20:00 for 2 days, max 20 mg/dose")
    )
    np.testing.assert_array_equal(times, [8, 14, 20, 32, 38, 44])
    # 2/3 mg/kg per dose, at most 20 mg: 8 kg -> 5.333 mg, 38 kg -> 25.3 -> 20 mg
    np.testing.assert_allclose(amounts[:, 0], np.minimum(COHORT.weight_kg * 2 / 3, 20), rtol=1e-15)
    times, amounts = doses_of(pk.Regimen.parse("10 mg q8h for 3 days"))
    np.testing.assert_array_equal(times, np.arange(9) * 8.0)
    assert (amounts == 10.0).all()


def test_the_titration_of_the_issue_runs_twelve_weeks_and_steps_weekly():
    reg = pk.Regimen.parse("2.5 mg TID, +2.5 mg/dose every 7 days to 2 mg/kg/day, max 20 mg/dose")
    assert reg.time_h.size == 3 * 84 and reg.label.endswith("for 84 days, max 20 mg/dose")
    amounts = reg.doses(COHORT).amount_mg
    # the 70 kg child: 2.5 mg in week 1, 5 mg in week 2, ... up to the 20 mg/dose cap in week 8
    weekly = amounts[5, ::21]
    np.testing.assert_array_equal(weekly, [2.5, 5, 7.5, 10, 12.5, 15, 17.5, 20, 20, 20, 20, 20])


@pytest.mark.parametrize(
    "built",
    [
        W(
            2.0,
            3,
            14,
            max_mg_per_dose=20,
            times_of_day=TIMES,
            formulation="tablet",
            max_mg_per_day={(2, 8): 40, (8, 18): 60},
            missed_dose_probability=0.05,
        ),
        T(
            2.5,
            3,
            2.5,
            7,
            2.0,
            84,
            max_mg_per_dose=20,
            switch_to_qid_above_mg_per_day=60,
            times_of_day=TIMES,
            qid_times_of_day=QID_TIMES,
            formulation="tablet",
        ),
        F(10.0, 8, 9, times_of_day=TIMES, formulation="granules", missed_dose_probability=0.2),
    ],
    ids=["weight_based", "titration", "fixed"],
)
def test_the_label_of_a_regimen_reads_back_to_the_same_regimen(built):
    parsed = pk.Regimen.parse(built.label)
    assert parsed == built
    for got, expected in zip(doses_of(parsed), doses_of(built)):
        np.testing.assert_array_equal(got, expected)


MALFORMED = [
    ("2 mg/kg/day TIDD for 14 days", r"'TIDD' at column 13 .*expected a phrase"),
    ("two mg TID for 14 days", r"'two' at column 1 .*expected a dose"),
    ("2 mg/lb/day TID for 14 days", r"'mg/lb/day' at column 3 .*expected a dose unit"),
    ("2 mg/kg/day TID for 14 fortnights", r"'fortnights' at column 24 .*expected days or weeks"),
    ("2 mg/kg/day TID for 14 days; max 20 mg/dose", r"';' at column 28 "),
    ("2 mg/kg/day TID for 14 days, max 20 mg/week", r"'mg/week' at column 37 .*mg/dose or mg/day"),
    ("2 mg/kg/day TID for 14 days, as capsules", r"'capsules' at column 33 .*expected a formulation"),
    ("2 mg/kg/day TID at 08:00, 25:00, 20:00 for 14 days", r"'25:00' at column 27 .*00:00 to 23:59"),
    ("2 mg/kg/day TID at 08:00, 20:00 for 14 days", r"'at' at column 17 .*expected 3 clock times"),
    ("2 mg/kg/day TID for 14 days for 7 days", r"'for' at column 29 .*one duration only"),
    ("2 mg/kg/day q7h for 14 days", r"'q7h' at column 13 .*divides 24 h"),
    ("10 mg TID for 7 days, max 20 mg/dose", r"'max' at column 23 .*no cap on a fixed dose"),
    ("2 mg/kg/day TID, +2.5 mg/dose every 7 days to 2 mg/kg/day", r"'2' at column 1 .*titration"),
    ("0 mg TID for 1 day", r"'0' at column 1 .*a number > 0"),
    ("2.5 mg TID, +2.5 mg/dose every 7 days to", r"ends after 'to' \(column 39\).*target dose"),
    ("2 mg/kg/day TID for 14 days, 120 % of doses missed", r"'120' at column 30 .*0 to 100"),
    ("2 mg/kg/day TID for 14 days, rounded up", r"'rounded' at column 30 .*with a formulation"),
    (
        "2 mg/kg/day TID for 14 days, as tablets, rounded sideways",
        r"'sideways' at column 50 .*down, nearest or up",
    ),
    ("2 mg/kg/day TID for 14 days, timing sd 30 s", r"'s' at column 43 .*h or min"),
    ("2 mg/kg/day TID for 14 days, max 20 mg", r"'mg' at column 37 .*mg/dose or mg/day"),
    ("2 mg/kg/day TID for 14 days once", r"'once' at column 29 .*one frequency only"),
    ("5 mg every 36 h for 1 day", r"'for' at column 17 .*whole dosing intervals"),
    ("2 mg/kg/day every 36 h for 3 days", r"'every' at column 13 .*divides 24 h"),
    (
        "2 mg/kg/day TID for 14 days as 'x' pieces 1/1.000001 mg",
        r"\"'x'\" at column 32 .*gaps up to 999,999,000,000 steps",
    ),
]


@pytest.mark.parametrize("text, message", MALFORMED, ids=[t for t, _ in MALFORMED])
def test_malformed_text_is_refused_naming_the_bad_word_and_its_column(text, message):
    with pytest.raises(ValueError, match=r"^Regimen\.parse: .*" + message):
        pk.Regimen.parse(text)


def test_missing_frequency_is_refused_naming_what_is_missing():
    with pytest.raises(
        ValueError,
        match=r"'2 mg/kg/day for 14 days' gives no frequency; expected a "
        r"frequency \(QD, BID, TID, QID",
    ):
        pk.Regimen.parse("2 mg/kg/day for 14 days")


def test_missing_duration_is_refused_naming_what_is_missing():
    with pytest.raises(ValueError, match=r"'2 mg/kg/day TID' gives no duration; expected 'for N days'"):
        pk.Regimen.parse("2 mg/kg/day TID")


def test_empty_text_is_refused():
    with pytest.raises(ValueError, match=r"Regimen\.parse: '' is empty; expected a dose"):
        pk.Regimen.parse("")


def test_a_regimen_the_builders_refuse_is_refused_with_their_reason():
    with pytest.raises(
        ValueError,
        match=r"Regimen\.parse: '2 mg/kg/day TID for 14\.1 days': "
        r"Regimen\.weight_based: days is 14\.1; expected a whole "
        r"number of dosing intervals",
    ):
        pk.Regimen.parse("2 mg/kg/day TID for 14.1 days")


def test_text_that_is_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match=r"Regimen\.parse: text is a int; expected a str"):
        pk.Regimen.parse(2)


@pytest.mark.parametrize(
    "text, message",
    [
        # issue 12 item 16: OOM-killed, and past 120 s; refused before any dose time is made
        (
            "2 mg/kg/day QID for 100000000 days",
            r"'for' at column 17 .*at most 100,000 doses \(pkmodel\."
            r"dosing\.MAX_DOSES\), not 4e\+08",
        ),
        ("2 mg TID for 100000000 days", r"'for' at column 10 .*at most 100,000 doses .*not 3e\+08"),
        ("2 mg q1h x 1e300", r"'x' at column 10 .*at most 100,000 doses .*not 1e\+300"),
        ("2.5 mg TID +2.5 mg weekly to 2 mg/kg/day for 1e9 weeks", r".*not 2\.1e\+10"),
    ],
)
def test_too_many_doses_are_refused_before_anything_is_allocated(text, message):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"^Regimen\.parse: " + message):
            pk.Regimen.parse(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1e6  # bytes: the 1e8 days of QID would be 3.2 GB of dose times


def test_text_longer_than_the_limit_is_refused_before_it_is_read():
    from pkmodel.dosing.text import MAX_TEXT

    with pytest.raises(
        ValueError,
        match=r"Regimen\.parse: text is 100,001 characters long; expected "
        r"at most 100,000",
    ):
        pk.Regimen.parse("2 mg TID for 1 day" + " " * (MAX_TEXT + 1 - 18))


def test_the_readme_examples_read_back_from_their_labels():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Regimens in words") : readme.index("## Bundled models")]
    examples = section.split("```")[3].strip().splitlines()  # the block after the grammar
    assert len(examples) == 9
    for text in examples:
        regimen = pk.Regimen.parse(text)
        assert pk.Regimen.parse(regimen.label) == regimen
