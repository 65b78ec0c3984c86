import matplotlib
import numpy as np

import pkmodel as pk
from pkmodel import plots


def test_percentile_band_draws_a_median_and_a_band_per_result(card, tmp_path):
    cohort = pk.Cohort(weight_kg=np.linspace(10, 60, 40), age_years=np.full(40, 9.0))
    times = np.arange(0, 48.5, 0.5)
    results = {label: pk.simulate(card, cohort, pk.Regimen.weight_based(2.0, n, 2), times, seed=1)
               for label, n in (("TID", 3), ("QID", 4))}
    fig = plots.percentile_band(results, start=24, end=48, unit="ng/mL")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    assert ax.get_xlabel() == "time (h)" and ax.get_ylabel() == "concentration (ng/mL)"
    # the median line is in ng/mL: 1000 x the mg/L median, on the shown window only
    t = ax.lines[0].get_xdata()
    assert t[0] == 24 and t[-1] == 48
    np.testing.assert_allclose(ax.lines[0].get_ydata(),
                               1000 * np.median(results["TID"].concentrations[:, 48:], axis=0))
    fig.savefig(tmp_path / "band.png")
    assert (tmp_path / "band.png").stat().st_size > 1000
    matplotlib.pyplot.close(fig)
