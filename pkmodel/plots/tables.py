"""Figures of tables: exposure distributions, target attainment by band, a dose nomogram, a
sensitivity tornado."""

import numpy as np
import pandas as pd

from ..analysis.exposure import METRICS
from ..units import concentration_in, metric_in
from ._style import BAND_AXIS, PALETTE, legend_outside, n_text, new_axes, shade_target, styled

DISTRIBUTION_KINDS = ("ecdf", "hist", "violin")
Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
ECDF_POINTS = 5_000  # steps drawn of an ECDF, at most


def wilson_interval(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion k/n (95 % by default).

    k, n : ndarray, shape (n_groups,), successes and trials (n >= 1).
    Wilson EB, J Am Stat Assoc 1927;22:209-212: centre (k + z²/2)/(n + z²), half-width
    z/(n + z²)·sqrt(k(n - k)/n + z²/4); inside [0, 1], never empty at k = 0 or n.
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * np.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


@styled
def exposure_distribution(
    exposures: pd.DataFrame,
    metric: str = "cavg",
    by: str | None = "regimen",
    kind: str = "ecdf",
    *,
    target_range: tuple[float, float] | None,
    unit: str = "ng/mL",
    ax=None,
):
    """Distribution of one exposure metric per group, with the target range shaded.

    kind : "ecdf" (one step line per group), "hist" (one outlined histogram per group, shared
        bins) or "violin" (one body per group; median marked, whiskers the 5th-95th percentile)
    target_range : (low, high) in mg/L, shaded, or None for none (required: a drug's
        own, e.g. `pk.BACLOFEN_TARGET_MG_L`); only for a concentration metric.
    """
    if metric not in METRICS or metric not in exposures.columns:
        raise ValueError(
            f"exposure_distribution: metric is {metric!r}; expected an exposure column "
            f"of the table ({[m for m in METRICS if m in exposures.columns]})"
        )
    if kind not in DISTRIBUTION_KINDS:
        raise ValueError(
            f"exposure_distribution: kind is {kind!r}; expected one of {list(DISTRIBUTION_KINDS)}"
        )
    dimension, name = METRICS[metric]
    if target_range is not None and dimension != "concentration":
        raise ValueError(
            f"exposure_distribution: target_range is {target_range!r} for metric "
            f"{metric!r} ({dimension}); expected target_range=None for a metric that "
            "is not a concentration"
        )
    if by is not None and by not in exposures.columns:
        raise ValueError(
            f"exposure_distribution: by is {by!r}; expected a column of the table ({list(exposures.columns)})"
        )
    fig, (ax,) = new_axes(ax)
    values, label = metric_in(exposures[metric].to_numpy(float), dimension, unit)
    keys = (
        [("all", np.ones(values.size, dtype=bool))]
        if by is None
        else [(str(k), (exposures[by] == k).to_numpy()) for k in levels(exposures[by])]
    )
    groups = [(k, np.sort(values[rows])) for k, rows in keys]
    axis_label = f"{name} ({label})" if label else f"{name} (1)"
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(groups))]
    if kind == "ecdf":
        for (key, v), colour in zip(groups, colours):
            # above ECDF_POINTS children, every (n / ECDF_POINTS)-th step: the curve moves by
            # under 1/ECDF_POINTS of the height (0.02 %), the SVG of a million children stays small
            rows = (
                np.arange(v.size)
                if v.size <= ECDF_POINTS
                else np.unique(np.linspace(0, v.size - 1, ECDF_POINTS).round().astype(int))
            )
            ax.step(
                v[rows],
                100 * (rows + 1) / v.size,
                where="post",
                color=colour,
                label=f"{key} (n = {v.size:,})",
            )
        ax.set_xlabel(axis_label)
        ax.set_ylabel("children at or below (%)")
    elif kind == "hist":
        bins = np.histogram_bin_edges(values[np.isfinite(values)], bins="auto")
        for (key, v), colour in zip(groups, colours):
            ax.hist(v, bins=bins, histtype="step", lw=1.4, color=colour, label=f"{key} (n = {v.size:,})")
        ax.set_xlabel(axis_label)
        ax.set_ylabel("children (count)")
    else:
        finite = [v[np.isfinite(v)] for _, v in groups]
        bodies = ax.violinplot(finite, showmedians=True, showextrema=False)
        for body, colour in zip(bodies["bodies"], colours):
            body.set_facecolor(colour)
            body.set_alpha(0.45)
        bodies["cmedians"].set_color("black")
        lo, hi = np.array([np.percentile(v, [5, 95]) for v in finite]).T
        ax.vlines(np.arange(1, len(groups) + 1), lo, hi, color="black", lw=1.0, label="5th-95th percentile")
        ax.set_xticks(
            np.arange(1, len(groups) + 1), [f"{k}\n(n = {v.size:,})" for (k, _), v in zip(groups, finite)]
        )
        if by is not None:  # one violin of all children otherwise, its tick says so
            ax.set_xlabel(BAND_AXIS.get(by, by.replace("_", " ")))
        ax.set_ylabel(axis_label)
    if target_range is not None:
        shade_target(ax, target_range, unit, vertical=kind != "violin")
    per = BAND_AXIS.get(by, str(by)).split(" (")[0] if by is not None else "group"
    ax.set_title(f"{name}: {n_text([v.size for _, v in groups], per=per)}")
    legend_outside(ax)
    return fig


@styled
def pta_by_band(
    attainment: pd.DataFrame,
    band: str = "weight_band",
    by: str | None = "regimen",
    *,
    target_range: tuple[float, float] | None = None,
    unit: str = "ng/mL",
    ax=None,
):
    """Probability of target attainment per band with its 95 % Wilson interval, a point per group.

    attainment : `pk.target_attainment(..., by=[by, band])` (n and n_attained per row);
    target_range : (low, high), mg/L, named in the axis label (optional). Groups sit side by
    side within a band, so none hides another; each band's n is under its label.
    """
    needed = [band, "pta", "n", "n_attained"] + ([by] if by is not None else [])
    missing = [c for c in needed if c not in attainment.columns]
    if missing:
        raise ValueError(
            f"pta_by_band: the table has no column {missing[0]!r}; expected a "
            f"pk.target_attainment table by {[band] if by is None else [by, band]}"
        )
    fig, (ax,) = new_axes(ax)
    bands = levels(attainment[band])
    position = {level: i for i, level in enumerate(bands)}
    series = (
        [("all", attainment)]
        if by is None
        else [(str(k), attainment[attainment[by] == k]) for k in levels(attainment[by])]
    )
    width = 0.6 / max(1, len(series))
    for j, (key, rows) in enumerate(series):  # over groups (regimens)
        x = rows[band].map(position).to_numpy(float) + (j - (len(series) - 1) / 2) * width
        low, high = wilson_interval(rows["n_attained"], rows["n"])
        pta = rows["pta"].to_numpy(float)
        ax.errorbar(
            x,
            100 * pta,
            yerr=100 * np.vstack([pta - low, high - pta]),
            fmt="o",
            color=PALETTE[j % len(PALETTE)],
            ms=5,
            capsize=3,
            lw=1.2,
            label=key,
        )
    counts = attainment.groupby(band, observed=True)["n"].agg(["min", "max"])
    ax.set_xticks(
        np.arange(len(bands)),
        [
            f"{b}\nn = {counts.loc[b, 'min']:,}"
            if counts.loc[b, "min"] == counts.loc[b, "max"]
            else f"{b}\nn = {counts.loc[b, 'min']:,}-{counts.loc[b, 'max']:,}"
            for b in bands
        ],
    )
    ax.set_xlim(-0.5, len(bands) - 0.5)
    ax.set_xlabel(BAND_AXIS.get(band, band.replace("_", " ")))
    what = "PTA"
    if target_range is not None:
        low_high = concentration_in(np.array(target_range, float), unit)
        what = f"PTA, {low_high[0]:g}-{low_high[1]:g} {unit}"
    ax.set_ylabel(f"{what} (% of children)")
    ax.set_ylim(0, 105)
    total = (
        attainment.groupby(by, observed=True)["n"].sum()
        if by is not None
        else pd.Series([attainment["n"].sum()])
    )
    per = "" if by is None else f" per {by}"
    ax.set_title(
        f"points: PTA; bars: 95 % Wilson interval; {n_text(total.to_numpy(), per=by or 'group')}; "
        f"under each band its n{per}"
    )
    legend_outside(ax)
    return fig


@styled
def nomogram(doses: pd.DataFrame, ax=None):
    """Dosing table of `pk.find_dose(..., by="weight_band")` as bars: mg per dose per band."""
    band = next((b for b in ("weight_band", "age_band") if b in doses.columns), None)
    if band is None or "mg_per_dose" not in doses.columns:
        raise ValueError(
            f"nomogram: the table has columns {list(doses.columns)}; expected a "
            "pk.find_dose table by 'weight_band' or 'age_band'"
        )
    fig, (ax,) = new_axes(ax)
    names = [str(b) for b in doses[band]]
    if "n" in doses.columns:
        names = [f"{b}\nn = {n:,}" for b, n in zip(names, doses["n"])]
    bars = ax.bar(names, doses["mg_per_dose"].to_numpy(float), color=PALETTE[0])
    ax.bar_label(
        bars,
        labels=[f"{v:.3g}" if np.isfinite(v) else "no children" for v in doses["mg_per_dose"]],
        padding=2,
    )
    per_day = doses["doses_per_day"].iloc[0]
    ax.set_xlabel(BAND_AXIS[band])
    ax.set_ylabel(f"dose (mg per dose, {per_day} doses/day)")
    n = f"; n = {int(doses['n'].sum()):,} children" if "n" in doses.columns else ""
    ax.set_title(f"unrounded doses from pk.find_dose{n}")
    ax.margins(y=0.12)
    return fig


@styled
def tornado(
    table: pd.DataFrame, metric: str = "cmax", statistic: str | None = None, unit: str = "ng/mL", ax=None
):
    """Tornado of `pk.sensitivity`: per assumed number, the range of `metric` across its settings.

    One bar per parameter from its lowest to its highest value, widest on top, around the
    baseline (the model as given, a vertical line). statistic : "median" (default), "p5" or
    "p95" for concentrations; PTA has "share" only (shown in %).
    """
    statistic = statistic or ("share" if metric == "pta" else "median")
    rows = table[(table["metric"] == metric) & (table["statistic"] == statistic)]
    if rows.empty or not (rows["parameter"] == "baseline").any():
        raise ValueError(
            f"tornado: the table has no {metric!r} {statistic!r} rows with a baseline; "
            "expected a pk.sensitivity table"
        )
    scale = 100.0 if metric == "pta" else float(concentration_in(1.0, unit))
    name = METRICS.get(metric, ("", metric.upper()))[1]
    label = "PTA (% of children)" if metric == "pta" else f"{name}, {statistic} ({unit})"
    base = scale * rows.loc[rows["parameter"] == "baseline", "value"].iloc[0]
    spans = (
        rows[rows["parameter"] != "baseline"].groupby("parameter", sort=False)["value"].agg(["min", "max"])
        * scale
    )
    spans = spans.assign(width=spans["max"] - spans["min"]).sort_values("width")
    fig, (ax,) = new_axes(ax)
    ax.barh(spans.index, spans["max"] - spans["min"], left=spans["min"], color=PALETTE[0], alpha=0.75)
    for y, (lo, hi) in enumerate(zip(spans["min"], spans["max"])):
        ax.annotate(
            f"{lo:.3g} to {hi:.3g}",
            (hi, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.axvline(base, color="black", lw=1)
    ax.set_xlabel(label)
    ax.set_ylabel("assumed number")
    ax.margins(x=0.2)
    n = table.attrs.get("n")
    ax.set_title(
        f"{label} across each assumed number (baseline {base:.3g}); "
        + (f"n = {n:,} children" if n else "n not recorded")
    )
    return fig


def levels(column: pd.Series) -> list:
    """Group keys in their categorical order, else sorted."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [c for c in column.cat.categories if (column == c).any()]
    return sorted(column.unique())
