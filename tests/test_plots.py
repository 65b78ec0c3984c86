"""Figures (issue 19 parts 1, 2): every figure function at its defaults, checked on the Figure
objects (axis labels with units, legend outside the data, the target range shaded where given,
n in every panel), and the numbers drawn (median lines, Wilson intervals, bars)."""

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

import pkmodel as pk
from pkmodel import plots
from conftest import typical_cohort

TIMES = np.arange(0, 48.25, 0.25)
TARGET = pk.BACLOFEN_TARGET_MG_L
# an axis label names its unit in parentheses at its end; a categorical axis is named in words
UNIT = re.compile(
    r"^[A-Za-z][^_]* \((ng/mL|mg/L|h|days|kg|years|mg/day|%|% of children|count|"
    r"ng\*h/mL|mg per dose, \d doses/day)\)$"
)
CATEGORICAL = {"regimen", "assumed number"}
N_IN_PANEL = re.compile(r"n = \d[\d,]*")


@pytest.fixture(scope="module")
def kids():
    return pk.Cohort(weight_kg=np.linspace(10, 60, 40), age_years=np.linspace(2, 17.5, 40))


@pytest.fixture(scope="module")
def regimens():
    return {
        label: pk.Regimen.weight_based(2.0, n, 2, max_mg_per_dose=20) for label, n in (("TID", 3), ("QID", 4))
    }


@pytest.fixture(scope="module")
def both(card, kids, regimens):
    return pk.compare(card, kids, regimens, TIMES, seed=1, keep="both")


@pytest.fixture(scope="module")
def table(both, kids):
    return pk.add_bands(both.exposure, kids)


@pytest.fixture(scope="module")
def attainment(table):
    return pk.target_attainment(table, by=["regimen", "weight_band"], target=TARGET)


@pytest.fixture(scope="module")
def figures(card, kids, both, table, attainment):
    """Every figure function at its defaults (the arguments it requires only), by name."""
    observed = pd.DataFrame({"time_h": [1.0, 2.0, 8.5, 24.0], "conc_mg_L": [0.2, 0.3, 0.25, 0.1]})
    sensitivity = pk.sensitivity(
        card,
        typical_cohort(15, 40),
        pk.Regimen.weight_based(2.0, 3, 2),
        {"ka": [1.0, 5.0]},
        metrics=["cmax"],
        target_range=TARGET,
        dt_h=0.05,
    )
    doses = pk.find_dose(
        card, kids, target=0.3053, by="weight_band", seed=1, max_mg_per_dose=None, max_mg_per_day=None
    )
    made = {
        "spaghetti": lambda: plots.spaghetti(both.results["TID"]),
        "percentile_band": lambda: plots.percentile_band(both.results),
        "vpc": lambda: plots.vpc(both.results["TID"], observed),
        "daily_doses": lambda: plots.daily_doses(
            pk.Regimen.titration(
                start_mg=2.5,
                doses_per_day=3,
                step_mg=2.5,
                step_every_days=7,
                target_mg_per_kg_day=2.0,
                days=21,
                max_mg_per_dose=20,
            ),
            typical_cohort(9.24763, 50),
        ),
        **{
            f"exposure_distribution_{kind}": (
                lambda kind=kind: plots.exposure_distribution(table, kind=kind, target_range=TARGET)
            )
            for kind in plots.DISTRIBUTION_KINDS
        },
        "pta_by_band": lambda: plots.pta_by_band(attainment),
        "nomogram": lambda: plots.nomogram(doses),
        "tornado": lambda: plots.tornado(sensitivity),
    }
    before = plt.get_fignums()
    out = {name: make() for name, make in made.items()}
    # a new Figure is not pyplot's: a notebook shows it once, as the value of its cell
    assert plt.get_fignums() == before
    return out


FIGURES = [
    "spaghetti",
    "percentile_band",
    "vpc",
    "daily_doses",
    "exposure_distribution_ecdf",
    "exposure_distribution_hist",
    "exposure_distribution_violin",
    "pta_by_band",
    "nomogram",
    "tornado",
]


def test_every_figure_function_is_tested():
    public = {
        name
        for name in plots.__all__
        if callable(getattr(plots, name)) and name not in ("save", "wilson_interval", "check_dpi")
    }
    assert public == {re.sub(r"_(ecdf|hist|violin)$", "", name) for name in FIGURES}


@pytest.mark.parametrize("name", FIGURES)
def test_axis_labels_name_their_units_and_no_column(figures, name):
    for ax in figures[name].axes:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert UNIT.match(label) or label in CATEGORICAL, (name, label)


@pytest.mark.parametrize("name", FIGURES)
def test_every_panel_shows_its_n(figures, name):
    for ax in figures[name].axes:
        assert N_IN_PANEL.search(ax.get_title()), (name, ax.get_title())


@pytest.mark.parametrize("name", FIGURES)
def test_no_legend_over_any_panel(figures, name):
    fig = figures[name]
    fig.draw_without_rendering()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    panels = [ax.get_window_extent() for ax in fig.axes]
    for legend in legends:
        box = legend.get_window_extent()
        assert not any(box.overlaps(panel) for panel in panels), name


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_writes_png_svg_and_pdf(figures, name, tmp_path):
    written = plots.save(figures[name], tmp_path / name, formats=("png", "svg", "pdf"), dpi=100)
    assert [p.suffix for p in written] == [".png", ".svg", ".pdf"]
    png, svg, pdf = (p.read_bytes() for p in written)
    assert png.startswith(b"\x89PNG") and b"<svg" in svg[:1000] and pdf.startswith(b"%PDF")
    # the PNG's size is the figure's inches x dpi (bbox tight trims: at most that)
    width = int.from_bytes(png[16:20], "big")
    assert 0.5 * figures[name].get_figwidth() * 100 < width <= 1.3 * figures[name].get_figwidth() * 100


def test_a_figure_made_twice_gives_the_same_bytes(both, tmp_path):
    # matplotlib names SVG clip paths from uuid4 unless svg.hashsalt is set: without the salt
    # two saves of one figure differ in every clip-path id; PNG and PDF carry no date or version
    written = [
        plots.save(
            plots.percentile_band(both.results), tmp_path / run, formats=("png", "svg", "pdf"), dpi=100
        )
        for run in ("a", "b")
    ]
    assert b"clip-path" in written[0][1].read_bytes()
    for a, b in zip(*written):
        assert a.read_bytes() == b.read_bytes(), a.suffix
    assert matplotlib.rcParams["svg.hashsalt"] is None  # the salt is set only while saving


def target_span(ax):
    spans = [p for p in ax.patches if p.get_label().startswith("target ")]
    assert len(spans) == 1, [p.get_label() for p in ax.patches]
    return spans[0]


@pytest.mark.parametrize(
    "name, vertical",
    [
        ("exposure_distribution_ecdf", True),
        ("exposure_distribution_hist", True),
        ("exposure_distribution_violin", False),
    ],
)
def test_the_target_range_is_shaded_and_labelled_in_ng_per_ml(figures, name, vertical):
    ax = figures[name].axes[0]
    span = target_span(ax)
    assert span.get_label() == "target 80-400 ng/mL"
    extent = span.get_extents().transformed(ax.transData.inverted())
    np.testing.assert_allclose(
        [extent.x0, extent.x1] if vertical else [extent.y0, extent.y1], [80, 400], rtol=1e-9
    )


def test_curves_shade_the_target_when_given_and_never_by_default(both):
    plain = plots.percentile_band(both.results)
    assert not [p for ax in plain.axes for p in ax.patches if p.get_label().startswith("target")]
    shaded = plots.percentile_band(both.results, target_range=TARGET, unit="mg/L")
    for ax in shaded.axes:
        extent = target_span(ax).get_extents().transformed(ax.transData.inverted())
        np.testing.assert_allclose([extent.y0, extent.y1], [0.08, 0.40], rtol=1e-9)
    assert target_span(plots.spaghetti(both.results["QID"], target_range=TARGET).axes[0])


def test_percentile_band_draws_each_regimen_in_its_own_panel(both):
    fig = plots.percentile_band(both.results, start=24, end=48, unit="ng/mL")
    assert [ax.get_title() for ax in fig.axes] == ["TID (n = 40)", "QID (n = 40)"]
    for ax, res in zip(fig.axes, both.results.values()):
        assert len(ax.lines) == 1 and len(ax.collections) == 2  # median; 5-95 and 25-75 %
        shown = TIMES >= 24
        # time in days (1-2), the median 1000 x the mg/L median
        np.testing.assert_allclose(ax.lines[0].get_xdata(), TIMES[shown] / 24)
        np.testing.assert_allclose(
            ax.lines[0].get_ydata(), 1000 * np.median(res.concentrations[:, shown], axis=0)
        )
        assert ax.get_xlabel() == "time (days)"
    assert fig.axes[0].get_shared_y_axes().joined(*fig.axes)


def test_percentile_band_on_one_axes_tells_regimens_by_line_style(both):
    fig, (left, right) = plt.subplots(1, 2)
    assert plots.percentile_band(both.results, ax=right) is fig
    assert not left.lines and not right.collections  # nothing filled
    styles = {line.get_linestyle() for line in right.lines}
    assert len(right.lines) == 6 and len(styles) == 2  # median + 2 edges per regimen
    plt.close(fig)


def test_regimens_of_different_lengths_are_refused_or_aligned(card, kids):
    short = pk.simulate(card, kids, pk.Regimen.weight_based(2.0, 3, 1), TIMES, seed=1)
    long = pk.simulate(card, kids, pk.Regimen.weight_based(2.0, 3, 2), TIMES, seed=1)
    # the last day of the longer one is the shorter one's washout: no flat line passes
    with pytest.raises(
        ValueError,
        match=r"percentile_band: the range shown for '1 day' ends at "
        r"48 h, after its dosing ends \(24 h: last dose at 16 h "
        r"plus one interval\)",
    ):
        plots.percentile_band({"1 day": short, "2 days": long}, start=24, end=48)
    fig = plots.percentile_band(
        {"1 day": short, "2 days": long}, windows={"1 day": (0, 24), "2 days": (24, 48)}
    )
    first, second = (ax.lines[0].get_xdata() for ax in fig.axes)
    np.testing.assert_allclose([first[0], first[-1], second[0], second[-1]], [0, 1, 1, 2])


def test_pta_points_carry_95_percent_wilson_intervals(figures, attainment):
    ax = figures["pta_by_band"].axes[0]
    tid = attainment[attainment["regimen"] == "TID"]
    points = ax.containers[0]  # the TID errorbar: points, caps, bars
    np.testing.assert_allclose(points.lines[0].get_ydata(), 100 * tid["pta"])
    low, high = zip(
        *[
            binomtest(int(k), int(n)).proportion_ci(0.95, method="wilson")
            for k, n in zip(tid["n_attained"], tid["n"])
        ]
    )
    segments = points.lines[2][0].get_segments()
    # scipy's Wilson interval (independent code) to 1e-9 % points
    np.testing.assert_allclose([s[0][1] for s in segments], 100 * np.array(low), atol=1e-9)
    np.testing.assert_allclose([s[1][1] for s in segments], 100 * np.array(high), atol=1e-9)
    # the regimens sit side by side in each band: none hides the other
    qid_x = ax.containers[1].lines[0].get_xdata()
    assert np.all(qid_x - points.lines[0].get_xdata() > 0.1)
    first = int(tid["n"].iloc[0])  # the lightest band's children, each regimen
    assert ax.get_xticklabels()[0].get_text() == f"<15 kg\nn = {first}"
    assert ax.get_title().endswith("n = 40 children per regimen; under each band its n per regimen")


def test_wilson_interval_is_the_closed_form_and_stays_in_0_1():
    low, high = plots.wilson_interval([0, 5, 10], [10, 10, 10])
    expected = [binomtest(k, 10).proportion_ci(method="wilson") for k in (0, 5, 10)]
    np.testing.assert_allclose(low, [e.low for e in expected], atol=1e-12)
    np.testing.assert_allclose(high, [e.high for e in expected], atol=1e-12)
    assert low[0] == pytest.approx(0, abs=1e-15) and high[2] == pytest.approx(1, abs=1e-15)


def test_violin_whiskers_are_the_5th_and_95th_percentiles(figures, table):
    ax = figures["exposure_distribution_violin"].axes[0]
    whiskers = next(c for c in ax.collections if c.get_label() == "5th-95th percentile")
    tid = 1000 * table.loc[table["regimen"] == "TID", "cavg"].to_numpy()
    np.testing.assert_allclose(whiskers.get_segments()[0][:, 1], np.percentile(tid, [5, 95]))


def test_one_violin_of_all_children_without_groups(table):
    # found by mypy: by=None made the violin's axis label call None.replace (AttributeError)
    fig = plots.exposure_distribution(table, "cavg", by=None, kind="violin", target_range=TARGET)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"all\n(n = {len(table):,})"]
    whiskers = next(c for c in ax.collections if c.get_label() == "5th-95th percentile")
    everyone = 1000 * table["cavg"].to_numpy()  # ng/mL
    np.testing.assert_allclose(whiskers.get_segments()[0][:, 1], np.percentile(everyone, [5, 95]))
    plt.close(fig)


def test_ecdf_steps_are_each_regimens_sorted_values(figures, table):
    ax = figures["exposure_distribution_ecdf"].axes[0]
    tid = np.sort(1000 * table.loc[table["regimen"] == "TID", "cavg"].to_numpy())
    np.testing.assert_allclose(ax.lines[0].get_xdata(), tid)
    np.testing.assert_allclose(ax.lines[0].get_ydata()[-1], 100.0)
    assert ax.lines[0].get_label() == "TID (n = 40)"


def test_nomogram_bars_are_the_doses_found(card, kids, figures):
    ax = figures["nomogram"].axes[0]
    doses = pk.find_dose(
        card, kids, target=0.3053, by="weight_band", seed=1, max_mg_per_dose=None, max_mg_per_day=None
    )
    np.testing.assert_allclose([p.get_height() for p in ax.patches], doses["mg_per_dose"])


def test_daily_doses_label_weights_to_a_tenth_and_keep_coinciding_lines_visible(figures):
    lines = figures["daily_doses"].axes[0].lines
    assert [line.get_label() for line in lines] == ["ID 1 (9.2 kg)", "ID 2 (50.0 kg)"]
    # 50 kg: 3 x 2.5, 3 x 5, 3 x 7.5 mg/day over weeks 1-3, the last day drawn a full day wide
    np.testing.assert_allclose(lines[1].get_ydata()[[0, 7, 14, 20, 21]], [7.5, 15, 22.5, 22.5, 22.5])
    # week 1 the two coincide: the later line is thinner and dashed, so both show
    assert lines[1].get_linewidth() < lines[0].get_linewidth()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()


def test_spaghetti_draws_the_drawn_subjects_own_curves(both):
    res = both.results["TID"]
    fig = plots.spaghetti(res, n=7, seed=3, start=24, unit="mg/L", time="h")
    ax = fig.axes[0]
    ids = [int(line.get_label().split()[1]) for line in ax.lines]
    assert len(ids) == 7
    row = list(res.cohort.ids).index(ids[0])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), res.concentrations[row, TIMES >= 24])
    assert ax.get_xlabel() == "time (h)" and ax.get_ylabel() == "concentration (mg/L)"


def test_a_target_range_on_a_metric_that_is_not_a_concentration_is_refused(table):
    with pytest.raises(
        ValueError,
        match=r"target_range is \(0.08, 0.4\) for metric "
        r"'tmax_h_after_dose' \(time\); expected target_range=None",
    ):
        plots.exposure_distribution(table, metric="tmax_h_after_dose", target_range=TARGET)


def test_figures_take_the_package_style(figures):
    # Okabe-Ito blue first, constrained layout, text kept as text in SVG
    assert figures["percentile_band"].axes[0].lines[0].get_color() == "#0072B2"
    assert figures["nomogram"].get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    assert plots.STYLE.is_file() and "Okabe" in plots.STYLE.read_text()


def test_no_plot_calls_show(monkeypatch, both, table):
    def refuse(*args, **kwargs):
        raise AssertionError("show() called")

    monkeypatch.setattr(plt, "show", refuse)
    monkeypatch.setattr(matplotlib.figure.Figure, "show", refuse)
    plots.spaghetti(both.results["QID"])
    plots.percentile_band(both.results)
    plots.exposure_distribution(table, target_range=TARGET)


def test_a_plot_as_the_last_line_of_a_notebook_cell_shows_once(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    from test_notebooks import execute

    cell = (
        "import numpy as np, pkmodel as pk, pkmodel.plots as pkplots\n"
        "res = pk.simulate(pk.load_model('baclofen_cp_card'), pk.Cohort(weight_kg=[20.0], "
        "age_years=[6.0]), pk.Regimen.weight_based(2.0, 3, 1), np.arange(0, 24.5, 0.5))\n"
        "pkplots.spaghetti(res, n=1)"
    )
    # and a pyplot figure of the researcher's own, after it, still shows (interactive mode kept)
    own = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1]);"
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(cell), nbformat.v4.new_code_cell(own)]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    execute(notebook, tmp_path, {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"})
    for shown in notebook.cells:
        assert len([o for o in shown.outputs if "image/png" in o.get("data", {})]) == 1


def test_an_ecdf_of_many_children_draws_at_most_5000_steps_on_the_curve():
    values = np.random.default_rng(1).lognormal(np.log(0.3), 0.4, 200_000)
    frame = pd.DataFrame({"regimen": "TID", "cavg": values})
    line = plots.exposure_distribution(frame, target_range=None).axes[0].lines[0]
    x, y = line.get_xdata(), line.get_ydata()
    assert x.size <= 5000 and x[0] == 1000 * values.min() and x[-1] == 1000 * values.max()
    # every drawn step is on the exact ECDF: y % of children at or below x
    exact = 100 * np.searchsorted(np.sort(1000 * values), x, side="right") / values.size
    np.testing.assert_allclose(y, exact, atol=1e-9)
