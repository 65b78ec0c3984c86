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
