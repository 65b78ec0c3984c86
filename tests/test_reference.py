"""Both engines against an independent simulator: mrgsolve 2.0.2 profiles of the bundled models.

The profiles, their doses and grids are in tests/data/reference/ (README.md there says how
they were made). Each reference subject is simulated on exactly its doses from doses.csv.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk

REFERENCE = Path(__file__).parent / "data" / "reference"
DOSES = pd.read_csv(REFERENCE / "doses.csv")
GRIDS = pd.read_csv(REFERENCE / "grids.csv").set_index("case")
CASES = list(GRIDS.index)
# "he2014" profiles were made of the first He 2014 reconstruction (no absorption step after the
# transit chain), kept with the same numbers as baclofen_cp_he2014_fast_absorption
MODELS = {"card": "baclofen_cp_card", "he2014": "baclofen_cp_he2014_fast_absorption"}
# The bound, met by both engines: mrgsolve ran LSODA at rtol 1e-12 (its profiles agree
# with a matrix exponential to ~1e-11), the ode engine runs DOP853 at rtol 1e-10, atol 1e-12 mg
# (its error grows with cohort size, which is why 1e-6 and not tighter is what it promises).
RTOL = 1e-6
# The analytic engine is exact to rounding: what is left is the reference's own ~1e-11.
RTOL_ANALYTIC = 1e-10
# Only where the curve is visible: below 1e-3 Cmax a relative error measures nothing useful
# (the reference is 0 before the first dose); there the absolute error is held to 1e-9 Cmax.
VISIBLE = 1e-3


def reference_profiles(case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IDs (n,), times (n_times,) h and concentrations (n, n_times) mg/L of one case."""
    table = pd.read_csv(REFERENCE / f"{case}.csv").pivot(index="ID", columns="time", values="conc_mg_per_L")
    return table.index.to_numpy(), table.columns.to_numpy(dtype=float), table.to_numpy()


def simulate_case(case: str, engine: str) -> np.ndarray:
    """pkmodel's profiles of every subject of a case, (n_subjects, n_times), mg/L."""
    ids, times, _ = reference_profiles(case)
    end, step = GRIDS.loc[case, ["end", "step"]]
    grid = np.arange(0.0, end + step / 2, step)
    # the grid file and the profiles agree (the profiles' times are printed to ~15 digits)
    np.testing.assert_allclose(times, grid, rtol=0, atol=1e-9)
    rows = []
    for subject in ids:  # each subject has its own doses: a few subjects per case
        doses = DOSES[(DOSES["case"] == case) & (DOSES["ID"] == subject)]
        model = pk.load_model(MODELS[doses["model"].iloc[0]])
        cohort = pk.Cohort(weight_kg=[doses["weight_kg"].iloc[0]], age_years=[8.0], ids=[subject])
        regimen = pk.Regimen(
            time_h=doses["time"].to_numpy(),
            mg=doses["amt"].to_numpy(),
            mg_per_kg=np.inf,
            max_mg=np.inf,
            label=case,
        )
        res = pk.simulate(model, cohort, regimen, grid, engine=engine, variability=False)
        rows.append(res.concentrations[0])
    return np.array(rows)


def errors(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Largest relative error where visible, largest absolute error elsewhere over Cmax."""
    cmax = expected.max(axis=1, keepdims=True)
    visible = expected > VISIBLE * cmax
    diff = np.abs(actual - expected)
    relative = float(np.max(diff[visible] / expected[visible]))
    hidden = float(np.max((diff / cmax)[~visible], initial=0.0))
    return relative, hidden


def test_reference_set_is_complete():
    # every case in the grid file has doses and profiles; every dosed subject has a profile
    assert (
        sorted(CASES)
        == sorted(DOSES["case"].unique())
        == ["card_irregular", "card_tid_weights", "he2014_qid"]
    )
    for case in CASES:
        ids, _, conc = reference_profiles(case)
        assert sorted(ids) == sorted(DOSES.loc[DOSES["case"] == case, "ID"].unique())
        assert np.all(np.isfinite(conc)) and conc.max() > 0


@pytest.mark.parametrize("engine", ["analytic", "ode"])
@pytest.mark.parametrize("case", CASES)
def test_engine_matches_mrgsolve(case, engine):
    _, _, expected = reference_profiles(case)
    relative, hidden = errors(simulate_case(case, engine), expected)
    # measured: analytic 9.6e-13 / 1.2e-12 / 2.6e-12, ode 2.3e-12 / 1.3e-12 / 3.2e-12
    # (card_tid_weights / card_irregular / he2014_qid)
    assert relative <= (RTOL_ANALYTIC if engine == "analytic" else RTOL)
    assert hidden <= 1e-9


def test_two_doses_at_one_time_add_as_in_the_reference():
    # card_irregular gives 7.5 mg and 2.5 mg at 30.25 h; one 10 mg dose there is the same input
    doses = DOSES[DOSES["case"] == "card_irregular"]
    assert (doses["time"] == 30.25).sum() == 2
    merged = doses.groupby("time", as_index=False)["amt"].sum()
    model = pk.load_model("baclofen_cp_card")
    cohort = pk.Cohort(weight_kg=[doses["weight_kg"].iloc[0]], age_years=[8.0])
    _, times, expected = reference_profiles("card_irregular")
    regimen = pk.Regimen(
        time_h=merged["time"].to_numpy(), mg=merged["amt"].to_numpy(), mg_per_kg=np.inf, max_mg=np.inf
    )
    conc = pk.simulate(model, cohort, regimen, times, variability=False).concentrations
    assert errors(conc, expected)[0] <= RTOL_ANALYTIC


@pytest.mark.parametrize("case, doses_per_day, days", [("card_tid_weights", 3, 7), ("he2014_qid", 4, 5)])
def test_weight_based_builder_gives_the_reference_doses_and_curves_for_the_whole_cohort(
    case, doses_per_day, days
):
    # the README's regimens: 2 mg/kg/day capped at 20 mg/dose; one call for every weight
    doses = DOSES[DOSES["case"] == case]
    ids, times, expected = reference_profiles(case)
    weights = doses.groupby("ID")["weight_kg"].first().loc[ids].to_numpy()
    cohort = pk.Cohort(weight_kg=weights, age_years=np.full(ids.size, 8.0), ids=ids)
    regimen = pk.Regimen.weight_based(
        mg_per_kg_day=2.0, doses_per_day=doses_per_day, days=days, max_mg_per_dose=20
    )
    given = regimen.doses(cohort)
    amounts = doses.pivot(index="ID", columns="time", values="amt").loc[ids]
    np.testing.assert_array_equal(given.time_h, amounts.columns.to_numpy(dtype=float))
    # the reference's amounts are printed to 16 digits: 2 ulp
    np.testing.assert_allclose(given.amount_mg, amounts.to_numpy(), rtol=4e-16)
    model = pk.load_model(MODELS[doses["model"].iloc[0]])
    conc = pk.simulate(model, cohort, regimen, times, variability=False).concentrations
    assert errors(conc, expected)[0] <= RTOL_ANALYTIC
