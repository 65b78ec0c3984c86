"""The `make run` study as library functions: regimens on one cohort, their exposure by age
band, target attainment, figures and a report, written into one folder.

`run` simulates every child's exposure over each regimen's last day in chunks (`pk.simulate(
..., keep="exposure")`, memory bounded whatever the number of children) and the curves of the
first `curves` children (all of them by default up to `CURVES_DEFAULT`): their concentrations
are written and drawn, the same numbers as in a run of the whole cohort (a child's draws
depend only on the seed and its position). `write` puts the files into a folder, each
hashed from the bytes written (`pkmodel.io.files.atomic_write`), `provenance.json` last.
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
from .analysis.summary import add_bands, summarize, target_attainment
from .units import concentration_in

# exposure is read over each regimen's last day; the concentration figure shows the last two
WINDOW_H = 24.0
SHOWN_H = 48.0
# curves written and drawn: those of the first CURVES_DEFAULT children (all, below that);
# at most CURVE_BYTES of them are held at once (all regimens)
CURVES_DEFAULT = 10_000
CURVE_BYTES = 2**30
_ROWS_PER_WRITE = 2_000  # children per slice of the concentrations file
# what the summary table gives, per regimen and age band
SUMMARY_METRICS = ("weight (kg)", "dose (mg/kg/day)", "cmax (ng/mL)", "cmin (ng/mL)", "cavg (ng/mL)")
# file name: (title, caption in the report)
FIGURES = {"concentrations.png": ("Concentrations over the last two days",
                                  "median, 25-75 % and 5-95 % of children"),
           "cavg.png": ("Average concentration over the last day (Cavg)",
                        "cumulative distribution, with the target range shaded"),
           "pta.png": ("Share of children with Cavg in the target range", "by weight band")}
# the tables a study writes besides its concentrations
TABLE_FILES = ("parameters.csv", "exposures.csv", "summary.csv", "exposure_summary.csv", "pta.csv")


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a study found: every child's exposure, and the curves of the first children.

    exposures : one row per child and regimen: regimen (categorical), the columns of
        `pk.exposure` with the target range `BACLOFEN_TARGET_MG_L`, weight_kg,
        dose_mg_per_kg_day (received over the last day), age_band, weight_band
    parameters : one row per child (`ExposureResult.parameters`)
    curves : {label: Result} of the first `len(curves[label])` children
    table, attainment : `summary_table(exposures)`, PTA by regimen and weight band
    n : children in the cohort
    """

    exposures: pd.DataFrame
    parameters: pd.DataFrame
    curves: dict
    table: pd.DataFrame
    attainment: pd.DataFrame
    n: int


def check_step(dt_h) -> None:
    """Refuse an output step that does not divide a day (the exposure window must fall on it)."""
    if not (np.isfinite(dt_h) and dt_h > 0 and abs(WINDOW_H / dt_h - round(WINDOW_H / dt_h)) < 1e-9):
        raise ValueError(f"--dt is {dt_h!r}; expected a time step in h that divides 24 h "
                         "(e.g. 0.5, 0.25, 1)")


def study_times(regimens: dict[str, Regimen], dt_h: float) -> tuple[np.ndarray, dict[str, float]]:
    """Output times, h, and the end of each regimen's last dosing day, h.

    Times run every `dt_h` (which must divide 24 h) from 0 to the latest end,
    with every dose time added, so that each regimen's last day [end - 24, end]
    starts and ends on an output time.
    """
    check_step(dt_h)
    ends = {label: r.start_h + WINDOW_H * (np.floor((r.time_h[-1] - r.start_h) / WINDOW_H) + 1)
            for label, r in regimens.items()}
    end = max(ends.values())
    grid = np.arange(int(round(end / dt_h)) + 1) * dt_h
    doses = np.concatenate([r.time_h for r in regimens.values()])
    return np.union1d(grid, doses[doses <= end]), {k: float(v) for k, v in ends.items()}


def curve_limit(n_times: int, n_regimens: int) -> int:
    """The most children whose curves a study holds (CURVE_BYTES over all regimens)."""
    return max(1, CURVE_BYTES // (8 * n_times * n_regimens))


def run(model: Model, cohort: Cohort, regimens: dict[str, Regimen], times: np.ndarray,
        ends: dict[str, float], seed: int, curves: int, progress=None) -> Outcome:
    """Every child's exposure on each regimen over its last day, and the first `curves` curves.

    progress : optional callable(text), told what runs next.
    """
    tell = progress or (lambda text: None)
    size = max(1, CHUNK_BYTES // (8 * times.size))
    head = cohort_rows(cohort, 0, min(curves, len(cohort)))
    windows = {label: (ends[label] - WINDOW_H, ends[label]) for label in regimens}
    tables, parameters, drawn = {}, None, {}
    runs = simulations(model, cohort, regimens, times, seed=seed, window=windows,
                       target_range=BACLOFEN_TARGET_MG_L, chunk_size=size)
    for label in regimens:  # over regimens, each vectorised over children in chunks
        tell(f"simulating {label}")
        _, table, ran = next(runs)
        table["weight_kg"] = cohort.weight_kg
        table["dose_mg_per_kg_day"] = (_dose_received(regimens[label], cohort, seed, ends[label], size)
                                       / cohort.weight_kg)
        tables[label] = add_bands(table, cohort)
        parameters = ran.parameters if parameters is None else parameters
        del ran, table
        tell(f"curves of {label}")
        drawn[label] = simulate(model, head, regimens[label], times, seed=seed)
    tell("exposure")
    exposures = stacked(tables)
    del tables
    return Outcome(exposures=exposures, parameters=parameters, curves=drawn,
                   table=summary_table(exposures),
                   attainment=target_attainment(exposures, by=["regimen", "weight_band"],
                                                target=BACLOFEN_TARGET_MG_L),
                   n=len(cohort))


def _dose_received(regimen: Regimen, cohort: Cohort, seed: int, end: float, size: int) -> np.ndarray:
    """Each child's mg over the last day [end - 24, end), shape (n_subjects,); chunk by chunk."""
    last_day = (regimen.time_h >= end - WINDOW_H) & (regimen.time_h < end)
    out = np.empty(len(cohort))
    for a in range(0, len(cohort), size):  # over chunks of children, each vectorised
        b = min(a + size, len(cohort))
        doses = regimen.doses(cohort_rows(cohort, a, b), seed=seed, first=a)
        out[a:b] = doses.amount_mg[:, last_day].sum(axis=1)
    return out


def summary_table(exposures: pd.DataFrame) -> pd.DataFrame:
    """Median and 5th-95th percentile by regimen and age band of `SUMMARY_METRICS`.

    Returns
    -------
    DataFrame: regimen, age_band, metric, n, median, p5, p95 (weight in kg,
    dose received in mg/kg/day, Cmax, Cmin and Cavg over the last day in ng/mL).
    """
    shown = {"weight (kg)": exposures["weight_kg"].to_numpy(),
             "dose (mg/kg/day)": exposures["dose_mg_per_kg_day"].to_numpy()}
    for metric in ("cmax", "cmin", "cavg"):
        shown[f"{metric} (ng/mL)"] = concentration_in(exposures[metric].to_numpy(), "ng/mL")
    keys = exposures[["regimen", "age_band"]]
    parts = []
    for metric, values in shown.items():  # a metric at a time: no long table of them all
        grouped = pd.Series(values, index=pd.MultiIndex.from_frame(keys)).groupby(
            level=[0, 1], observed=True, sort=True)
        parts.append(pd.DataFrame({"metric": metric, "n": grouped.size(), "median": grouped.median(),
                                   "p5": grouped.quantile(0.05), "p95": grouped.quantile(0.95)}))
    table = pd.concat(parts).reset_index()
    table["metric"] = pd.Categorical(table["metric"], categories=SUMMARY_METRICS, ordered=True)
    return table.sort_values(["regimen", "age_band", "metric"], kind="stable", ignore_index=True)[
        ["regimen", "age_band", "metric", "n", "median", "p5", "p95"]]


def summaries(exposures: pd.DataFrame) -> pd.DataFrame:
    """`pk.summarize(exposures, by=["regimen", "age_band"], unit="ng/mL")`, the same rows,
    computed a regimen and a metric at a time (memory: one column of one regimen)."""
    present = [m for m in METRICS if m in exposures.columns]
    parts = []
    for label in exposures["regimen"].cat.categories:  # groups never span regimens or metrics
        rows = (exposures["regimen"] == label).to_numpy()
        for metric in present:
            parts.append(summarize(exposures.loc[rows, ["regimen", "age_band", metric]],
                                   by=["regimen", "age_band"], metrics=[metric], unit="ng/mL"))
    table = pd.concat(parts, ignore_index=True)
    table["metric"] = pd.Categorical(table["metric"], categories=present, ordered=True)
    return table.sort_values(["regimen", "age_band", "metric"], kind="stable", ignore_index=True)


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as one row per regimen and age band: n, then 'median [p5-p95]' per metric."""
    cells = table.assign(cell=[f"{m:.3g} [{lo:.3g}-{hi:.3g}]"
                               for m, lo, hi in zip(table["median"], table["p5"], table["p95"])])
    out = cells.pivot(index=["regimen", "age_band", "n"], columns="metric", values="cell")
    out.columns = [str(c) for c in out.columns]
    return out.reset_index()


def study_files(file_format: str) -> list[str]:
    """The names of the files a study writes into its folder, in the order written."""
    return [f"concentrations.{file_format}", *TABLE_FILES, *FIGURES, "report.md", "provenance.json"]


def write(folder, file_format: str, record: dict, outcome: Outcome) -> list[str]:
    """Write every file of a study into `folder` (new files), provenance.json last with the
    SHA-256 of each, taken from the bytes as written; returns the file names."""
    import matplotlib.pyplot as plt

    digests = {}
    name = f"concentrations.{file_format}"
    with atomic_write(folder / name, text=file_format == "csv") as f:
        _write_curves(f, file_format, record, outcome.curves)
    digests[name] = f.sha256
    tables = dict(zip(TABLE_FILES, (outcome.parameters, outcome.exposures, outcome.table,
                                    summaries(outcome.exposures), outcome.attainment)))
    for name, frame in tables.items():
        with atomic_write(folder / name, text=True) as f:
            write_csv(frame, f)
        digests[name] = f.sha256
    for name, figure in _figures(outcome).items():
        with atomic_write(folder / name) as f:
            figure.savefig(f, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        digests[name] = f.sha256
    with atomic_write(folder / "report.md", text=True) as f:
        f.write(_report(record, outcome))
    digests["report.md"] = f.sha256
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
                columns = {"regimen": pa.DictionaryArray.from_arrays(
                               pa.array(np.full((b - a) * t, k, dtype=np.int32)), labels),
                           **long_columns(res.ids[a:b], res.times, res.concentrations[a:b])}
                yield k, columns

    if file_format == "parquet":
        write_parquet(f, (long_table(columns, schema) for _, columns in slices()), record)
        return
    header = True
    for k, columns in slices():
        write_csv(pd.DataFrame(dict(columns, regimen=np.asarray(labels)[k])), f, header)
        header = False


def _figures(outcome: Outcome) -> dict:
    """The report's figures, by file name (FIGURES)."""
    from .plots import exposure_distribution, percentile_band, pta_by_band

    curves = outcome.curves
    end = max(res.times[-1] for res in curves.values())
    band = percentile_band(curves, start=max(0.0, end - SHOWN_H), end=end)
    by = "regimen" if len(curves) > 1 else "age_band"
    cavg = exposure_distribution(outcome.exposures, metric="cavg", by=by,
                                 target_range=BACLOFEN_TARGET_MG_L)
    pta = pta_by_band(outcome.attainment, band="weight_band", by="regimen")
    figures = dict(zip(FIGURES, (band, cavg, pta)))
    for name, figure in figures.items():
        title = FIGURES[name][0] + (_subset(outcome) if name == "concentrations.png" else "")
        figure.axes[0].set_title(title, fontsize="medium")
    return figures


def _subset(outcome: Outcome) -> str:
    """' (the first k of n children)' when the curves are not every child's, else ''."""
    k = len(next(iter(outcome.curves.values())))
    return "" if k == outcome.n else f" (the first {k:,} of {outcome.n:,} children)"


def _report(record: dict, outcome: Outcome) -> str:
    """The Markdown report: what was run, the summary by age band, PTA, the figures."""
    curves = outcome.curves
    regimens = record["regimen"] if isinstance(record["regimen"], dict) else {
        next(iter(curves)): record["regimen"]}
    cohort = record["cohort"]
    windows = ", ".join(f"{label}: h {lo:g}-{hi:g}" for label, (lo, hi) in
                        record["exposure_window_h"].items())
    low, high = concentration_in(np.array(record["target_range_mg_l"]), "ng/mL")
    first = next(iter(curves.values()))
    subset = _subset(outcome)
    shown = (f"the first {len(first):,} of {outcome.n:,} children (`--curves`); exposures, "
             "tables and Cavg and PTA figures are of every child" if subset else "every child")
    lines = [
        f"# pkmodel: {' vs '.join(curves)}", "",
        "A research tool, not clinical dosing advice: the model is a reconstruction from "
        "published population analyses, with stated assumptions.", "",
        f"- Model: `{record['model']}` ({first.model.description}); file `{record['model_file']}`, "
        f"SHA-256 `{record['model_sha256']}`",
        f"- Children: {cohort['n']} aged {cohort['age_years'][0]:g}-{cohort['age_years'][1]:g} y "
        f"from the CDC 2000 growth charts, GMFCS {cohort['gmfcs']}; seed {record['seed']}; the same "
        "children and random effects on every regimen",
        "- Regimens:", *[f"  - **{label}**: `{text}`" for label, text in regimens.items()],
        f"- Exposure over each regimen's last day ({windows}); target range {low:g}-{high:g} ng/mL "
        "(a laboratory-stated serum range, not validated in children)",
        f"- Curves (concentrations file and figure): {shown}",
        f"- Command: `{record['command']}`; pkmodel {record['pkmodel_version']}, "
        f"{record['created_utc']}", "",
        "## Exposure by age band", "",
        "Median [5th-95th percentile]: weight, dose received over the last day, and Cmax, Cmin "
        "and Cavg over the last day.", "",
        "Cavg depends only on CL/F and the dose received. Cmax and Cmin also depend on the "
        "absorption and distribution numbers the published model does not give (marked assumed "
        "in the model file): they move with those assumptions, Cavg does not (`pk.sensitivity`; "
        "the models against published data: docs/validation.md).", "",
        _markdown(wide(outcome.table)), "",
        "## Target attainment by weight band", "",
        "Share of children with Cavg within the target range.", "",
        _markdown(outcome.attainment.assign(pta=[f"{100 * p:.0f} %" for p in outcome.attainment["pta"]])),
        "", "## Figures", "",
    ]
    for name, (title, caption) in FIGURES.items():
        lines += [f"![{title}]({name})", "",
                  f"*{title}: {caption}{subset if name == 'concentrations.png' else ''}.*", ""]
    lines += ["Files: `concentrations.*` (the curves above), `parameters.csv`, `exposures.csv`, "
              "`summary.csv`, `exposure_summary.csv`, `pta.csv`; `provenance.json` says how they "
              "were made and holds each file's SHA-256."]
    return "\n".join(lines) + "\n"


def _markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (numbers to 3 significant digits)."""
    def cell(value) -> str:
        return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)

    rows = [[str(c) for c in frame.columns], ["---"] * frame.shape[1],
            *[[cell(v) for v in row] for row in frame.itertuples(index=False)]]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
