"""Command line: `python -m pkmodel` runs the main job (TID vs QID at 2 mg/kg/day)."""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from .cohort import Cohort
from .dosing import Regimen
from .exposure import exposure
from .io import atomic_write
from .model import load_model
from .simulate import simulate
from .units import concentration_in

# GMFCS levels I-V of the job's children: the mean proportions over nine population CP
# registries, 34.2, 25.6, 11.5, 13.7 and 15.6 % (Reid SM, Carlin JB, Reddihough DS. Dev Med
# Child Neurol 2011;53:1007-12); as published they sum to 100.6 %, so they are normalised here.
# Registries count every child with CP, not only those given baclofen.
REGISTRY_GMFCS_PERCENT = (34.2, 25.6, 11.5, 13.7, 15.6)
GMFCS_MIX = {level: p / sum(REGISTRY_GMFCS_PERCENT) for level, p in enumerate(REGISTRY_GMFCS_PERCENT, 1)}
# (label, youngest, oldest) in completed years: age in [youngest, oldest + 1)
AGE_BANDS = (("2-6 y", 2, 6), ("7-11 y", 7, 11), ("12-17 y", 12, 17))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="pkmodel",
        description="Oral baclofen in children with cerebral palsy (CDC 2000 growth charts, "
                    "ages 2-17, registry mix of GMFCS levels): 2 mg/kg/day TID vs QID for 14 "
                    "days (caps 20 mg/dose, 80 mg/day), steady-state exposure by age band. "
                    "A research tool, not clinical dosing advice.")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    parser.add_argument("--n", type=int, default=1000, help="children (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that exist (default: refuse)")
    args = parser.parse_args(argv)
    table_path, figure_path = args.out / "tid_vs_qid_exposure.csv", args.out / "tid_vs_qid.png"
    for path in (table_path, figure_path):  # before the run, not after it
        if path.exists() and not args.overwrite:
            parser.error(f"{path} exists; pass --overwrite to replace it")
    table, figure = tid_vs_qid(n=args.n, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    with pd.option_context("display.width", 120, "display.precision", 2):
        print(table.to_string(index=False))
    with atomic_write(table_path, overwrite=args.overwrite, text=True) as f:
        table.to_csv(f, index=False)
    with atomic_write(figure_path, overwrite=args.overwrite) as f:
        figure.savefig(f, format="png", dpi=120, bbox_inches="tight")
    print(f"wrote {table_path} and {figure_path}")
    return 0


def tid_vs_qid(n: int = 1000, seed: int = 1, days: int = 14):
    """The main job: steady-state exposure of TID vs QID at 2 mg/kg/day, by age band.

    Cohort: `Cohort.from_growth_charts(n, age_years=(2, 17), gmfcs=GMFCS_MIX,
    seed=seed)`: CDC 2000 weights and heights with the Ruiz Brunner 2022
    weight-for-age offsets by GMFCS level.

    Returns (DataFrame: regimen, age_band, n, metric, median, p5, p95, with
    weight (kg), dose received (mg/kg/day) and Cmax, Cmin, Cavg (ng/mL) over
    the last day; Figure of the last two days).
    """
    from .plots import percentile_band

    cohort = Cohort.from_growth_charts(n, age_years=(2, 17), seed=seed, gmfcs=GMFCS_MIX)
    model = load_model("baclofen_cp_card")
    end = 24.0 * days
    times = np.arange(0.0, end + 0.25, 0.5)
    completed_years = np.floor(cohort.age_years)
    results, rows = {}, []
    for label, per_day in (("TID", 3), ("QID", 4)):
        regimen = Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=per_day, days=days,
                                       max_mg_per_dose=20, max_mg_per_day=80)
        res = simulate(model, cohort, regimen, times, seed=seed)
        results[label] = res
        metrics = exposure(res, start=end - 24, end=end)
        last_day = (res.doses.time_h >= end - 24) & (res.doses.time_h < end)
        values = {"weight (kg)": cohort.weight_kg,
                  "dose (mg/kg/day)": res.doses.amount_mg[:, last_day].sum(axis=1) / cohort.weight_kg}
        for metric in ("cmax", "cmin", "cavg"):
            values[f"{metric} (ng/mL)"] = concentration_in(metrics[metric].to_numpy(), "ng/mL")
        for band, youngest, oldest in AGE_BANDS:
            in_band = (completed_years >= youngest) & (completed_years <= oldest)
            for metric, per_child in values.items():
                p5, p50, p95 = np.percentile(per_child[in_band], [5, 50, 95])
                rows.append({"regimen": label, "age_band": band, "n": int(in_band.sum()),
                             "metric": metric, "median": p50, "p5": p5, "p95": p95})
    figure = percentile_band(results, start=end - 48, end=end)
    figure.axes[0].set_title(f"Baclofen 2 mg/kg/day, {n} children with CP aged 2-17 y, "
                             f"days {days - 1}-{days}")
    return pd.DataFrame(rows), figure
