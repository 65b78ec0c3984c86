"""The `make run` study as library functions: regimens on one cohort, their exposure by age
band, target attainment, figures and a report, written into one folder.

`run` simulates every child's exposure over each regimen's last day in chunks (`pk.simulate(
..., keep="exposure")`, memory bounded whatever the number of children) and the curves of the
first `curves` children (all of them by default up to `CURVES_DEFAULT`): their concentrations
are written and drawn, the same numbers as in a run of the whole cohort (a child's draws
depend only on the seed and its position); the concentration figure draws each regimen's own
last two days on a grid of its own (PLOT_STEP_H, whatever the output step). `write` puts the
files into a folder, each hashed from the bytes written (`pkmodel.io.files.atomic_write`),
`provenance.json` last: CSV tables whose column names carry their units (`with_units`), the
figures as PNG (FIGURE_DPI) and SVG (or PDF), and the pages it is given (`pkmodel.report`).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .io import provenance as _provenance
from .population.cohort import cohort_rows
from .simulation.chunked import CHUNK_BYTES
from .population.cohort import Cohort
from .dosing.regimen import Regimen
from .io.csvfile import write_csv
from .analysis.compare import simulations, stacked
from .analysis.exposure import METRICS
from .drugs.baclofen import BACLOFEN_TARGET_MG_L
from .io.files import atomic_write
from .io.tables import long_columns, long_schema, long_table, write_parquet
from .model.model import Model
from .simulation.simulate import simulate
from .analysis.summary import add_bands, target_attainment
from ._study_tables import (  # noqa: F401  (public here too: the command line and report read them)
    PERCENTILES,
    SUMMARY_METRICS,
    capped,
    summaries,
    summary_table,
    where_caps_bind,
    wide,
)

# exposure is read over each regimen's last day; the concentration figure shows the last two,
# each regimen's own, on a grid of its own (PLOT_STEP_H whatever --dt: smooth peaks, tmax ~1.2 h)
# of the first FIGURE_CHILDREN children of the curves
WINDOW_H = 24.0
SHOWN_H = 48.0
PLOT_STEP_H = 1 / 12
FIGURE_CHILDREN = 10_000
FIGURE_FORMATS = ("png", "svg")  # written by default; pkmodel.plots.FORMATS may be asked for
FIGURE_DPI = 300
# curves written and drawn: those of the first CURVES_DEFAULT children (all, below that);
# at most CURVE_BYTES of them are held at once (all regimens)
CURVES_DEFAULT = 10_000
CURVE_BYTES = 2**30
_ROWS_PER_WRITE = 2_000  # children per slice of the concentrations file
# file name without its extension: (title, caption in the report)
FIGURES = {
    "concentrations": (
        "Concentrations over each regimen's last two days",
        "median, 25th-75th and 5th-95th percentile of children",
    ),
    "cavg": (
        "Average concentration over the last day (Cavg)",
        "cumulative distribution, with the target range shaded",
    ),
    "pta": ("Share of children with Cavg in the target range", "by weight band, with 95 % Wilson intervals"),
}
# the tables a study writes besides its concentrations
TABLE_FILES = (
    "parameters.csv",
    "exposures.csv",
    "summary.csv",
    "exposure_summary.csv",
    "pta.csv",
    "caps.csv",
)
# CSV column names carry their unit: the exposure metrics by dimension, the model's parameters
# by their unit (pkmodel.io.tables's conc_mg_L convention: '/' and '*' become '_')
_CSV_SUFFIX: dict[str | None, str] = {"concentration": "mg/L", "concentration*time": "mg*h/L"}


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a study found: every child's exposure, and the curves of the first children.

    exposures : one row per child and regimen: regimen (categorical), the columns of
        `pk.exposure` with the target range `BACLOFEN_TARGET_MG_L`, weight_kg,
        dose_mg_per_kg_day (received over the last day), age_band, weight_band
    parameters : one row per child (`ExposureResult.parameters`)
    curves : {label: Result} of the first `len(curves[label])` children
    drawn : {label: Result} of the first of those (FIGURE_CHILDREN), over the regimen's last
        two days every PLOT_STEP_H: the concentration figure's
    table, attainment : `summary_table(exposures)`, PTA by regimen and weight band
    caps : `capped(...)`: per regimen and weight band, the children a cap holds
    lightest_capped : {label: kg}, the lightest child a cap holds, per regimen it holds any
    n : children in the cohort
    """

    exposures: pd.DataFrame
    parameters: pd.DataFrame
    curves: dict
    table: pd.DataFrame
    attainment: pd.DataFrame
    n: int
    drawn: dict
    caps: pd.DataFrame
    lightest_capped: dict


def check_step(dt_h) -> None:
    """Refuse an output step that does not divide a day (the exposure window must fall on it)."""
    if not (np.isfinite(dt_h) and dt_h > 0 and abs(WINDOW_H / dt_h - round(WINDOW_H / dt_h)) < 1e-9):
        raise ValueError(f"--dt is {dt_h!r}; expected a time step in h that divides 24 h (e.g. 0.5, 0.25, 1)")


def study_times(regimens: dict[str, Regimen], dt_h: float) -> tuple[np.ndarray, dict[str, float]]:
    """Output times, h, and the end of each regimen's last dosing day, h.

    Times run every `dt_h` (which must divide 24 h) from 0 to the latest end,
    with every dose time added, so that each regimen's last day [end - 24, end]
    starts and ends on an output time.
    """
    check_step(dt_h)
    ends = {
        label: r.start_h + WINDOW_H * (np.floor((r.time_h[-1] - r.start_h) / WINDOW_H) + 1)
        for label, r in regimens.items()
    }
    end = max(ends.values())
    grid = np.arange(int(round(end / dt_h)) + 1) * dt_h
    doses = np.concatenate([r.time_h for r in regimens.values()])
    return np.union1d(grid, doses[doses <= end]), {k: float(v) for k, v in ends.items()}


def curve_limit(n_times: int, n_regimens: int) -> int:
    """The most children whose curves a study holds (CURVE_BYTES over all regimens)."""
    return max(1, CURVE_BYTES // (8 * n_times * n_regimens))


def run(
    model: Model,
    cohort: Cohort,
    regimens: dict[str, Regimen],
    times: np.ndarray,
    ends: dict[str, float],
    seed: int,
    curves: int,
    progress=None,
) -> Outcome:
    """Every child's exposure on each regimen over its last day, and the first `curves` curves.

    progress : optional callable(text), told what runs next.
    """
    tell = progress or (lambda text: None)
    size = max(1, CHUNK_BYTES // (8 * times.size))
    head = cohort_rows(cohort, 0, min(curves, len(cohort)))
    windows = {label: (ends[label] - WINDOW_H, ends[label]) for label in regimens}
    tables, parameters, kept, drawn = {}, None, {}, {}
    few = cohort_rows(head, 0, min(FIGURE_CHILDREN, len(head)))
    runs = simulations(
        model,
        cohort,
        regimens,
        times,
        seed=seed,
        window=windows,
        target_range=BACLOFEN_TARGET_MG_L,
        chunk_size=size,
    )
    for label in regimens:  # over regimens, each vectorised over children in chunks
        tell(f"simulating {label}")
        _, table, ran = next(runs)
        table["weight_kg"] = cohort.weight_kg
        table["dose_mg_per_kg_day"] = (
            _dose_received(regimens[label], cohort, seed, ends[label], size) / cohort.weight_kg
        )
        tables[label] = add_bands(table, cohort)
        parameters = ran.parameters if parameters is None else parameters
        del ran, table
        tell(f"curves of {label}")
        kept[label] = simulate(model, head, regimens[label], times, seed=seed)
        drawn[label] = simulate(
            model, few, regimens[label], figure_times(regimens[label], ends[label]), seed=seed
        )
    tell("exposure")
    exposures = stacked(tables)
    del tables
    caps, lightest = capped(exposures, cohort, regimens)
    return Outcome(
        exposures=exposures,
        parameters=parameters,
        curves=kept,
        table=summary_table(exposures),
        attainment=target_attainment(exposures, by=["regimen", "weight_band"], target=BACLOFEN_TARGET_MG_L),
        n=len(cohort),
        drawn=drawn,
        caps=caps,
        lightest_capped=lightest,
    )


def figure_times(regimen: Regimen, end: float) -> np.ndarray:
    """The concentration figure's times, h: the last SHOWN_H hours before `end` every
    PLOT_STEP_H, with the regimen's dose times there (a peak starts on its dose)."""
    start = max(0.0, end - SHOWN_H)
    grid = start + np.arange(int(round((end - start) / PLOT_STEP_H)) + 1) * PLOT_STEP_H
    doses = regimen.time_h[(regimen.time_h >= start) & (regimen.time_h <= end)]
    return np.union1d(np.minimum(grid, end), doses)


def _dose_received(regimen: Regimen, cohort: Cohort, seed: int, end: float, size: int) -> np.ndarray:
    """Each child's mg over the last day [end - 24, end), shape (n_subjects,); chunk by chunk."""
    last_day = (regimen.time_h >= end - WINDOW_H) & (regimen.time_h < end)
    out = np.empty(len(cohort))
    for a in range(0, len(cohort), size):  # over chunks of children, each vectorised
        b = min(a + size, len(cohort))
        doses = regimen.doses(cohort_rows(cohort, a, b), seed=seed, first=a)
        out[a:b] = doses.amount_mg[:, last_day].sum(axis=1)
    return out


def study_files(
    file_format: str, figure_formats=FIGURE_FORMATS, pages=("report.md", "report.html")
) -> list[str]:
    """The names of the files a study writes into its folder, in the order written (the
    command line's pages: `pkmodel.report`)."""
    return [
        f"concentrations.{file_format}",
        *TABLE_FILES,
        *[f"{stem}.{fmt}" for stem in FIGURES for fmt in dict.fromkeys(figure_formats)],
        *pages,
        "provenance.json",
    ]


def write(
    folder,
    file_format: str,
    record: dict,
    outcome: Outcome,
    figure_formats=FIGURE_FORMATS,
    dpi: float = FIGURE_DPI,
    pages=None,
) -> list[str]:
    """Write every file of a study into `folder` (new files), provenance.json last with the
    SHA-256 of each, taken from the bytes as written; returns the file names.

    figure_formats : of `pkmodel.plots.FORMATS` (PNG at `dpi`); pages : {name: write(path) ->
    SHA-256 hex}, written after the figures (the command line's report.md and report.html,
    `pkmodel.report`).
    """
    from .plots import FORMATS, check_dpi
    from .plots._style import write_figure

    bad = [f for f in figure_formats if f not in FORMATS]
    if bad or not figure_formats:
        raise ValueError(
            f"figure_formats is {list(figure_formats)!r}; expected one or more of {list(FORMATS)}"
        )
    check_dpi(dpi)
    digests = {}
    name = f"concentrations.{file_format}"
    with atomic_write(folder / name, text=file_format == "csv") as f:
        _write_curves(f, file_format, record, outcome.curves)
    digests[name] = f.sha256
    model = next(iter(outcome.curves.values())).model
    tables = dict(
        zip(
            TABLE_FILES,
            (
                outcome.parameters,
                outcome.exposures,
                outcome.table,
                summaries(outcome.exposures),
                outcome.attainment,
                outcome.caps,
            ),
        )
    )
    for name, frame in tables.items():
        with atomic_write(folder / name, text=True) as f:
            write_csv(with_units(frame, model), f)
        digests[name] = f.sha256
    for stem, figure in figures(outcome).items():
        for fmt in dict.fromkeys(figure_formats):
            with atomic_write(folder / f"{stem}.{fmt}") as f:
                write_figure(figure, f, fmt, dpi)
            digests[f"{stem}.{fmt}"] = f.sha256
    for name, write_page in (pages or {}).items():
        digests[name] = write_page(folder / name)
    with atomic_write(folder / "provenance.json", text=True) as f:
        f.write(_provenance.to_json(dict(record, files=digests)))
    return [*digests, "provenance.json"]


def _write_curves(f, file_format: str, record: dict, curves: dict) -> None:
    """The curves in the long format (`pkmodel.io.tables`: regimen, id, time_h, conc_mg_L;
    subject-major), a slice of children at a time; Parquet through the one writer."""
    import pyarrow as pa

    labels = pa.array(list(curves), type=pa.string())
    schema = long_schema(None, regimen=True)

    def slices():
        for k, res in enumerate(curves.values()):  # over regimens, then slices of children
            n, t = res.concentrations.shape
            for a in range(0, n, _ROWS_PER_WRITE):
                b = min(a + _ROWS_PER_WRITE, n)
                columns = {
                    "regimen": pa.DictionaryArray.from_arrays(
                        pa.array(np.full((b - a) * t, k, dtype=np.int32)), labels
                    ),
                    **long_columns(res.ids[a:b], res.times, res.concentrations[a:b]),
                }
                yield k, columns

    if file_format == "parquet":
        write_parquet(f, (long_table(columns, schema) for _, columns in slices()), record)
        return
    header = True
    for k, columns in slices():
        write_csv(pd.DataFrame(dict(columns, regimen=np.asarray(labels)[k])), f, header)
        header = False


def figures(outcome: Outcome) -> dict:
    """The study's figures (matplotlib Figures), by file name without extension (FIGURES)."""
    from .plots import exposure_distribution, percentile_band, pta_by_band

    drawn = outcome.drawn
    band = percentile_band(
        drawn,
        windows={label: (res.times[0], res.times[-1]) for label, res in drawn.items()},
        target_range=BACLOFEN_TARGET_MG_L,
    )
    by = "regimen" if len(drawn) > 1 else "age_band"
    cavg = exposure_distribution(outcome.exposures, metric="cavg", by=by, target_range=BACLOFEN_TARGET_MG_L)
    pta = pta_by_band(outcome.attainment, band="weight_band", by="regimen", target_range=BACLOFEN_TARGET_MG_L)
    out = dict(zip(FIGURES, (band, cavg, pta)))
    for stem, figure in out.items():
        some = subset(outcome, drawn) if stem == "concentrations" else ""
        figure.suptitle(FIGURES[stem][0] + some, fontsize="medium")
    return out


def with_units(frame: pd.DataFrame, model: Model | None = None) -> pd.DataFrame:
    """`frame` with each column named with its unit, as the CSV files carry them.

    Exposure metrics by dimension (cmax -> cmax_mg_L, auc -> auc_mg_h_L; times already end
    in _h, fluctuation in _pct), the model's parameters by their unit per child (CL ->
    CL_L_h: a unit per kg is the child's own after weight scaling). Columns that are
    dimensionless (id, n, counts, swing, frac_in_range, pta, eta_*, z-scores) keep their name.
    """
    names = {}
    parameters = getattr(model, "parameters", None) or {}
    for column in frame.columns:
        dimension = METRICS.get(column, (None,))[0]
        unit = _CSV_SUFFIX.get(dimension)
        if unit is None and column in parameters:
            unit = str(parameters[column].unit).removesuffix("/kg")
            unit = None if unit == "1" else unit
        if unit is not None:
            names[column] = f"{column}_{unit.replace('/', '_').replace('*', '_')}"
    return frame.rename(columns=names)


def subset(outcome: Outcome, curves: dict | None = None) -> str:
    """' (the first k of n children)' when the curves are not every child's, else ''."""
    k = len(next(iter((curves or outcome.curves).values())))
    return "" if k == outcome.n else f" (the first {k:,} of {outcome.n:,} children)"
