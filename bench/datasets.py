"""D1: `pk.simulate_dataset` on N subjects x 50 records (a sparse clinical design, issue 15).

Each subject: one dose record (weight-based 2 mg/kg q12h with ADDL 13, 7 days into the
depot) and 49 observation records at the same 49 times over the 7 days, WT on every
record; against `pk.simulate` of the same cohort and regimen on those 49 times (the
equivalent grid), whose concentrations it must equal off the dose times.

Run: `python -m bench.datasets [N]` prints one JSON row (median of 3 timed runs after an
untimed one: simulate_dataset s, simulate s, their ratio, the largest difference).
"""

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd

import pkmodel as pk

OBS_H = np.linspace(1.0, 167.0, 49)  # 49 sampling times, none at a dose time (every 12 h)


def d1_inputs(n: int):
    """The card model, N children (weights uniform 10-60 kg, default_rng(1)), the data set."""
    model = pk.load_model("baclofen_cp_card")
    rng = np.random.default_rng(1)
    weight = rng.uniform(10, 60, n)
    cohort = pk.Cohort(weight_kg=weight, age_years=np.full(n, 8.0))
    regimen = pk.Regimen.fixed(mg=1.0, every_h=12, n_doses=14)  # amounts per child below
    ids = np.arange(1, n + 1)
    dose = pd.DataFrame(
        {
            "ID": ids,
            "TIME": 0.0,
            "AMT": 2.0 * weight,
            "EVID": 1,
            "CMT": 1,
            "II": 12.0,
            "ADDL": 13,
            "WT": weight,
        }
    )
    obs = pd.DataFrame(
        {
            "ID": np.repeat(ids, OBS_H.size),
            "TIME": np.tile(OBS_H, n),
            "AMT": 0.0,
            "EVID": 0,
            "CMT": 2,
            "II": 0.0,
            "ADDL": 0,
            "WT": np.repeat(weight, OBS_H.size),
        }
    )
    data = pd.concat([dose, obs]).sort_values(["ID", "TIME"], kind="stable").reset_index(drop=True)
    events = pk.read_events(dose.drop(columns="WT"))
    return model, cohort, regimen, data, events


def d1_row(n: int = 10_000, repeats: int = 3) -> dict:
    model, cohort, _, data, events = d1_inputs(n)

    def one_dataset():
        return pk.simulate_dataset(model, data)

    def one_grid():
        return pk.simulate(model, cohort, events, OBS_H, variability=False)

    got, grid = one_dataset(), one_grid()  # untimed: imports, caches
    ipred = got.loc[got.EVID == 0, "IPRED"].to_numpy().reshape(n, OBS_H.size)
    diff = float(np.max(np.abs(ipred - grid.concentrations)))
    times = {"simulate_dataset_s": [], "simulate_s": []}
    for _ in range(repeats):
        for key, fn in (("simulate_dataset_s", one_dataset), ("simulate_s", one_grid)):
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    row = {k: statistics.median(v) for k, v in times.items()}
    return {
        "workload": "D1",
        "n": n,
        "records": int(len(data)),
        **row,
        "ratio": row["simulate_dataset_s"] / row["simulate_s"],
        "max_abs_diff_mg_L": diff,
    }


if __name__ == "__main__":
    print(json.dumps(d1_row(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
