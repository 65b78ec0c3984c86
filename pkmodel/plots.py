"""matplotlib figures. Each returns a Figure, takes an optional Axes, never calls show().

Concentrations are drawn in `unit` ("ng/mL" by default, or "mg/L", "ug/mL"),
converted in `pkmodel.units`; every axis label names its unit.
"""

import os
from typing import Mapping, Sequence

import matplotlib

# Agg (no display needed) unless a backend is asked for: a Jupyter kernel asks for its inline
# backend through MPLBACKEND, and switching it to Agg would hide every figure in a notebook
if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .analysis.exposure import METRICS, check_range  # noqa: E402
from .simulation.result import Result  # noqa: E402
from .units import concentration_in, metric_in  # noqa: E402

DISTRIBUTION_KINDS = ("ecdf", "hist", "violin")
_BAND_AXIS = {"weight_band": "weight band (kg)", "age_band": "age band (years)"}


def spaghetti(result: Result, n: int = 20, seed: int = 0, start: float | None = None,
              end: float | None = None, unit: str = "ng/mL", ax=None):
    """Concentration-time curves of `n` subjects drawn at random (all if fewer), one line each.

    seed : which subjects are drawn; start, end : time range shown, h (default all).
    """
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
        raise ValueError(f"spaghetti: n is {n!r}; expected a whole number >= 1 of subjects")
    fig, ax = _figure(ax)
    keep = _shown(result.times, start, end)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(result), size=min(n, len(result)), replace=False))
    conc = concentration_in(result.concentrations[rows][:, keep], unit)
    for i, row in enumerate(rows):  # over the few subjects drawn
        ax.plot(result.times[keep], conc[i], lw=0.8, alpha=0.7, label=f"id {result.cohort.ids[row]}")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(f"concentration ({unit})")
    ax.set_title(f"{rows.size} of {len(result)} subjects" + (f": {result.regimen}" if result.regimen else ""))
    return fig


def percentile_band(results: Mapping[str, Result], start: float | None = None,
                    end: float | None = None,
                    bands: Sequence[tuple[float, float]] = ((5, 95), (25, 75)),
                    unit: str = "ng/mL", ax=None):
    """Median and percentile ribbons of concentration over time, per result.

    results : {label: Result}; start, end : time range shown, h (default all);
    bands : (low, high) percentile pairs, one ribbon each (default 5-95 % and 25-75 %).
    """
    fig, ax = _figure(ax)
    for label, res in results.items():  # over regimens, vectorised over subjects
        keep = _shown(res.times, start, end)
        t = res.times[keep]
        conc = concentration_in(res.concentrations[:, keep], unit)
        line, = ax.plot(t, np.percentile(conc, 50, axis=0), label=f"{label}: median")
        for k, (lo, hi) in enumerate(bands):
            low, high = np.percentile(conc, [lo, hi], axis=0)
            ax.fill_between(t, low, high, color=line.get_color(), alpha=0.15 + 0.1 * k, lw=0,
                            label=f"{label}: {lo:g}-{hi:g} %")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(f"concentration ({unit})")
    ax.legend(frameon=False)
    return fig


def exposure_distribution(exposures: pd.DataFrame, metric: str = "cavg", by: str | None = "regimen",
                          kind: str = "ecdf", *, target_range: tuple[float, float] | None,
                          unit: str = "ng/mL", ax=None):
    """Distribution of one exposure metric per group, with the target range shaded.

    kind : "ecdf" (one step line per group), "hist" (one filled histogram per
        group, shared bins) or "violin" (one body per group, medians marked)
    target_range : (low, high) in mg/L, shaded, or None for none (required: a drug's
        own, e.g. `pk.BACLOFEN_TARGET_MG_L`); only for a concentration metric.
    """
    if metric not in METRICS or metric not in exposures.columns:
        raise ValueError(f"exposure_distribution: metric is {metric!r}; expected an exposure column "
                         f"of the table ({[m for m in METRICS if m in exposures.columns]})")
    if kind not in DISTRIBUTION_KINDS:
        raise ValueError(f"exposure_distribution: kind is {kind!r}; expected one of {list(DISTRIBUTION_KINDS)}")
    dimension, name = METRICS[metric]
    if target_range is not None and dimension != "concentration":
        raise ValueError(f"exposure_distribution: target_range is {target_range!r} for metric "
                         f"{metric!r} ({dimension}); expected target_range=None for a metric that "
                         "is not a concentration")
    if by is not None and by not in exposures.columns:
        raise ValueError(f"exposure_distribution: by is {by!r}; expected a column of the table "
                         f"({list(exposures.columns)})")
    fig, ax = _figure(ax)
    values, label = metric_in(exposures[metric].to_numpy(float), dimension, unit)
    keys = [("all", np.ones(values.size, dtype=bool))] if by is None else [
        (str(k), (exposures[by] == k).to_numpy()) for k in _levels(exposures[by])]
    groups = [(k, np.sort(values[rows])) for k, rows in keys]
    axis_label = f"{name} ({label})" if label else name
    if kind == "ecdf":
        for key, v in groups:
            ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", label=key)
        ax.set_xlabel(axis_label)
        ax.set_ylabel("cumulative fraction of subjects")
    elif kind == "hist":
        bins = np.histogram_bin_edges(values[np.isfinite(values)], bins="auto")
        for key, v in groups:
            ax.hist(v, bins=bins, histtype="stepfilled", alpha=0.4, label=key)
        ax.set_xlabel(axis_label)
        ax.set_ylabel("subjects (count)")
    else:
        ax.violinplot([v for _, v in groups], showmedians=True)
        ax.set_xticks(np.arange(1, len(groups) + 1), [k for k, _ in groups])
        ax.set_xlabel(by or "")
        ax.set_ylabel(axis_label)
    if target_range is not None:
        low, high = check_range(target_range, "target_range")
        shown = concentration_in(np.array([low, min(high, max(low, np.nanmax(exposures[metric])))]), unit)
        span = ax.axhspan if kind == "violin" else ax.axvspan
        span(*shown, color="tab:green", alpha=0.12, label=f"target {shown[0]:g}-{shown[1]:g} {unit}")
    ax.legend(frameon=False)
    return fig


def pta_by_band(attainment: pd.DataFrame, band: str = "weight_band", by: str | None = "regimen", ax=None):
    """Probability of target attainment per band (`pk.target_attainment(..., by=[by, band])`), one line per group."""
    needed = [band, "pta"] + ([by] if by is not None else [])
    missing = [c for c in needed if c not in attainment.columns]
    if missing:
        raise ValueError(f"pta_by_band: the table has no column {missing[0]!r}; expected a "
                         f"pk.target_attainment table by {needed[:-1] if by is None else [by, band]}")
    fig, ax = _figure(ax)
    levels = _levels(attainment[band])
    position = {level: i for i, level in enumerate(levels)}
    series = [("all", attainment)] if by is None else [
        (str(k), attainment[attainment[by] == k]) for k in _levels(attainment[by])]
    for key, rows in series:  # over groups (regimens)
        ax.plot(rows[band].map(position).to_numpy(float), 100 * rows["pta"].to_numpy(float),
                marker="o", label=key)
    ax.set_xticks(np.arange(len(levels)), [str(level) for level in levels])
    ax.set_xlabel(_BAND_AXIS.get(band, band))
    ax.set_ylabel("PTA (% of subjects)")
    ax.set_ylim(0, 105)
    ax.legend(frameon=False)
    return fig


def nomogram(doses: pd.DataFrame, ax=None):
    """Dosing table of `pk.find_dose(..., by="weight_band")` as bars: mg per dose per band."""
    band = next((b for b in _BAND_AXIS if b in doses.columns), None)
    if band is None or "mg_per_dose" not in doses.columns:
        raise ValueError(f"nomogram: the table has columns {list(doses.columns)}; expected a "
                         "pk.find_dose table by 'weight_band' or 'age_band'")
    fig, ax = _figure(ax)
    bars = ax.bar([str(b) for b in doses[band]], doses["mg_per_dose"].to_numpy(float), color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.3g}" if np.isfinite(v) else "no children" for v in doses["mg_per_dose"]], padding=2)
    per_day = doses["doses_per_day"].iloc[0]
    ax.set_xlabel(_BAND_AXIS[band])
    ax.set_ylabel(f"dose (mg per dose, {per_day} doses/day)")
    ax.set_title("unrounded doses from pk.find_dose")
    return fig


def _figure(ax):
    if ax is None:
        return plt.subplots(figsize=(8, 4.5))
    return ax.figure, ax


def _shown(times: np.ndarray, start: float | None, end: float | None) -> np.ndarray:
    keep = np.ones(times.size, dtype=bool)
    if start is not None:
        keep &= times >= start
    if end is not None:
        keep &= times <= end
    if not keep.any():
        raise ValueError(f"time range {start!r} to {end!r} h holds no simulated time "
                         f"({times[0]:g} to {times[-1]:g} h)")
    return keep


def _levels(column: pd.Series) -> list:
    """Group keys in their categorical order, else sorted."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [c for c in column.cat.categories if (column == c).any()]
    return sorted(column.unique())


def daily_doses(regimen, cohort, seed: int | None = None, ax=None):
    """Each child's dose per day (mg/day) over the days of `regimen`, one step line per child.

    regimen : Regimen; cohort : Cohort (a few children: one line each);
    seed : None shows the doses as prescribed; a seed draws the missed doses, if any.
    """
    fig, ax = _figure(ax)
    day, mg_per_day = regimen.daily_mg(cohort, seed)
    edges = np.r_[day, day[-1] + 1]  # the last day drawn a full day wide
    for child, weight, daily in zip(cohort.ids, cohort.weight_kg, mg_per_day):
        ax.step(edges, np.r_[daily, daily[-1]], where="post", label=f"ID {child} ({weight:g} kg)")
    ax.set_xlabel("day")
    ax.set_ylabel("dose (mg/day)")
    ax.set_title(regimen.label, fontsize="small", wrap=True)
    ax.legend(frameon=False)
    return fig


def tornado(table: pd.DataFrame, metric: str = "cmax", statistic: str | None = None,
            unit: str = "ng/mL", ax=None):
    """Tornado of `pk.sensitivity`: per assumed number, the range of `metric` across its settings.

    One bar per parameter from its lowest to its highest value, widest on top, around the
    baseline (the model as given, a vertical line). statistic : "median" (default), "p5" or
    "p95" for concentrations; PTA has "share" only (shown in %).
    """
    statistic = statistic or ("share" if metric == "pta" else "median")
    rows = table[(table["metric"] == metric) & (table["statistic"] == statistic)]
    if rows.empty or not (rows["parameter"] == "baseline").any():
        raise ValueError(f"tornado: the table has no {metric!r} {statistic!r} rows with a baseline; "
                         "expected a pk.sensitivity table")
    scale = 100.0 if metric == "pta" else float(concentration_in(1.0, unit))
    label = "PTA (%)" if metric == "pta" else f"{metric} {statistic} ({unit})"
    base = scale * rows.loc[rows["parameter"] == "baseline", "value"].iloc[0]
    spans = (rows[rows["parameter"] != "baseline"].groupby("parameter", sort=False)["value"]
             .agg(["min", "max"]) * scale)
    spans = spans.assign(width=spans["max"] - spans["min"]).sort_values("width")
    fig, ax = _figure(ax)
    ax.barh(spans.index, spans["max"] - spans["min"], left=spans["min"], color="tab:blue", alpha=0.7)
    for y, (lo, hi) in enumerate(zip(spans["min"], spans["max"])):
        ax.annotate(f"{lo:.3g} to {hi:.3g}", (hi, y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize="small")
    ax.axvline(base, color="black", lw=1)
    ax.set_xlabel(label)
    ax.margins(x=0.2)
    ax.set_title(f"{label} across each assumed number (baseline {base:.3g})")
    return fig
