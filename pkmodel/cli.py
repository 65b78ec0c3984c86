"""The command line: `pkmodel models | simulate | compare` (also `python -m pkmodel`).

`simulate` runs one regimen, `compare` two or more on the same children with
the same random effects; both write the concentrations (Parquet, or CSV with
`--format csv`), each child's parameters and exposures, a summary table by age
band (printed and saved), PNG figures and a Markdown report into `--out`.
Every file carries its provenance (`pkmodel.provenance`): Parquet files in
their schema metadata, the others through `provenance.json` beside them,
which also lists each file's SHA-256. Files are written atomically (a
temporary file, then renamed: `pkmodel.io.atomic_write`), and files of an
earlier run are kept unless `--overwrite` (checked before the run). Errors
print one line on stderr and exit non-zero; `--debug` shows the traceback.

A research tool, not clinical dosing advice.
"""

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from . import provenance as _provenance
from .cohort import GMFCS_MIX, Cohort
from .dosing import Regimen
from .exposure import BACLOFEN_TARGET_MG_L, exposure
from .io import atomic_write
from .model import bundled_models, load_model
from .simulate import simulate
from .summary import add_bands, summarize, target_attainment
from .units import concentration_in

DEFAULT_MODEL = "baclofen_cp_card"
# exposure is read over each regimen's last day; the concentration figure shows the last two
WINDOW_H = 24.0
SHOWN_H = 48.0
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
_PROGRESS_DELAY_S = 1.0  # runs shorter than this show no progress bar


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line on stderr (exit 2)."""

    def error(self, message):
        self.exit(2, f"pkmodel: error: {message} (see {self.prog} --help)\n")


def main(argv=None) -> int:
    """Run the command line; returns the exit code (0 on success)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    try:
        return args.command(args, argv)
    except KeyboardInterrupt:
        print("pkmodel: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every failure is one line, unless --debug asks for the traceback
        if args.debug:
            raise
        kind = "" if isinstance(err, (ValueError, OSError)) else f"{type(err).__name__}: "
        print(f"pkmodel: error: {kind}{' '.join(str(err).split())}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pkmodel", description=(
        "Population pharmacokinetic simulation: oral baclofen in children with cerebral palsy "
        "first. A research tool, not clinical dosing advice."))
    parser.add_argument("--version", action="version", version=f"pkmodel {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    listing = commands.add_parser("models", help="list the bundled models")
    listing.set_defaults(command=_models)
    listing.add_argument("--debug", action="store_true", help="show the traceback of an error")
    one = commands.add_parser("simulate", help="one regimen on a growth-chart cohort", description=(
        "Simulate one regimen on children drawn from the CDC 2000 growth charts; write "
        "concentrations, parameters, exposures, a summary, figures and a report into --out."))
    one.add_argument("--regimen", required=True, help='e.g. "2 mg/kg/day TID for 14 days, max 20 '
                                                      'mg/dose" (grammar: README, pkmodel.grammar)')
    one.set_defaults(command=_simulate)
    many = commands.add_parser("compare", help="regimens on the same children", description=(
        "Compare regimens on the same children with the same random effects; write the tables, "
        "figures and a Markdown report into --out."))
    many.add_argument("--regimen", action="append", required=True, metavar="[LABEL=]TEXT",
                      help="a regimen, once per regimen (e.g. --regimen \"TID=2 mg/kg/day TID for "
                           "14 days\"); the label defaults to the text")
    many.set_defaults(command=_compare)
    for sub in (one, many):
        sub.add_argument("--model", default=DEFAULT_MODEL,
                         help=f"bundled model name or path to a .toml file (default {DEFAULT_MODEL})")
        sub.add_argument("--n", type=_whole, default=1000, help="children (default 1000)")
        sub.add_argument("--ages", type=_ages, default=(2.0, 17.0), metavar="FROM-TO",
                         help="ages, years, drawn uniformly (default 2-17)")
        sub.add_argument("--gmfcs", type=_gmfcs, default="registry", metavar="MIX",
                         help="GMFCS levels of the children: 'registry' (the mean mix of nine CP "
                              "registries, Reid 2011; default), a level 1-5, or 'none' (the CDC "
                              "charts without CP weight offsets)")
        sub.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        sub.add_argument("--dt", type=float, default=0.5, help="output time step, h (default 0.5)")
        sub.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
        sub.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                         help="file format of the concentrations (default parquet)")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.add_argument("--overwrite", action="store_true",
                         help="replace the files of an earlier run in --out (default: refuse)")
        sub.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def _whole(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _ages(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age range; expected FROM-TO in "
                                         "years, e.g. 2-17") from None
    return low, high


def _gmfcs(text: str):
    if text in ("registry", "none") or text in tuple("12345"):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a GMFCS mix; expected 'registry', 'none' or "
                                     "a level 1-5")


def _models(args, argv) -> int:
    names = bundled_models()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {load_model(name).description}")
    return 0


def _simulate(args, argv) -> int:
    return _study(args, argv, {args.regimen: args.regimen})


def _compare(args, argv) -> int:
    texts = {}
    for given in args.regimen:
        label, _, text = given.partition("=") if "=" in given else (given, "", given)
        label, text = label.strip(), text.strip()
        if not label:
            raise ValueError(f"--regimen {given!r} has an empty label; expected LABEL=TEXT or TEXT")
        if label in texts:
            raise ValueError(f"--regimen label {label!r} is given twice; expected one label per "
                             "regimen")
        texts[label] = text
    return _study(args, argv, texts)


def _study(args, argv, texts: dict[str, str]) -> int:
    """Simulate the regimens on one cohort and write the files (module docstring)."""
    from tqdm import tqdm

    regimens = {label: Regimen.parse(text) for label, text in texts.items()}
    model = load_model(args.model)
    gmfcs = GMFCS_MIX if args.gmfcs == "registry" else None if args.gmfcs == "none" else int(args.gmfcs)
    cohort = Cohort.from_growth_charts(args.n, age_years=args.ages, seed=args.seed, gmfcs=gmfcs)
    times, ends = study_times(regimens, args.dt)
    out = _output_folder(args.out)
    _keep_earlier_files(out, args.format, args.overwrite)
    record = _provenance.provenance(
        model, args.seed, texts if len(texts) > 1 else next(iter(texts.values())),
        command=shlex.join(["pkmodel", *argv]),
        cohort={"n": args.n, "age_years": list(args.ages), "gmfcs": args.gmfcs,
                "from": "Cohort.from_growth_charts (CDC 2000)"},
        times_h={"step": args.dt, "end": float(times[-1])},
        exposure_window_h={label: [ends[label] - WINDOW_H, ends[label]] for label in regimens},
        target_range_mg_l=list(BACLOFEN_TARGET_MG_L))
    steps = len(regimens) + 2
    with tqdm(total=steps, desc="pkmodel", unit="step", disable=args.quiet,
              delay=_PROGRESS_DELAY_S, leave=False, file=sys.stderr) as bar:
        results = {}
        for label, regimen in regimens.items():  # over regimens, each vectorised over children
            bar.set_postfix_str(f"simulating {label}", refresh=False)
            results[label] = simulate(model, cohort, regimen, times, seed=args.seed)
            bar.update()
        bar.set_postfix_str("exposure", refresh=False)
        exposures = study_exposures(results, ends)
        table = summary_table(exposures)
        attainment = target_attainment(exposures, by=["regimen", "weight_band"])
        bar.update()
        bar.set_postfix_str("writing", refresh=False)
        written = _write(out, args.format, record, results, exposures, table, attainment,
                         args.overwrite)
        bar.update()
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(_wide(table).to_string(index=False))
    print(f"wrote {len(written)} files to {out}/ (report: {out / 'report.md'})")
    return 0


def study_times(regimens: dict[str, Regimen], dt_h: float) -> tuple[np.ndarray, dict[str, float]]:
    """Output times, h, and the end of each regimen's last dosing day, h.

    Times run every `dt_h` (which must divide 24 h) from 0 to the latest end,
    with every dose time added, so that each regimen's last day [end - 24, end]
    starts and ends on an output time.
    """
    if not (np.isfinite(dt_h) and dt_h > 0 and abs(WINDOW_H / dt_h - round(WINDOW_H / dt_h)) < 1e-9):
        raise ValueError(f"--dt is {dt_h!r}; expected a time step in h that divides 24 h "
                         "(e.g. 0.5, 0.25, 1)")
    ends = {label: r.start_h + WINDOW_H * (np.floor((r.time_h[-1] - r.start_h) / WINDOW_H) + 1)
            for label, r in regimens.items()}
    end = max(ends.values())
    grid = np.arange(int(round(end / dt_h)) + 1) * dt_h
    doses = np.concatenate([r.time_h for r in regimens.values()])
    return np.union1d(grid, doses[doses <= end]), {k: float(v) for k, v in ends.items()}


def study_exposures(results: dict, ends: dict[str, float]) -> pd.DataFrame:
    """Exposure of every child on each regimen over its last day, with the dose received and bands.

    Returns
    -------
    DataFrame: regimen (categorical, in the order given), the columns of
    `pk.exposure` with the target range `BACLOFEN_TARGET_MG_L`, weight_kg,
    dose_mg_per_kg_day (received over the last day), age_band, weight_band.
    """
    frames = []
    for label, res in results.items():
        end = ends[label]
        table = exposure(res, start=end - WINDOW_H, end=end, target_range=BACLOFEN_TARGET_MG_L)
        last_day = (res.doses.time_h >= end - WINDOW_H) & (res.doses.time_h < end)
        table.insert(0, "regimen", label)
        table["weight_kg"] = res.cohort.weight_kg
        table["dose_mg_per_kg_day"] = res.doses.amount_mg[:, last_day].sum(axis=1) / res.cohort.weight_kg
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    out["regimen"] = pd.Categorical(out["regimen"], categories=list(results), ordered=True)
    return add_bands(out, next(iter(results.values())).cohort)


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
    values = pd.DataFrame({"regimen": exposures["regimen"], "age_band": exposures["age_band"], **shown})
    long = values.melt(id_vars=["regimen", "age_band"], var_name="metric")
    long["metric"] = pd.Categorical(long["metric"], categories=SUMMARY_METRICS, ordered=True)
    grouped = long.groupby(["regimen", "age_band", "metric"], observed=True, sort=True)["value"]
    return pd.DataFrame({"n": grouped.size(), "median": grouped.median(),
                         "p5": grouped.quantile(0.05), "p95": grouped.quantile(0.95)}).reset_index()


def _wide(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as one row per regimen and age band: n, then 'median [p5-p95]' per metric."""
    cells = table.assign(cell=[f"{m:.3g} [{lo:.3g}-{hi:.3g}]"
                               for m, lo, hi in zip(table["median"], table["p5"], table["p95"])])
    wide = cells.pivot(index=["regimen", "age_band", "n"], columns="metric", values="cell")
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


def _figures(results: dict, exposures: pd.DataFrame, attainment: pd.DataFrame) -> dict:
    """The report's figures, by file name (FIGURES)."""
    from .plots import exposure_distribution, percentile_band, pta_by_band

    end = max(res.times[-1] for res in results.values())
    band = percentile_band(results, start=max(0.0, end - SHOWN_H), end=end)
    by = "regimen" if len(results) > 1 else "age_band"
    cavg = exposure_distribution(exposures, metric="cavg", by=by)
    pta = pta_by_band(attainment, band="weight_band", by="regimen")
    figures = dict(zip(FIGURES, (band, cavg, pta)))
    for name, figure in figures.items():
        figure.axes[0].set_title(FIGURES[name][0], fontsize="medium")
    return figures


def study_files(file_format: str) -> list[str]:
    """The names of the files a study writes into --out, in the order written."""
    return [f"concentrations.{file_format}", *TABLE_FILES, *FIGURES, "report.md", "provenance.json"]


def _keep_earlier_files(out: Path, file_format: str, overwrite: bool) -> None:
    """Refuse, before any work, to write over the files of an earlier run (unless --overwrite)."""
    taken = [name for name in study_files(file_format) if (out / name).exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{str(out / taken[0])!r} exists ({len(taken)} of this study's files "
                              "are there from an earlier run); pass --overwrite to replace them")


def _write(out: Path, file_format: str, record: dict, results: dict, exposures: pd.DataFrame,
           table: pd.DataFrame, attainment: pd.DataFrame, overwrite: bool) -> list[str]:
    """Write every file of a study atomically, provenance.json last; returns the file names."""
    import matplotlib.pyplot as plt

    first = next(iter(results.values()))
    concentrations = pd.concat([_long(label, res) for label, res in results.items()], ignore_index=True)
    concentrations["regimen"] = pd.Categorical(concentrations["regimen"], categories=list(results))
    tables = dict(zip(TABLE_FILES, (first.parameters, exposures, table,
                                    summarize(exposures, by=["regimen", "age_band"], unit="ng/mL"),
                                    attainment)))
    written = []
    if file_format == "parquet":
        _write_parquet(out / "concentrations.parquet", concentrations, record, overwrite)
        written.append("concentrations.parquet")
    else:
        tables = {"concentrations.csv": concentrations, **tables}
    for name, frame in tables.items():
        with atomic_write(out / name, overwrite=overwrite, text=True) as f:
            frame.to_csv(f, index=False)
        written.append(name)
    for name, figure in _figures(results, exposures, attainment).items():
        with atomic_write(out / name, overwrite=overwrite) as f:
            figure.savefig(f, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(name)
    with atomic_write(out / "report.md", overwrite=overwrite, text=True) as f:
        f.write(_report(record, results, table, attainment))
    written.append("report.md")
    sidecar = dict(record, files={name: _provenance.sha256_of(out / name) for name in written})
    with atomic_write(out / "provenance.json", overwrite=overwrite, text=True) as f:
        f.write(_provenance.to_json(sidecar))
    return [*written, "provenance.json"]


def _long(label: str, res) -> pd.DataFrame:
    """One regimen's concentrations, tidy: regimen, id, time_h, conc_mg_L (subject-major)."""
    n, t = res.concentrations.shape
    return pd.DataFrame({"regimen": label, "id": np.repeat(res.ids, t), "time_h": np.tile(res.times, n),
                         "conc_mg_L": res.concentrations.ravel(order="C")})


def _write_parquet(path: Path, frame: pd.DataFrame, record: dict, overwrite: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}),
                _provenance.PARQUET_KEY: _provenance.to_json(record).encode("utf-8")}
    with atomic_write(path, overwrite=overwrite) as f:
        pq.write_table(table.replace_schema_metadata(metadata), f)


def _output_folder(path: Path) -> Path:
    """`path`, created if need be, after a probe that a file can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise OSError(f"cannot write to the output folder {str(path)!r}: {err.strerror or err}") from None
    return path


def _report(record: dict, results: dict, table: pd.DataFrame, attainment: pd.DataFrame) -> str:
    """The Markdown report: what was run, the summary by age band, PTA, the figures."""
    regimens = record["regimen"] if isinstance(record["regimen"], dict) else {
        next(iter(results)): record["regimen"]}
    cohort = record["cohort"]
    windows = ", ".join(f"{label}: h {lo:g}-{hi:g}" for label, (lo, hi) in
                        record["exposure_window_h"].items())
    low, high = concentration_in(np.array(record["target_range_mg_l"]), "ng/mL")
    first = next(iter(results.values()))
    lines = [
        f"# pkmodel: {' vs '.join(results)}", "",
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
        f"- Command: `{record['command']}`; pkmodel {record['pkmodel_version']}, "
        f"{record['created_utc']}", "",
        "## Exposure by age band", "",
        "Median [5th-95th percentile]: weight, dose received over the last day, and Cmax, Cmin "
        "and Cavg over the last day.", "",
        "Cavg depends only on CL/F and the dose received. Cmax and Cmin also depend on the "
        "absorption and distribution numbers the published model does not give (marked assumed "
        "in the model file): they move with those assumptions, Cavg does not (`pk.sensitivity`; "
        "the models against published data: docs/validation.md).", "",
        _markdown(_wide(table)), "",
        "## Target attainment by weight band", "",
        "Share of children with Cavg within the target range.", "",
        _markdown(attainment.assign(pta=[f"{100 * p:.0f} %" for p in attainment["pta"]])), "",
        "## Figures", "",
    ]
    for name, (title, caption) in FIGURES.items():
        lines += [f"![{title}]({name})", "", f"*{title}: {caption}.*", ""]
    lines += ["Files: `concentrations.*` (every child's curve), `parameters.csv`, `exposures.csv`, "
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
