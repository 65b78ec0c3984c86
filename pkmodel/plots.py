"""matplotlib figures. Each returns a Figure, takes an optional Axes, never calls show()."""

from typing import Mapping

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .result import Result  # noqa: E402
from .units import concentration_in  # noqa: E402


def percentile_band(results: Mapping[str, Result], start: float | None = None,
                    end: float | None = None, percentiles: tuple[float, float] = (5, 95),
                    unit: str = "ng/mL", ax=None):
    """Median and a percentile band of concentration over time, one per result.

    results : {label: Result}; start, end : time range shown, h (default all).
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    for label, res in results.items():
        keep = np.ones(res.times.size, dtype=bool)
        if start is not None:
            keep &= res.times >= start
        if end is not None:
            keep &= res.times <= end
        t = res.times[keep]
        lo, med, hi = np.percentile(concentration_in(res.concentrations[:, keep], unit),
                                    [percentiles[0], 50, percentiles[1]], axis=0)
        line, = ax.plot(t, med, label=f"{label}: median")
        ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.25,
                        label=f"{label}: {percentiles[0]:g}-{percentiles[1]:g} %")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(f"concentration ({unit})")
    ax.legend(frameon=False)
    return fig


def daily_doses(regimen, cohort, seed: int | None = None, ax=None):
    """Each child's dose per day (mg/day) over the days of `regimen`, one step line per child.

    regimen : Regimen; cohort : Cohort (a few children: one line each);
    seed : None shows the doses as prescribed; a seed draws the missed doses, if any.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    day, mg_per_day = regimen.daily_mg(cohort, seed)
    edges = np.r_[day, day[-1] + 1]  # the last day drawn a full day wide
    for child, weight, daily in zip(cohort.ids, cohort.weight_kg, mg_per_day):
        ax.step(edges, np.r_[daily, daily[-1]], where="post", label=f"ID {child} ({weight:g} kg)")
    ax.set_xlabel("day")
    ax.set_ylabel("dose (mg/day)")
    ax.set_title(regimen.label, fontsize="small", wrap=True)
    ax.legend(frameon=False)
    return fig
