"""The `make run` study's tables (`pkmodel.study`): the printed summary by regimen and age
band, the exposure summaries, and where the caps bind."""

import pandas as pd

from .analysis.exposure import METRICS
from .analysis.summary import summarize
from .dosing.regimen import Regimen
from .population.cohort import Cohort, cohort_rows
from .units import concentration_in

# what the summary table gives, per regimen and age band
SUMMARY_METRICS = ("weight (kg)", "dose (mg/kg/day)", "cmax (ng/mL)", "cmin (ng/mL)", "cavg (ng/mL)")
PERCENTILES = "median [5th-95th percentile]"
"""How the summary's cells read (`wide`), said wherever the table is shown."""


def capped(
    exposures: pd.DataFrame, cohort: Cohort, regimens: dict[str, Regimen], chunk: int = 100_000
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per regimen and weight band: children, those a cap holds below the weight-based dose,
    their median dose received; and per regimen the lightest child a cap holds, kg.

    Held by a cap: `Regimen.describe(cohort)["cap_bound"]` (the last dose as prescribed).
    """
    bound = []
    for label, regimen in regimens.items():  # over regimens, chunks of children vectorised
        for a in range(0, len(cohort), chunk):
            rows = cohort_rows(cohort, a, min(a + chunk, len(cohort)))
            bound.append(
                pd.DataFrame(
                    {"regimen": label, "id": rows.ids, "held": regimen.describe(rows)["cap_bound"].to_numpy()}
                )
            )
    table = exposures[["regimen", "id", "weight_band", "weight_kg", "dose_mg_per_kg_day"]]
    table = table.merge(
        pd.concat(bound).astype({"regimen": table["regimen"].dtype}),
        on=["regimen", "id"],
        validate="one_to_one",
    )
    out = (
        table.groupby(["regimen", "weight_band"], observed=True, sort=True)
        .agg(n=("held", "size"), held=("held", "sum"), dose=("dose_mg_per_kg_day", "median"))
        .reset_index()
    )
    held = table[table["held"]].groupby("regimen", observed=True)["weight_kg"].min()
    return pd.DataFrame(
        {
            "regimen": out["regimen"],
            "weight_band": out["weight_band"],
            "n": out["n"],
            "n_capped": out["held"],
            "capped_pct": 100 * out["held"] / out["n"],
            "dose_median_mg_per_kg_day": out["dose"],
        }
    ), held.astype(float).to_dict()


def where_caps_bind(caps: pd.DataFrame, lightest: dict[str, float]) -> str:
    """Which children a cap holds, by regimen, in a sentence (from `capped`)."""
    labels = (
        list(caps["regimen"].cat.categories)
        if isinstance(caps["regimen"].dtype, pd.CategoricalDtype)
        else list(dict.fromkeys(caps["regimen"]))
    )
    if not lightest:
        return "No cap binds for any child."
    totals = caps.groupby("regimen", observed=True)[["n", "n_capped"]].sum()
    free = [label for label in labels if label not in lightest]
    return (
        "Caps hold the dose below the weight-based amount for heavier children: "
        + "; ".join(
            f"{label} from {kg:.1f} kg ({totals.loc[label, 'n_capped']:,} of "
            f"{totals.loc[label, 'n']:,} children)"
            for label, kg in lightest.items()
        )
        + (f"; none for {', '.join(free)}" if free else "")
        + "."
    )


def summary_table(exposures: pd.DataFrame) -> pd.DataFrame:
    """Median and 5th-95th percentile by regimen and age band of `SUMMARY_METRICS`.

    Returns
    -------
    DataFrame: regimen, age_band, metric, n, median, p5, p95 (weight in kg,
    dose received in mg/kg/day, Cmax, Cmin and Cavg over the last day in ng/mL).
    """
    shown = {
        "weight (kg)": exposures["weight_kg"].to_numpy(),
        "dose (mg/kg/day)": exposures["dose_mg_per_kg_day"].to_numpy(),
    }
    for metric in ("cmax", "cmin", "cavg"):
        shown[f"{metric} (ng/mL)"] = concentration_in(exposures[metric].to_numpy(), "ng/mL")
    keys = exposures[["regimen", "age_band"]]
    parts = []
    for metric, values in shown.items():  # a metric at a time: no long table of them all
        grouped = pd.Series(values, index=pd.MultiIndex.from_frame(keys)).groupby(
            level=[0, 1], observed=True, sort=True
        )
        parts.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "n": grouped.size(),
                    "median": grouped.median(),
                    "p5": grouped.quantile(0.05),
                    "p95": grouped.quantile(0.95),
                }
            )
        )
    table = pd.concat(parts).reset_index()
    table["metric"] = pd.Categorical(table["metric"], categories=SUMMARY_METRICS, ordered=True)
    return table.sort_values(["regimen", "age_band", "metric"], kind="stable", ignore_index=True)[
        ["regimen", "age_band", "metric", "n", "median", "p5", "p95"]
    ]


def summaries(exposures: pd.DataFrame) -> pd.DataFrame:
    """`pk.summarize(exposures, by=["regimen", "age_band"], unit="ng/mL")`, the same rows,
    computed a regimen and a metric at a time (memory: one column of one regimen)."""
    # the peak's absolute time is no exposure to summarise (tmax_h_after_dose is)
    present = [m for m in METRICS if m in exposures.columns and m != "tmax_h"]
    parts = []
    for label in exposures["regimen"].cat.categories:  # groups never span regimens or metrics
        rows = (exposures["regimen"] == label).to_numpy()
        for metric in present:
            parts.append(
                summarize(
                    exposures.loc[rows, ["regimen", "age_band", metric]],
                    by=["regimen", "age_band"],
                    metrics=[metric],
                    unit="ng/mL",
                )
            )
    table = pd.concat(parts, ignore_index=True)
    table["metric"] = pd.Categorical(table["metric"], categories=present, ordered=True)
    return table.sort_values(["regimen", "age_band", "metric"], kind="stable", ignore_index=True)


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as one row per regimen and age band: n, then 'median [p5-p95]' per metric."""
    cells = table.assign(
        cell=[f"{m:.3g} [{lo:.3g}-{hi:.3g}]" for m, lo, hi in zip(table["median"], table["p5"], table["p95"])]
    )
    out = cells.pivot(index=["regimen", "age_band", "n"], columns="metric", values="cell")
    out.columns = [str(c) for c in out.columns]
    return out.reset_index()
