import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import pkmodel as pk
from pkmodel import plots
from conftest import typical_cohort

TIMES = np.arange(0, 48.5, 0.5)


@pytest.fixture(scope="module")
def kids():
    return pk.Cohort(weight_kg=np.linspace(10, 60, 40), age_years=np.linspace(2, 17.5, 40))


@pytest.fixture(scope="module")
def results(card, kids):
    return {label: pk.simulate(card, kids, pk.Regimen.weight_based(2.0, n, 2), TIMES, seed=1)
            for label, n in (("TID", 3), ("QID", 4))}


@pytest.fixture(scope="module")
def table(card, kids):
    regimens = {label: pk.Regimen.weight_based(2.0, n, 2) for label, n in (("TID", 3), ("QID", 4))}
    return pk.add_bands(pk.compare(card, kids, regimens, TIMES, seed=1), kids)


def renders(fig, tmp_path) -> bool:
    path = tmp_path / "figure.png"
    fig.savefig(path)
    plt.close(fig)
    return path.stat().st_size > 1000


def test_spaghetti_draws_one_line_per_drawn_subject(results, tmp_path):
    res = results["TID"]
    fig = plots.spaghetti(res, n=7, seed=3, start=24, unit="mg/L")
    ax = fig.axes[0]
    assert len(ax.lines) == 7
    assert ax.get_xlabel() == "time (h)" and ax.get_ylabel() == "concentration (mg/L)"
    # each line is one subject's curve, in mg/L, from 24 h on
    ids = [int(line.get_label().split()[1]) for line in ax.lines]
    row = list(res.cohort.ids).index(ids[0])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), res.concentrations[row, TIMES >= 24])
    assert renders(fig, tmp_path)


def test_spaghetti_draws_every_subject_when_fewer_than_n(card, tmp_path):
    res = pk.simulate(card, pk.Cohort(weight_kg=[20.0, 30.0], age_years=[6.0, 9.0]),
                      pk.Regimen.weight_based(2.0, 3, 1), TIMES[:49], seed=1)
    fig = plots.spaghetti(res, n=20)
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_ylabel() == "concentration (ng/mL)"
    assert renders(fig, tmp_path)


def test_percentile_band_draws_a_median_and_two_ribbons_per_result(results, tmp_path):
    fig = plots.percentile_band(results, start=24, end=48, unit="ng/mL")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 4  # 5-95 % and 25-75 % per regimen
    assert ax.get_xlabel() == "time (h)" and ax.get_ylabel() == "concentration (ng/mL)"
    # the median line is in ng/mL: 1000 x the mg/L median, on the shown window only
    t = ax.lines[0].get_xdata()
    assert t[0] == 24 and t[-1] == 48
    np.testing.assert_allclose(ax.lines[0].get_ydata(),
                               1000 * np.median(results["TID"].concentrations[:, 48:], axis=0))
    assert renders(fig, tmp_path)


def test_percentile_band_on_a_given_axes(results, tmp_path):
    fig, (left, right) = plt.subplots(1, 2)
    assert plots.percentile_band(results, bands=[(10, 90)], unit="mg/L", ax=right) is fig
    assert len(right.lines) == 2 and len(right.collections) == 2 and not left.lines
    assert renders(fig, tmp_path)


@pytest.mark.parametrize("kind, lines, patches, collections", [
    ("ecdf", 2, 1, 0),      # a step line per regimen; the target span
    ("hist", 0, 3, 0),      # a filled histogram per regimen; the target span
    ("violin", 0, 1, 6),    # a body per regimen + min, max, bar, median line collections
])
def test_exposure_distribution_per_regimen_with_the_target_shaded(table, tmp_path, kind, lines,
                                                                  patches, collections):
    fig = plots.exposure_distribution(table, metric="cavg", kind=kind, unit="ng/mL", target_range=pk.BACLOFEN_TARGET_MG_L)
    ax = fig.axes[0]
    assert (len(ax.lines), len(ax.patches), len(ax.collections)) == (lines, patches, collections)
    label = ax.get_ylabel() if kind == "violin" else ax.get_xlabel()
    assert label == "Cavg (ng/mL)"
    # the shaded range is 80-400 ng/mL
    span = ax.patches[-1].get_extents().transformed(ax.transData.inverted())
    lo, hi = (span.y0, span.y1) if kind == "violin" else (span.x0, span.x1)
    np.testing.assert_allclose([lo, hi], [80, 400], rtol=1e-9)
    if kind == "ecdf":
        assert ax.get_ylabel() == "cumulative fraction of subjects"
        tid = np.sort(1000 * table.loc[table["regimen"] == "TID", "cavg"].to_numpy())
        np.testing.assert_allclose(ax.lines[0].get_xdata(), tid)
    assert renders(fig, tmp_path)


def test_exposure_distribution_of_auc_in_ng_h_per_ml(table, tmp_path):
    fig = plots.exposure_distribution(table, metric="auc", kind="ecdf", target_range=None)
    assert fig.axes[0].get_xlabel() == "AUC (ng*h/mL)" and len(fig.axes[0].patches) == 0
    assert renders(fig, tmp_path)


def test_a_target_range_on_a_metric_that_is_not_a_concentration_is_refused(table):
    with pytest.raises(ValueError, match=r"target_range is \(0.08, 0.4\) for metric 'tmax' \(time\); "
                                         r"expected target_range=None"):
        plots.exposure_distribution(table, metric="tmax", target_range=pk.BACLOFEN_TARGET_MG_L)


def test_pta_by_band_draws_one_line_per_regimen(table, tmp_path):
    pta = pk.target_attainment(table, by=["regimen", "age_band"], target=pk.BACLOFEN_TARGET_MG_L)
    fig = plots.pta_by_band(pta, band="age_band")
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    assert ax.get_xlabel() == "age band (years)" and ax.get_ylabel() == "PTA (% of subjects)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2-6 y", "7-11 y", "12-17 y"]
    # the TID line is 100 x its PTA per band, in band order
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * pta.loc[pta["regimen"] == "TID", "pta"])
    assert renders(fig, tmp_path)


def test_nomogram_draws_a_bar_per_band(card, kids, tmp_path):
    doses = pk.find_dose(card, kids, target=0.3053, by="weight_band", seed=1, max_mg_per_dose=None,
                         max_mg_per_day=None)
    fig = plots.nomogram(doses)
    ax = fig.axes[0]
    assert len(ax.patches) == 6
    np.testing.assert_allclose([p.get_height() for p in ax.patches], doses["mg_per_dose"])
    assert ax.get_xlabel() == "weight band (kg)"
    assert ax.get_ylabel() == "dose (mg per dose, 3 doses/day)"
    assert renders(fig, tmp_path)


def test_no_plot_calls_show(monkeypatch, results, table, tmp_path):
    def refuse():
        raise AssertionError("show() called")
    monkeypatch.setattr(plt, "show", refuse)
    monkeypatch.setattr(matplotlib.figure.Figure, "show", lambda self, *a, **k: refuse())
    for fig in (plots.spaghetti(results["QID"]), plots.percentile_band(results),
                plots.exposure_distribution(table, target_range=pk.BACLOFEN_TARGET_MG_L),
                plots.pta_by_band(pk.target_attainment(table, by=["regimen", "weight_band"], target=pk.BACLOFEN_TARGET_MG_L))):
        plt.close(fig)


def test_daily_doses_draws_each_childs_daily_dose(tmp_path):
    cohort = typical_cohort(10, 50)
    reg = pk.Regimen.titration(start_mg=2.5, doses_per_day=3, step_mg=2.5, step_every_days=7,
                               target_mg_per_kg_day=2.0, days=21, max_mg_per_dose=20)
    fig = plots.daily_doses(reg, cohort)
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["ID 1 (10 kg)", "ID 2 (50 kg)"]
    # 50 kg: 3 x 2.5, 3 x 5, 3 x 7.5 mg/day over weeks 1-3, the last day drawn a full day wide
    np.testing.assert_allclose(lines[1].get_ydata()[[0, 7, 14, 20, 21]], [7.5, 15, 22.5, 22.5, 22.5])
    fig.savefig(tmp_path / "doses.png")
    matplotlib.pyplot.close(fig)
