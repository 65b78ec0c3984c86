"""Figures over time: concentration curves, percentile bands per regimen, a visual predictive
check, daily doses of a titration."""

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..simulation.result import Result
from ..units import concentration_in
from ._style import LINESTYLES, PALETTE, legend_outside, n_text, new_axes, shade_target, styled

TIME_AXES = ("auto", "days", "h")


@styled
def spaghetti(
    result: Result,
    n: int = 20,
    seed: int = 0,
    start: float | None = None,
    end: float | None = None,
    unit: str = "ng/mL",
    *,
    target_range: tuple[float, float] | None = None,
    time: str = "auto",
    ax=None,
):
    """Concentration-time curves of `n` subjects drawn at random (all if fewer), one line each.

    seed : which subjects are drawn; start, end : time range shown, h (default all);
    target_range : (low, high), mg/L, shaded, or None; time : "days", "h" or "auto" (days
    when the range shown starts after the first day or spans more than two).
    """
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
        raise ValueError(f"spaghetti: n is {n!r}; expected a whole number >= 1 of subjects")
    fig, (ax,) = new_axes(ax)
    keep = _shown(result.times, start, end)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(result), size=min(n, len(result)), replace=False))
    conc = concentration_in(result.concentrations[rows][:, keep], unit)
    x, xlabel = _time_axis(result.times[keep], time)
    ids = result.cohort.ids
    assert ids is not None  # Cohort.__post_init__ sets it
    for i, row in enumerate(rows):  # over the few subjects drawn
        ax.plot(
            x,
            conc[i],
            lw=0.9,
            alpha=0.75,
            color=PALETTE[i % len(PALETTE)],
            label=f"id {ids[row]}",
        )
    if target_range is not None:
        shade_target(ax, target_range, unit)
        _target_legend(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"concentration ({unit})")
    ax.set_title(
        f"{rows.size:,} drawn at random of n = {len(result):,} subjects"
        + (f": {result.regimen}" if result.regimen else ""),
        wrap=True,
    )
    return fig


@styled
def percentile_band(
    results: Mapping[str, Result],
    start: float | None = None,
    end: float | None = None,
    bands: Sequence[tuple[float, float]] = ((5, 95), (25, 75)),
    unit: str = "ng/mL",
    *,
    target_range: tuple[float, float] | None = None,
    windows: Mapping[str, tuple[float, float]] | None = None,
    time: str = "auto",
    ax=None,
):
    """Median and percentile ribbons of concentration over time, one panel per regimen.

    results : {label: Result}; start, end : time range shown, h (default all), the same for
    every result; windows : {label: (start, end)}, h, each result's own instead (to align
    regimens of different lengths, e.g. each one's last two days); bands : (low, high)
    percentile pairs, one ribbon each; target_range : (low, high), mg/L, shaded, or None;
    time : "days", "h" or "auto" (days when the range shown starts after the first day or
    spans more than two); ax : None (one panel per result, a shared concentration axis),
    one Axes per result, or one Axes for all (medians and the outer band's edges as
    lines, a line style per result, nothing filled). A result of one subject is drawn as
    its curve (no median, no band).

    A range that runs past a regimen's dosing (its last dose plus one interval) is refused:
    it would show the washout of a shorter regimen as if it were its steady state.
    """
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            f"percentile_band: results is {type(results).__name__}; expected "
            "{label: Result} with at least one result"
        )
    if windows is not None and (start is not None or end is not None):
        raise ValueError("percentile_band: start/end and windows are both given; expected one")
    spans = {label: (windows or {}).get(label, (start, end)) for label in results}
    if windows is not None and set(windows) != set(results):
        raise ValueError(
            f"percentile_band: windows has labels {sorted(windows)}; expected the "
            f"labels of results {sorted(results)}"
        )
    fig, axes = new_axes(ax, len(results), sharex=windows is None)
    overlay = len(axes) == 1 and len(results) > 1
    bands = sorted(bands, key=lambda b: b[0] - b[1])  # widest first, drawn under the others
    if time == "auto":  # one time axis for every panel
        shown = [res.times[_shown(res.times, *spans[label])] for label, res in results.items()]
        time = "days" if any(_time_axis(t, "auto")[1] == "time (days)" for t in shown) else "h"
    for k, (label, res) in enumerate(results.items()):  # over regimens, vectorised over subjects
        a = axes[0 if overlay else k]
        lo_h, hi_h = spans[label]
        _within_dosing(label, res, lo_h, hi_h)
        keep = _shown(res.times, lo_h, hi_h)
        x, xlabel = _time_axis(res.times[keep], time)
        conc = concentration_in(res.concentrations[:, keep], unit)
        colour = PALETTE[k % len(PALETTE)] if overlay else PALETTE[0]
        one = len(res) == 1  # one subject: its curve, no median and no band
        middle = "the subject's curve" if one else "median"
        if overlay:
            style = LINESTYLES[k % len(LINESTYLES)]
            a.plot(
                x,
                np.percentile(conc, 50, axis=0),
                color=colour,
                ls=style,
                label=f"{label}: {middle} (n = {len(res):,})",
            )
            if bands and not one:
                lo, hi = bands[0]
                edges = np.percentile(conc, [lo, hi], axis=0)
                a.plot(x, edges.T, color=colour, ls=style, lw=0.8, alpha=0.8)
                a.lines[-2].set_label(f"{label}: {lo:g}th-{hi:g}th percentile")
        else:
            for j, (lo, hi) in enumerate(() if one else bands):
                low, high = np.percentile(conc, [lo, hi], axis=0)
                a.fill_between(
                    x,
                    low,
                    high,
                    color=colour,
                    alpha=0.18 + 0.17 * j,
                    lw=0,
                    label=f"{lo:g}th-{hi:g}th percentile",
                )
            a.plot(x, np.percentile(conc, 50, axis=0), color=colour, label=middle)
            a.set_title(f"{label} (n = {len(res):,})", wrap=True)
        a.set_xlabel(xlabel)
    for a in axes:
        if target_range is not None:
            shade_target(a, target_range, unit)
        a.set_ylabel(f"concentration ({unit})")
        a.set_ylim(bottom=0)
    if overlay:
        axes[0].set_title(n_text([len(r) for r in results.values()], per="regimen"))
    legend_outside(axes[-1])
    return fig


@styled
def vpc(
    result: Result,
    observed: pd.DataFrame,
    bands: tuple[float, float] = (5, 95),
    unit: str = "ng/mL",
    *,
    target_range: tuple[float, float] | None = None,
    time: str = "h",
    ax=None,
):
    """Visual predictive check: the simulated median and band against observed levels.

    observed : DataFrame with time_h (h, on the simulation's clock) and conc_mg_L (mg/L), one
    row per level; result : a simulation of the same design (with variability and, for the
    observed scale, residual error as the caller chose).
    """
    missing = [c for c in ("time_h", "conc_mg_L") if c not in observed.columns]
    if missing:
        raise ValueError(
            f"vpc: observed has no column {missing[0]!r}; expected time_h (h) and conc_mg_L (mg/L)"
        )
    fig, (ax,) = new_axes(ax)
    x, xlabel = _time_axis(result.times, time)
    conc = concentration_in(result.concentrations, unit)
    lo, hi = bands
    low, high = np.percentile(conc, [lo, hi], axis=0)
    ax.fill_between(
        x, low, high, color=PALETTE[0], alpha=0.2, lw=0, label=f"simulated {lo:g}th-{hi:g}th percentile"
    )
    ax.plot(x, np.percentile(conc, 50, axis=0), color=PALETTE[0], label="simulated median")
    t_obs, _ = _time_axis(observed["time_h"].to_numpy(float), time if time != "auto" else "h")
    ax.plot(
        t_obs,
        concentration_in(observed["conc_mg_L"].to_numpy(float), unit),
        "o",
        color=PALETTE[4],
        ms=4,
        label="observed",
    )
    if target_range is not None:
        shade_target(ax, target_range, unit)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"concentration ({unit})")
    ax.set_title(f"{len(observed):,} observed levels; n = {len(result):,} simulated subjects")
    legend_outside(ax)
    return fig


@styled
def daily_doses(regimen, cohort, seed: int | None = None, ax=None):
    """Each child's dose per day (mg/day) over the days of `regimen` (a titration trajectory).

    regimen : Regimen; cohort : Cohort (a few children: one line each, labelled by weight; above
    ten, unlabelled); seed : None shows the doses as prescribed; a seed draws the missed doses.
    Lines that coincide stay visible: each later line is thinner and dashed differently.
    """
    fig, (ax,) = new_axes(ax)
    day, mg_per_day = regimen.daily_mg(cohort, seed)
    edges = np.r_[day, day[-1] + 1]  # the last day drawn a full day wide
    n = len(cohort)
    for k, (child, weight, daily) in enumerate(zip(cohort.ids, cohort.weight_kg, mg_per_day)):
        ax.step(
            edges,
            np.r_[daily, daily[-1]],
            where="post",
            color=PALETTE[k % len(PALETTE)],
            ls=LINESTYLES[k % len(LINESTYLES)],
            lw=max(0.8, 2.6 - 0.3 * k) if n <= 10 else 0.8,
            label=f"ID {child} ({weight:.1f} kg)",
        )
    ax.set_xlabel("day of the regimen (days)")
    ax.set_ylabel("dose (mg/day)")
    ax.set_title(f"{regimen.label} (n = {n:,})", fontsize="small", wrap=True)
    if n <= 10:
        legend_outside(ax)
    return fig


def _target_legend(ax) -> None:
    """The legend of the target range alone (the curves are too many to name)."""
    handles, labels = ax.get_legend_handles_labels()
    shown = [(h, lab) for h, lab in zip(handles, labels) if lab.startswith("target")]
    ax.legend(*zip(*shown), loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)


def _time_axis(times_h: np.ndarray, time: str) -> tuple[np.ndarray, str]:
    """Times in days or h, and the axis label."""
    if time not in TIME_AXES:
        raise ValueError(f"time is {time!r}; expected one of {list(TIME_AXES)}")
    if time == "auto":
        time = "days" if times_h.size and (times_h[0] >= 24 or times_h[-1] - times_h[0] > 48) else "h"
    if time == "days":
        return times_h / 24.0, "time (days)"
    return times_h, "time (h)"


def _within_dosing(label: str, result: Result, start, end) -> None:
    """Refuse a range that runs past the regimen's dosing (last dose + its interval)."""
    t = np.unique(np.asarray(result.doses.time_h, dtype=float))
    t = t[np.isfinite(t)]
    if t.size < 2:
        return  # one dose: its washout is what there is to show
    stop = t[-1] + (t[-1] - t[-2])
    shown_end = result.times[-1] if end is None else end
    if shown_end > stop + 1e-9 * max(1.0, stop):
        raise ValueError(
            f"percentile_band: the range shown for {label!r} ends at {shown_end:g} h, after its "
            f"dosing ends ({stop:g} h: last dose at {t[-1]:g} h plus one interval); expected a "
            "range within each regimen's dosing (regimens of different lengths: "
            "windows={label: (start, end)}, each one's own)"
        )


def _shown(times: np.ndarray, start: float | None, end: float | None) -> np.ndarray:
    keep = np.ones(times.size, dtype=bool)
    if start is not None:
        keep &= times >= start
    if end is not None:
        keep &= times <= end
    if not keep.any():
        raise ValueError(
            f"time range {start!r} to {end!r} h holds no simulated time ({times[0]:g} to {times[-1]:g} h)"
        )
    return keep
