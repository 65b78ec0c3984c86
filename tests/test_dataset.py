"""pk.simulate_dataset: NONMEM data sets as written (pkmodel/dosing/dataset.py, simulation/dataset.py).

References: NONMEM's own output (../shared/validation/nonmem, read from there, skipped when
absent), hand-computed piecewise closed forms, and independent constructions of the same
dosing (60 days of plain doses; a subject without the earlier history).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from map_reference import nonmem_table
from pkmodel.dosing.dataset import read_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "validation" / "nonmem" / "data"
HERE = Path(__file__).resolve().parent
NMTEST = pk.load_model(HERE / "data" / "nmtest_1cmt.toml")
# 1001.ctl: F2 = BIOAV, ALAG2 = LAGT, R2 = RAT2, D2 = DUR2 (data items)
NMTEST_DOSING = {"central": {"F": "BIOAV", "lag": "LAGT", "rate": "RAT2", "duration": "DUR2"}}
RTOL = 1e-4  # NONMEM prints 5 significant digits (its rounding alone reaches 5e-5)
FLOOR = 1e-6  # relative error where |CP| > FLOOR, absolute below (CP in NONMEM's units)
# Every scenario matches, the lag > II ones included, where NONMEM's state at TIME is the
# steady state II - lag (< 0) after an arrival (negative amounts in nlmixr2 IDs 409-1009).


def _nmtest(suite: str, engine: str):
    if not (SHARED / f"{suite}_nmtests_1001_TAB.txt").is_file():
        pytest.skip("../shared/validation/nonmem/data (nmtests) is not here")
    out = pk.simulate_dataset(
        NMTEST, SHARED / f"{suite}_nmtests_1001_input.csv", engine=engine, dosing=NMTEST_DOSING
    )
    ref = pd.read_csv(SHARED / f"{suite}_nmtests_1001_TAB.txt", sep=r"\s+", skiprows=1)
    assert len(out) == len(ref)  # one TAB row per data record, in order
    np.testing.assert_array_equal(out["ID"].to_numpy(), ref["ID"].to_numpy())
    np.testing.assert_array_equal(out["time"].to_numpy(), ref["TIME"].to_numpy())
    return out["ID"].to_numpy(), 1000.0 * out["IPRED"].to_numpy(), ref["CP"].to_numpy()


_RUNS = {}


def _worst(suite: str, engine: str, scenario: int) -> float:
    if (suite, engine) not in _RUNS:
        _RUNS[suite, engine] = _nmtest(suite, engine)
    ids, got, cp = _RUNS[suite, engine]
    s = ids == scenario
    assert s.any()
    big = np.abs(cp[s]) > FLOOR
    rel = np.abs(got[s] - cp[s])[big] / np.abs(cp[s][big])
    assert np.all(np.abs(got[s] - cp[s])[~big] <= FLOOR)
    return float(rel.max(initial=0.0))


NLMIXR2_IDS = list(range(1, 27)) + [
    102,
    109,
    110,
    111,
    125,
    210,
    211,
    225,
    310,
    311,
    325,
    409,
    410,
    411,
    415,
    425,
    509,
    510,
    525,
    609,
    610,
    625,
    709,
    725,
    809,
    825,
    909,
    1009,
]


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("scenario", range(1, 30))
def test_mrgsolve_nmtests_every_record_within_1e4_of_nonmem(scenario, engine):
    # NONMEM 7.5.1, every record (dose records and observations at dose times included)
    assert _worst("mrgsolve", engine, scenario) <= RTOL


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("scenario", NLMIXR2_IDS)
def test_nlmixr2_nmtests_every_record_within_1e4_of_nonmem(scenario, engine):
    # NONMEM 7.4.3, every record
    assert _worst("nlmixr2", engine, scenario) <= RTOL


@pytest.mark.parametrize("engine", ["analytic", "ode"])
def test_bauer402_ipred_of_every_record_is_nonmem_cipred(engine, tmp_path):
    if not (SHARED / "bauer2019_402.tab").is_file():
        pytest.skip("../shared/validation/nonmem/data (Bauer 2019 run 402) is not here")
    tab = nonmem_table(SHARED / "bauer2019_402.tab")
    worst = 0.0
    # the data set as written: two C lines (a comment, the header), no EVID, CMT or MDV
    data = read_dataset(SHARED / "bauer2019_402.csv").table
    for subject, rows in tab.groupby("ID", sort=False):  # 30 subjects, each its own posthoc model
        first = rows.iloc[0]
        path = tmp_path / f"b{int(subject)}.toml"
        path.write_text(
            '[model]\nname = "b"\nstructure = "two_compartment_oral"\n'
            + "".join(
                f'[parameters.{n}]\nvalue = {float(first[n])!r}\nunit = "{u}"\n'
                for n, u in (("CL", "L/h"), ("V1", "L"), ("Q", "L/h"), ("V2", "L"))
            )
            + '[parameters.ka]\nvalue = 1.0\nunit = "1/h"\n'
        )
        # ADVAN3's CMT 1 (central) is CMT 2 here: doses without CMT go to default_cmt
        out = pk.simulate_dataset(pk.load_model(path), data[data.ID == subject], engine=engine, default_cmt=2)
        assert len(out) == len(rows)
        ref = rows["IPRE"].to_numpy()
        worst = max(worst, float(np.max(np.abs(out["IPRED"].to_numpy() - ref) / ref)))
    # the table prints 6 significant digits (5e-6) and the posthoc CL, V1, Q, V2 too
    assert worst <= 1e-4
    assert worst < 2e-5


# --- covariates from the data: WT every 4 h ----------------------------------------------------

CL_PER_KG = """[model]
name = "wt_iv"
structure = "one_compartment_oral"
[parameters.CL]
value = 0.1
unit = "L/h/kg"
[parameters.V]
value = 10.0
unit = "L"
[parameters.ka]
value = 1.0
unit = "1/h"
"""


@pytest.fixture
def wt_model(tmp_path):
    path = tmp_path / "wt.toml"
    path.write_text(CL_PER_KG)
    return pk.load_model(path)


def _wt_data():
    # 100 mg IV bolus into central at 0 h; WT 10, 20, 30, 40 kg on records at 0, 4, 8, 12 h
    return pd.DataFrame(
        {
            "ID": 1,
            "TIME": [0.0, 2.0, 4.0, 6.0, 8.0, 12.0],
            "AMT": [100.0, 0, 0, 0, 0, 0],
            "EVID": [1, 0, 0, 0, 0, 0],
            "CMT": 2,
            "WT": [10.0, 20.0, 20.0, 30.0, 30.0, 40.0],
        }
    )


def test_time_varying_weight_nocb_changes_cl_at_the_records_that_end_each_interval(wt_model):
    out = pk.simulate_dataset(wt_model, _wt_data())
    # NOCB: over (t_i-1, t_i] k = CL/V = 0.1 * WT_i / 10 with WT of the record ending it
    k = 0.01 * np.array([20.0, 20.0, 30.0, 30.0, 40.0])
    dt = np.diff([0.0, 2.0, 4.0, 6.0, 8.0, 12.0])
    expected = 10.0 * np.exp(-np.cumsum(k * dt))
    np.testing.assert_allclose(out["IPRED"].to_numpy(), np.r_[10.0, expected], rtol=1e-12)


def test_time_varying_weight_locf_holds_each_record_forward(wt_model):
    out = pk.simulate_dataset(wt_model, _wt_data(), covariates="locf")
    k = 0.01 * np.array([10.0, 20.0, 20.0, 30.0, 30.0])  # each interval from the record starting it
    dt = np.diff([0.0, 2.0, 4.0, 6.0, 8.0, 12.0])
    np.testing.assert_allclose(
        out["IPRED"].to_numpy(), np.r_[10.0, 10.0 * np.exp(-np.cumsum(k * dt))], rtol=1e-12
    )


# --- records: comments, IDs, order ------------------------------------------------------------


def test_comment_rows_are_not_simulated_and_string_ids_come_back_in_input_order(wt_model):
    data = pd.DataFrame(
        {
            "C": [".", ".", "C", ".", "."],
            "ID": ["P002", "P002", "P002", "P001", "P001"],
            "TIME": [0.0, 1.0, 2.0, 0.0, 3.0],
            "AMT": [100.0, 0, 0, 50.0, 0],
            "EVID": [1, 0, 0, 1, 0],
            "CMT": 2,
            "WT": 10.0,
        }
    )
    out = pk.simulate_dataset(wt_model, data)
    assert list(out["ID"]) == ["P002", "P002", "P001", "P001"]  # the C row dropped
    assert list(out["TIME"]) == [0.0, 1.0, 0.0, 3.0]
    # k = 0.1 /h; P002 got 100 mg, P001 50 mg (IDs never mixed up)
    np.testing.assert_allclose(out["IPRED"], [10.0, 10 * np.exp(-0.1), 5.0, 5 * np.exp(-0.3)], rtol=1e-12)


def test_observation_before_a_dose_record_at_the_same_time_is_pre_dose(wt_model):
    data = pd.DataFrame(
        {
            "ID": 1,
            "TIME": [0.0, 5.0, 5.0, 5.0],
            "AMT": [100.0, 0, 100.0, 0],
            "EVID": [1, 0, 1, 0],
            "CMT": 2,
            "WT": 10.0,
        }
    )
    ipred = pk.simulate_dataset(wt_model, data)["IPRED"].to_numpy()
    pre = 10 * np.exp(-0.5)
    np.testing.assert_allclose(ipred, [10.0, pre, pre + 10.0, pre + 10.0], rtol=1e-12)


# --- steady state and resets against independent constructions --------------------------------


def _rows(**columns):
    return pd.DataFrame(columns).fillna(0)


def _obs(subject, times):
    return pd.DataFrame({"ID": subject, "TIME": times, "AMT": 0.0, "EVID": 0, "CMT": 2})


def _against_60_days(dose_row: dict, tail_h: float = 24.0, lag: float = 0.0):
    """SS=1 dose at TIME 0 (subject 1) vs the same dose every II for 60 days (subject 2)."""
    ii = dose_row["II"]
    n = int(round(1440 / ii))
    t = np.arange(0.0, tail_h + 0.25, 0.25)
    ss = pd.concat([pd.DataFrame([{**dose_row, "ID": 1, "TIME": 0.0, "EVID": 1, "SS": 1}]), _obs(1, t)])
    plain_ = pd.concat(
        [
            pd.DataFrame(
                [
                    {
                        **dose_row,
                        "ID": 2,
                        "TIME": -n * ii,
                        "EVID": 1,
                        "SS": 0,
                        "ADDL": n + dose_row.get("ADDL", 0),
                    }
                ]
            ),
            _obs(2, t),
        ]
    )
    data = pd.concat([ss, plain_]).fillna(0)
    dosing = {"central": {"lag": lag}, "depot": {"lag": lag}}
    out = pk.simulate_dataset(NMTEST, data, engine="analytic", dosing=dosing)
    a = out[(out.ID == 1) & (out.EVID == 0)]["IPRED"].to_numpy()
    b = out[(out.ID == 2) & (out.EVID == 0)]["IPRED"].to_numpy()
    return a, b


def test_ss_bolus_with_lag_is_sixty_days_of_lagged_doses():
    # 100 mg into the depot every 12 h, lag 2 h: at TIME the system is at steady state already
    a, b = _against_60_days({"AMT": 100.0, "CMT": 1, "II": 12.0, "ADDL": 2}, lag=2.0)
    # 60 days = 119 half-lives (t1/2 12.6 h): what is left of the start is 1e-36 of it
    np.testing.assert_allclose(a, b, rtol=1e-9)
    assert a[0] > 1.0  # not an empty body at TIME


def test_ss_infusion_longer_than_its_interval_is_sixty_days_of_overlapping_infusions():
    # 100 mg at 5 mg/h (20 h) every 8 h into central: 2.5 infusions at once
    a, b = _against_60_days({"AMT": 100.0, "CMT": 2, "II": 8.0, "RATE": 5.0, "ADDL": 3}, tail_h=60.0)
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_evid4_with_ss_and_addl_is_a_subject_without_the_history():
    t = np.arange(50.0, 100.25, 0.25)
    history = pd.DataFrame([{"ID": 1, "TIME": 0.0, "AMT": 300.0, "EVID": 1, "CMT": 2, "II": 6.0, "ADDL": 20}])
    reset = pd.DataFrame(
        [{"ID": 1, "TIME": 50.0, "AMT": 100.0, "EVID": 4, "CMT": 1, "SS": 1, "II": 12.0, "ADDL": 3}]
    )
    fresh = pd.DataFrame(
        [{"ID": 2, "TIME": 50.0 - 1440.0, "AMT": 100.0, "EVID": 1, "CMT": 1, "II": 12.0, "ADDL": 120 + 3}]
    )
    data = pd.concat([history, reset, _obs(1, t), fresh, _obs(2, t)]).fillna(0)
    out = pk.simulate_dataset(NMTEST, data, engine="analytic")
    a = out[(out.ID == 1) & (out.EVID == 0)]["IPRED"].to_numpy()
    b = out[(out.ID == 2) & (out.EVID == 0)]["IPRED"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-9)  # the reset cancels the pending ADDL of 300 mg


# --- refusals ----------------------------------------------------------------------------------

BASE = {"ID": [1, 1], "TIME": [0.0, 1.0], "AMT": [100.0, 0.0], "EVID": [1, 0], "CMT": [1, 2]}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"EVID": [5, 0]}, r"row 0 \(ID 1\), column EVID is 5; expected 0, 1, 2, 3 or 4"),
        ({"SS": [1, 0], "II": [0, 0]}, r"column II is 0 \(SS is 1\); expected an interval > 0 h"),
        ({"RATE": [-1, 0]}, r"column RATE is -1; expected a model that gives a rate"),
        ({"RATE": [-2, 0]}, r"column RATE is -2; expected a model that gives a duration"),
        ({"CMT": [3, 2]}, r"column CMT is 3; expected a compartment of one_compartment_oral"),
        ({"CMT": [1, 1]}, r"row 1 \(ID 1\), column CMT is 1; expected the observed compartment"),
        ({"TIME": [1.0, 0.0]}, r"row 1 \(ID 1\), column TIME is 0.0; expected a time >= 1.0"),
        ({"ID": [1, 2], "EVID": [1, 1], "AMT": [1.0, 1.0], "CMT": [1, 1]}, None),
    ],
)
def test_refusals_name_row_column_value(change, message):
    data = pd.DataFrame({**BASE, **change})
    if message is None:
        assert len(pk.simulate_dataset(NMTEST, data)) == 2
        return
    with pytest.raises(ValueError, match=message):
        pk.simulate_dataset(NMTEST, data)


def test_an_id_in_two_blocks_is_refused():
    data = pd.DataFrame(
        {
            "ID": [1, 2, 1],
            "TIME": [0.0, 0.0, 1.0],
            "AMT": [1.0, 1.0, 0.0],
            "EVID": [1, 1, 0],
            "CMT": [1, 1, 2],
        }
    )
    with pytest.raises(
        ValueError,
        match=r"row 2 \(ID 1\), column ID is 1; expected each ID's records "
        "together",
    ):
        pk.simulate_dataset(NMTEST, data)


# --- variability -------------------------------------------------------------------------------


def test_variability_adds_pred_and_dv_sim_reproducibly_from_the_seed():
    card = pk.load_model("baclofen_cp_card")  # IIV on CL and V, proportional residual error
    data = pd.DataFrame(
        {
            "ID": np.repeat([1, 2], 3),
            "TIME": np.tile([0.0, 2.0, 6.0], 2),
            "AMT": np.tile([10.0, 0, 0], 2),
            "EVID": np.tile([1, 0, 0], 2),
            "CMT": np.tile([1, 2, 2], 2),
            "WT": np.repeat([20.0, 30.0], 3),
        }
    )
    typical = pk.simulate_dataset(card, data)
    a = pk.simulate_dataset(card, data, variability=True, seed=3)
    b = pk.simulate_dataset(card, data, variability=True, seed=3)
    pd.testing.assert_frame_equal(a, b)  # the seed decides
    np.testing.assert_array_equal(a["PRED"], typical["IPRED"])  # PRED: no random effects
    assert np.all(np.abs(a["IPRED"] - a["PRED"])[data.EVID == 0] > 1e-6)  # IPRED: each child's own
    assert a["DV_SIM"][data.EVID == 1].isna().all()  # only on observations
    obs = (data.EVID == 0).to_numpy()
    assert np.all(a["DV_SIM"][obs] != a["IPRED"][obs])
