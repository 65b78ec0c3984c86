"""Exposure tables summarised: age and weight bands, distributions, target attainment."""

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._checks import is_number, plain
from ..population.cohort import Cohort
from .exposure import METRICS, check_range
from ..units import metric_in

Bands = Mapping[str, tuple[float, float]]

AGE_BANDS: Bands = {"2-6 y": (2.0, 7.0), "7-11 y": (7.0, 12.0), "12-17 y": (12.0, 18.0)}
"""Age bands, years, each [low, high): "2-6 y" holds ages 2.0 to 6.99 (completed years 2-6)."""

WEIGHT_BANDS: Bands = {
    "<15 kg": (0.0, 15.0),
    "15-20 kg": (15.0, 20.0),
    "20-30 kg": (20.0, 30.0),
    "30-40 kg": (30.0, 40.0),
    "40-50 kg": (40.0, 50.0),
    ">=50 kg": (50.0, math.inf),
}
"""Weight bands, kg, each [low, high): "15-20 kg" holds 15.0 to 19.99 kg."""

PERCENTILES = (5, 25, 75, 95)

BAND_COVARIATES = {"age_band": "age_years", "weight_band": "weight_kg"}


def band_of(values: np.ndarray, bands: Bands, name: str) -> pd.Categorical:
    """The band each value falls in, as an ordered categorical (bands sorted by their low end).

    values : ndarray, shape (n,), in the bands' unit. Every value must fall in a
    band; bands must not overlap.
    """
    labels, edges = _check_bands(bands, name)
    k = np.searchsorted(edges[:, 0], values, side="right") - 1
    outside = (k < 0) | (values >= edges[np.clip(k, 0, None), 1])
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{name}: {plain(values[i])!r} (entry {i}) is in no band; expected a value "
            f"in one of {dict(zip(labels, map(tuple, edges.tolist())))}"
        )
    return pd.Categorical.from_codes(k, categories=labels, ordered=True)


def add_bands(
    exposures: pd.DataFrame,
    cohort: Cohort,
    *,
    age: Bands | None = AGE_BANDS,
    weight: Bands | None = WEIGHT_BANDS,
) -> pd.DataFrame:
    """A copy of `exposures` with age_band and weight_band columns, joined on id with `cohort`.

    age : {label: (low, high)} in years, each [low, high); None for no age_band.
    weight : {label: (low, high)} in kg, each [low, high); None for no weight_band.
    """
    _check_table(exposures, "exposures", ["id"])
    at = pd.Index(cohort.ids).get_indexer(exposures["id"].to_numpy())
    if (at < 0).any():
        raise ValueError(
            f"exposures: id {plain(exposures['id'].to_numpy()[at < 0][0])!r} is not in "
            "the cohort; expected the cohort the exposures were simulated for"
        )
    out = exposures.copy()
    for column, bands in (("age_band", age), ("weight_band", weight)):
        if bands is not None:
            covariate = getattr(cohort, BAND_COVARIATES[column])
            out[column] = band_of(covariate, bands, f"Cohort.{BAND_COVARIATES[column]}")[at]
    return out


def summarize(
    exposures: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    percentiles: Sequence[float] = PERCENTILES,
    unit: str = "mg/L",
) -> pd.DataFrame:
    """Distribution of each exposure metric per group, tidy: one row per group and metric.

    Parameters
    ----------
    by : column name(s) to group by (e.g. ["regimen", "age_band"]), or None
    metrics : metric columns to summarise (default: every column of
        `pkmodel.analysis.exposure.METRICS` in the table)
    unit : concentration unit of the summary ("mg/L", "ug/mL" or "ng/mL");
        AUC follows (mg*h/L, ng*h/mL).

    Returns
    -------
    DataFrame: the `by` columns, metric, unit, n (values present), mean,
    geo_mean (NaN where a value is <= 0), median, p5, p25, p75, p95 (one
    column per percentile).
    """
    groups = _as_list(by)
    present = [m for m in METRICS if m in exposures.columns] if metrics is None else list(metrics)
    _check_table(exposures, "exposures", [*groups, *present])
    unknown = [m for m in present if m not in METRICS]
    if unknown:
        raise ValueError(
            f"summarize: metric {unknown[0]!r} is not an exposure metric; expected some of {list(METRICS)}"
        )
    if not present:
        raise ValueError(f"summarize: exposures has no metric column; expected some of {list(METRICS)}")
    q = _check_percentiles(percentiles)
    long = exposures.melt(id_vars=groups, value_vars=present, var_name="metric")
    long["metric"] = pd.Categorical(long["metric"], categories=present, ordered=True)
    value = long["value"].astype(float)
    long["log"] = np.log(value.where(value > 0))
    grouped = long.groupby([*groups, "metric"], observed=True, sort=True)
    table = grouped["value"].agg(n="count", mean="mean", median="median")
    table["geo_mean"] = np.exp(grouped["log"].mean()).where(grouped["value"].min() > 0)
    quantiles = grouped["value"].quantile(q / 100).unstack()
    for p, column in zip(percentiles, quantiles.columns):
        table[f"p{p:g}"] = quantiles[column]
    table = table.reset_index()
    stats = ["mean", "geo_mean", "median", *[f"p{p:g}" for p in percentiles]]
    scale = {m: metric_in(1.0, METRICS[m][0], unit) for m in present}  # (factor, label)
    metric = table["metric"].astype(str)
    table[stats] = table[stats].mul(metric.map(lambda m: float(scale[m][0])), axis=0)
    table.insert(len(groups) + 1, "unit", metric.map(lambda m: scale[m][1]))
    table["n"] = table["n"].astype(np.int64)
    return table[[*groups, "metric", "unit", "n", *stats]]


def target_attainment(
    exposures: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    metric: str = "cavg",
    *,
    target: tuple[float, float],
) -> pd.DataFrame:
    """Probability of target attainment (PTA): the share of subjects with low <= metric <= high.

    metric : an exposure column; target : (low, high) in that metric's unit
    (mg/L for concentrations), required: a drug's own (baclofen's 80-400 ng/mL,
    `pk.BACLOFEN_TARGET_MG_L`, is not validated in children). For
    ">= 80 % of the time in range": metric="frac_in_range", target=(0.8, 1.0),
    with exposures computed with a target_range.

    Returns
    -------
    DataFrame: the `by` columns, n, n_attained, pta (0 to 1).
    """
    groups = _as_list(by)
    _check_table(exposures, "exposures", [*groups, metric])
    low, high = check_range(target, "target")
    values = exposures[metric].to_numpy(float)
    if np.isnan(values).any():
        raise ValueError(
            f"target_attainment: metric {metric!r} is missing for "
            f"{int(np.isnan(values).sum())} rows; expected a value for every subject"
        )
    frame = exposures[groups].copy()
    frame["n_attained"] = (values >= low) & (values <= high)
    if not groups:
        n, hits = len(frame), int(frame["n_attained"].sum())
        return pd.DataFrame({"n": [n], "n_attained": [hits], "pta": [hits / n]})
    table = frame.groupby(groups, observed=True, sort=True)["n_attained"].agg(n="count", n_attained="sum")
    table["pta"] = table["n_attained"] / table["n"]
    return table.reset_index()


def _check_bands(bands: Bands, name: str) -> tuple[list[str], np.ndarray]:
    if not isinstance(bands, Mapping) or not bands:
        raise ValueError(f"{name} bands are {bands!r}; expected {{label: (low, high)}}, at least one")
    for label, edge in bands.items():
        if not (
            isinstance(edge, (tuple, list))
            and len(edge) == 2
            and all(map(is_number, edge))
            and not math.isnan(edge[0])
            and edge[0] < edge[1]
        ):
            raise ValueError(f"{name} band {label!r} is {edge!r}; expected (low, high) with low < high")
    labels = sorted(bands, key=lambda label: bands[label][0])
    edges = np.array([bands[label] for label in labels], dtype=float)
    overlap = np.flatnonzero(edges[1:, 0] < edges[:-1, 1])
    if overlap.size:
        a, b = labels[overlap[0]], labels[overlap[0] + 1]
        raise ValueError(
            f"{name} bands {a!r} {tuple(bands[a])} and {b!r} {tuple(bands[b])} overlap; "
            "expected each value in at most one band"
        )
    return labels, edges


def _check_table(table, name: str, columns: Sequence[str]) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} is a {type(table).__name__}; expected a DataFrame (pk.exposure, pk.compare)")
    if table.empty:
        raise ValueError(f"{name} has no rows; expected one row per subject (an empty cohort?)")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{name} has no column {missing[0]!r}; columns are {list(table.columns)}"
            + ("; add bands with pk.add_bands" if missing[0] in BAND_COVARIATES else "")
        )


def _check_percentiles(percentiles) -> np.ndarray:
    q = np.array(percentiles, dtype=float, ndmin=1)
    if q.ndim != 1 or not np.all((q >= 0) & (q <= 100)) or np.unique(q).size != q.size:
        raise ValueError(f"percentiles are {percentiles!r}; expected distinct numbers from 0 to 100")
    return q


def _as_list(by) -> list[str]:
    return [] if by is None else [by] if isinstance(by, str) else list(by)
