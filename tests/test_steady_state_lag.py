"""SS=1 and SS=2 doses with an absorption lag (issue 12 item 4).

NONMEM has the system at steady state at the SS record's TIME with the lagged
doses of the past already in it: the doses given at TIME - k II arrive at
TIME - k II + lag, and those given before TIME that arrive after it are still
to come. References: the same doses given for 60 days (an independent
construction, exact to far below 1e-9 after 320 half-lives), and NONMEM 7.4.3's
own output (nlmixr2/nmtests, read from ../shared/validation/nonmem/, skipped
when absent).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from conftest import write_model
from pkmodel.engines import analytic, ode
from pkmodel.model.structures import Structure

NONMEM = Path(__file__).resolve().parents[2] / "shared" / "validation" / "nonmem" / "data"
SS_AT_H = 60 * 24.0  # the SS record's time; the plain doses run from 0 h to it
II_H = 8.0


def lagged_model(tmp_path, lag_h: float, iiv_sd: float = 0.0):
    return pk.load_model(write_model(tmp_path, tlag={"value": lag_h, "unit": "h", "iiv_sd": iiv_sd}))


def events(time_h, addl, ss) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ID": [1, 2, 3],
            "TIME": [time_h] * 3,
            "AMT": [10.0, 20.0, 15.0],
            "EVID": 1,
            "CMT": 1,
            "SS": ss,
            "II": II_H,
            "ADDL": addl,
        }
    )


COHORT = pk.Cohort(weight_kg=[12.0, 45.0, 30.0], age_years=[4.0, 14.0, 9.0])
# from just after the SS record through the lag and three dosing intervals after it
TIMES = SS_AT_H + np.linspace(0.25, 24.0, 96)


# lags < II, = II, > II, = 2 II, > 2 II; one lag for all (shared times), or each child its own
# (the per-subject paths); the ode engine (slow over 180 doses) on three of them
CASES = [("analytic", lag, sd) for lag in (2.0, 8.0, 11.0, 16.0, 21.5) for sd in (0.0, 0.5)] + [
    ("ode", 2.0, 0.5),
    ("ode", 11.0, 0.0),
    ("ode", 16.0, 0.5),
]


@pytest.mark.parametrize("engine, lag_h, iiv_sd", CASES)
def test_ss1_with_a_lag_equals_60_days_of_the_same_lagged_doses(tmp_path, engine, lag_h, iiv_sd):
    model = lagged_model(tmp_path, lag_h, iiv_sd)
    steady = pk.simulate(model, COHORT, pk.read_events(events(SS_AT_H, 3, 1)), TIMES, engine=engine, seed=3)
    plain = pk.simulate(model, COHORT, pk.read_events(events(0.0, 183, 0)), TIMES, engine=engine, seed=3)
    if iiv_sd:
        assert np.unique(steady.individual["tlag"]).size == 3  # the per-subject paths
    # the plain doses are at steady state to far below 1e-9 after 320 half-lives; the ode
    # engine to its own tolerance over 180 doses
    rtol = 1e-9 if engine == "analytic" else 1e-6
    np.testing.assert_allclose(steady.concentrations, plain.concentrations, rtol=rtol)
    # during the lag the curve is the steady state's, not 0 (issue 12: 0 vs 0.13344)
    assert np.all(steady.concentrations[:, 0] > 0.1 * steady.concentrations.max(axis=1))


@pytest.mark.parametrize("lag_h", [3.0, 11.0])
def test_ss2_with_a_lag_adds_that_steady_state_to_what_is_there(tmp_path, lag_h):
    model = lagged_model(tmp_path, lag_h)
    one = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(24.25, 60.0, 0.25)
    # a 7 mg dose that arrives 1 h before the SS record
    first = {"ID": [1], "TIME": [23.0 - lag_h], "AMT": [7.0], "EVID": 1, "CMT": 1, "SS": [0], "II": [0.0]}
    steady = {"ID": [1], "TIME": [24.0], "AMT": [10.0], "EVID": 1, "CMT": 1, "SS": [2], "II": [II_H]}

    def run(*parts):
        frame = pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)
        return pk.simulate(model, one, pk.read_events(frame), times, variability=False).concentrations[0]

    reset = run(first, {**steady, "SS": [1]})
    # linear: SS=2 is SS=1's steady state plus what the 7 mg dose left (SS=1 resets it away)
    np.testing.assert_allclose(run(first, steady), reset + run(first), rtol=1e-12)


# --- NONMEM's own output ------------------------------------------------------------------


class _CentralDosing(Structure):
    """The nmtests model puts F2 and ALAG2 on doses into central; pkmodel's F and tlag are the
    dose compartment's. This test double makes central the dose compartment, so that the
    engines' handling of F and the lag of an SS dose meets NONMEM's records as they are."""

    @property
    def dose_index(self) -> int:
        return self.central_index


def nonmem_scenario(scenario: int):
    if not (NONMEM / "nlmixr2_nmtests_1001_input.csv").exists():
        pytest.skip("NONMEM reference data (../shared/validation/nonmem) not present")
    data = pd.read_csv(NONMEM / "nlmixr2_nmtests_1001_input.csv", na_values=["."])
    data.columns = [c.upper() for c in data.columns]
    data["CP"] = pd.read_csv(NONMEM / "nlmixr2_nmtests_1001_TAB.txt", skiprows=1, sep=r"\s+").CP.to_numpy()
    rows = data[data.ID == scenario]
    return rows[rows.EVID != 0], rows[rows.EVID == 0]


@pytest.mark.parametrize("engine", [analytic, ode], ids=["analytic", "ode"])
@pytest.mark.parametrize(
    "scenario, lag_h",
    [
        (15, 4.0),  # SS=1 bolus into central, F 0.412, lag 4 < II 24, ADDL 3
        (625, 3.0),  # SS=1, SS=2, SS=1 (ADDL 2), SS=2 (ADDL 2) into central, lag 3
        (415, 28.0),  # SS=1 bolus into central, F 0.412, lag 28 > II 24, ADDL 2
    ],
)
def test_ss_doses_with_a_lag_reproduce_nonmem(engine, scenario, lag_h):
    doses, obs = nonmem_scenario(scenario)
    assert (doses.CMT == 2).all() and (doses.LAGT == lag_h).all()
    table = doses[["ID", "TIME", "AMT", "EVID", "CMT", "II", "ADDL", "SS", "RATE"]].reset_index(drop=True)
    given = pk.read_events(table).doses(pk.Cohort(weight_kg=[70.0], age_years=[40.0], ids=[scenario]))
    # ADVAN2 TRANS2, CL 1.1 L/h, V 20 L, KA 1.5 /h (mrgsolve/nmtests 1001.ctl); CP = 1000 C
    params = {
        "CL": np.array([1.1]),
        "V": np.array([20.0]),
        "ka": np.array([1.5]),
        "F": np.array([doses.BIOAV.iloc[0]]),
        "tlag": np.array([lag_h]),
    }
    times = obs.TIME.to_numpy(float)
    cp = 1000 * engine.simulate(_CentralDosing("one_compartment_oral"), params, given, times)[0]
    ref = obs.CP.to_numpy(float)
    # where C jumps (a bolus arrives, an SS record resets) NONMEM's observation record, after
    # the dose record, has the value after it; pkmodel reports the value before (README)
    # (the doses of the rows and their ADDL at TIME + lag + k II, and those of an SS row's past
    # still to come at TIME + lag - k II)
    arrivals = [
        r.TIME + lag_h + k * r.II
        for r in doses.itertuples()
        for k in range(-int(np.ceil(lag_h / r.II)) + 1 if r.SS else 0, int(r.ADDL) + 1)
    ]
    jump = np.isin(times, np.r_[arrivals, doses.TIME[doses.SS > 0]])
    # lag >= II: before the first dose of the past still to come (at TIME + lag - II here),
    # NONMEM 7.4.3 has the steady state after that dose, run backwards from its arrival:
    # NONMEM = pkmodel + F AMT / V e^{k (arrival - t)} there; from the arrival on they agree
    k, v = 1.1 / 20.0, 20.0
    window = np.zeros(times.size, dtype=bool)
    expected = ref.copy()
    if lag_h >= 24.0:
        for r in doses[doses.SS > 0].itertuples():
            arrival = r.TIME + lag_h - r.II
            window |= (times >= r.TIME) & (times < arrival)
            pending = 1000 * r.BIOAV * r.AMT / v * np.exp(k * (arrival - times))
            expected = np.where((times >= r.TIME) & (times < arrival), ref - pending, expected)
        assert window.sum() >= 4
    compare = (~jump | window) & ~np.isin(times, doses.TIME[doses.SS > 0])
    # NONMEM prints 5 significant digits: 5e-5 relative, and a little more where it subtracts
    np.testing.assert_allclose(cp[compare], expected[compare], rtol=1e-4, atol=1e-3)
    assert compare.sum() > 100
