"""The command line: `pkmodel models | simulate | compare` (also `python -m pkmodel`).

`simulate` runs one regimen, `compare` two or more on the same children with
the same random effects; both write (`pkmodel.study`) the concentrations
(Parquet, or CSV with `--format csv`), each child's parameters and exposures, a
summary table by age band (printed and saved), PNG figures and a Markdown report
into `--out`. Every file carries its provenance (`pkmodel.io.provenance`): Parquet
files in their schema metadata, the others through `provenance.json` beside
them, which also lists each file's SHA-256 (of the bytes as written).

`--out` is the run's own folder: it is built aside and put in place whole
(`pkmodel.io.files.atomic_folder`), so it holds one run's files or is untouched, even
when a run is killed or two runs write there at once. An earlier run's folder is
replaced only with `--overwrite`, and a folder holding anything else never.
Option values are checked before any work (exit 2); other errors print one line
on stderr and exit 1; `--debug` shows the traceback.

A research tool, not clinical dosing advice.
"""

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import pandas as pd

from . import report, study
from ._version import __version__
from .population import growth
from .io import provenance as _provenance
from .population.cerebral_palsy import GMFCS_MIX, cp_cohort
from .dosing.regimen import Regimen
from .drugs.baclofen import BACLOFEN_TARGET_MG_L, DEFAULT_MODEL
from .io.files import atomic_folder, is_temporary
from .model.files import bundled_models, load_model
from .plots import FORMATS, check_dpi
from .study import WINDOW_H, study_files, study_times
from .analysis.summary import AGE_BANDS

# --ages: within the growth charts, and within the report's age bands
AGES_YEARS = (
    growth.CHART_AGE_YEARS[0],
    min(growth.CHART_AGE_YEARS[1], max(high for _, high in AGE_BANDS.values())),
)
_PROGRESS_DELAY_S = 1.0  # runs shorter than this show no progress bar


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line on stderr (exit 2)."""

    def error(self, message):
        self.exit(2, f"pkmodel: error: {message} (see {self.prog} --help)\n")


class _UsageError(ValueError):
    """Option values that do not go together, found after parsing (exit 2, as argparse's)."""


def main(argv=None) -> int:
    """Run the command line; returns the exit code (0 on success, 2 for bad option values)."""
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
        hint = f" (see {args.prog} --help)" if isinstance(err, _UsageError) else ""
        print(f"pkmodel: error: {kind}{' '.join(str(err).split())}{hint}", file=sys.stderr)
        return 2 if isinstance(err, _UsageError) else 1


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pkmodel",
        description=(
            "Population pharmacokinetic simulation: oral baclofen in children with cerebral palsy "
            "first. A research tool, not clinical dosing advice."
        ),
    )
    parser.add_argument("--version", action="version", version=f"pkmodel {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND", parser_class=_Parser)
    listing = commands.add_parser("models", help="list the bundled models")
    listing.set_defaults(command=_models, prog="pkmodel models")
    listing.add_argument("--debug", action="store_true", help="show the traceback of an error")
    one = commands.add_parser(
        "simulate",
        help="one regimen on a growth-chart cohort",
        description=(
            "Simulate one regimen on children drawn from the CDC 2000 growth charts; write "
            "concentrations, parameters, exposures, a summary, figures and a report into --out."
        ),
    )
    one.add_argument(
        "--regimen",
        required=True,
        type=_regimen,
        metavar="TEXT",
        help='e.g. "2 mg/kg/day TID for 14 days, max 20 mg/dose" (grammar: README, pkmodel.dosing.text)',
    )
    one.set_defaults(command=_simulate, prog="pkmodel simulate")
    many = commands.add_parser(
        "compare",
        help="regimens on the same children",
        description=(
            "Compare regimens on the same children with the same random effects; write the tables, "
            "figures and a Markdown report into --out."
        ),
    )
    many.add_argument(
        "--regimen",
        action="append",
        required=True,
        type=_labelled_regimen,
        metavar="[LABEL=]TEXT",
        help='a regimen, once per regimen (e.g. --regimen "TID=2 mg/kg/day TID for '
        '14 days"); the label defaults to the text',
    )
    many.set_defaults(command=_compare, prog="pkmodel compare")
    for sub in (one, many):
        sub.add_argument(
            "--model",
            default=DEFAULT_MODEL,
            type=_model,
            help=f"bundled model name or path to a .toml file (default {DEFAULT_MODEL})",
        )
        sub.add_argument("--n", type=_whole, default=1000, help="children (default 1000)")
        sub.add_argument(
            "--ages",
            type=_ages,
            default=(2.0, 17.0),
            metavar="FROM-TO",
            help=f"ages, years, drawn uniformly (default 2-17; within {AGES_YEARS[0]:g}-{AGES_YEARS[1]:g})",
        )
        sub.add_argument(
            "--gmfcs",
            type=_gmfcs,
            default="registry",
            metavar="MIX",
            help="GMFCS levels of the children: 'registry' (the mean mix of nine CP "
            "registries, Reid 2011; default), a level 1-5, or 'none' (the CDC "
            "charts without CP weight offsets)",
        )
        sub.add_argument("--seed", type=_seed, default=1, help="random seed, a whole number >= 0 (default 1)")
        sub.add_argument(
            "--dt", type=_step, default=0.5, help="output time step, h, dividing 24 h (default 0.5)"
        )
        sub.add_argument(
            "--out", type=_folder, default="out", help="output folder, the run's own (default out/)"
        )
        sub.add_argument(
            "--format",
            choices=("parquet", "csv"),
            default="parquet",
            help="file format of the concentrations (default parquet)",
        )
        sub.add_argument(
            "--curves",
            type=_curves,
            default=study.CURVES_DEFAULT,
            metavar="N|all",
            help="curves written and drawn: those of the first N children (default "
            f"{study.CURVES_DEFAULT}; 'all': every child, as far as 1 GiB holds "
            "them); exposures are of every child",
        )
        sub.add_argument(
            "--figure-format",
            type=_figure_formats,
            action="append",
            metavar="FMT[,FMT]",
            dest="figure_format",
            help="figure file formats, of " + ", ".join(FORMATS) + " (repeat or "
            "separate by commas; default " + ",".join(study.FIGURE_FORMATS) + ")",
        )
        sub.add_argument(
            "--dpi",
            type=_dpi,
            default=study.FIGURE_DPI,
            help=f"resolution of PNG figures, dots per inch (default "
            f"{study.FIGURE_DPI}; SVG and PDF are vector)",
        )
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.add_argument(
            "--overwrite", action="store_true", help="replace the folder of an earlier run (default: refuse)"
        )
        sub.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


# --- option values (argparse types: a bad value exits with 2, naming the option) -----------


def _whole(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed; expected a whole number >= 0")
    return int(text)


def _step(text: str) -> float:
    try:
        step = float(text)
        study.check_step(step)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time step in h that divides 24 h; expected e.g. 0.5, 0.25 or 1"
        ) from None
    return step


def _ages(text: str) -> tuple[float, float]:
    low, high = AGES_YEARS
    expected = (
        f"expected FROM-TO in years with {low:g} <= FROM < TO <= {high:g} (the CDC 2000 "
        f"growth charts run {growth.CHART_AGE_YEARS[0]:g}-{growth.CHART_AGE_YEARS[1]:g} y, "
        f"the report's age bands {', '.join(AGE_BANDS)} end at {high:g} y), e.g. 2-17"
    )
    try:
        youngest, oldest = (float(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age range; {expected}") from None
    if not low <= youngest < oldest <= high:
        raise argparse.ArgumentTypeError(f"{text!r} is outside the ages a study covers; {expected}")
    return youngest, oldest


def _gmfcs(text: str):
    if text in ("registry", "none") or text in tuple("12345"):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a GMFCS mix; expected 'registry', 'none' or a level 1-5"
    )


def _folder(text: str) -> Path:
    if not text:
        raise argparse.ArgumentTypeError(
            "'' is not a folder; expected a folder path (an empty path would mean the working directory)"
        )
    path, here = Path(text), Path.cwd().resolve()
    if path.resolve() == here or path.resolve() in here.parents:
        raise argparse.ArgumentTypeError(
            f"{text!r} is the working directory or holds it; expected a folder of the run's own (e.g. out)"
        )
    return path


def _curves(text) -> int | None:
    if text == "all":
        return None
    if isinstance(text, int) or (text.isdigit() and int(text) >= 1):
        return int(text)
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a number of children; expected a whole number >= 1 or 'all'"
    )


def _figure_formats(text: str) -> tuple[str, ...]:
    formats = tuple(part.strip().lower() for part in text.split(","))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"{bad[0]!r} is not a figure format; expected one or more of {', '.join(FORMATS)} (e.g. png,svg)"
        )
    return formats


def _dpi(text: str) -> float:
    try:
        return check_dpi(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a resolution; expected a number of dots per inch from 50 to 1200 (e.g. 300)"
        ) from None


def _model(text: str):
    try:
        return load_model(text)
    except (OSError, ValueError, TypeError) as err:
        raise argparse.ArgumentTypeError(" ".join(str(err).split())) from None


def _regimen(text: str) -> tuple[str, Regimen]:
    try:
        return text, Regimen.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(" ".join(str(err).split())) from None


def _labelled_regimen(given: str) -> tuple[str, str, Regimen]:
    label, _, text = given.partition("=") if "=" in given else (given, "", given)
    if not label.strip():
        raise argparse.ArgumentTypeError(f"{given!r} has an empty label; expected LABEL=TEXT or TEXT")
    return (label.strip(), *_regimen(text.strip()))


# --- commands ------------------------------------------------------------------------------


def _models(args, argv) -> int:
    names = bundled_models()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {load_model(name).description}")
    return 0


def _simulate(args, argv) -> int:
    text, regimen = args.regimen
    return _study(args, argv, {text: (text, regimen)})


def _compare(args, argv) -> int:
    regimens = {}
    for label, text, regimen in args.regimen:
        if label in regimens:
            raise _UsageError(f"--regimen label {label!r} is given twice; expected one label per regimen")
        regimens[label] = (text, regimen)
    return _study(args, argv, regimens)


def _study(args, argv, given: dict[str, tuple[str, Regimen]]) -> int:
    """Simulate the regimens on one cohort and write the run's folder (module docstring)."""
    from tqdm import tqdm

    regimens = {label: regimen for label, (_, regimen) in given.items()}
    texts = {label: text for label, (text, _) in given.items()}
    times, ends = study_times(regimens, args.dt)
    curves = args.n if args.curves is None else min(args.curves, args.n)
    limit = study.curve_limit(times.size, len(regimens))
    if curves > limit:
        raise _UsageError(
            f"--curves {'all' if args.curves is None else args.curves}: the curves of {curves:,} "
            f"children at {times.size} output times on {len(regimens)} regimen(s) would take "
            f"{8 * curves * times.size * len(regimens) / 2**30:.1f} GiB; expected at most "
            f"{limit:,} children (a larger --dt or a smaller --curves; every child's curve: "
            "pk.simulate(..., out=...) in Python)"
        )
    formats = tuple(
        dict.fromkeys(f for given in (args.figure_format or [study.FIGURE_FORMATS]) for f in given)
    )
    out = args.out
    _check_out(out, args.format, args.overwrite)  # before any work
    gmfcs = GMFCS_MIX if args.gmfcs == "registry" else None if args.gmfcs == "none" else int(args.gmfcs)
    cohort = cp_cohort(args.n, args.ages, seed=args.seed, gmfcs=gmfcs)
    record = _provenance.provenance(
        args.model,
        args.seed,
        texts if len(texts) > 1 else next(iter(texts.values())),
        command=shlex.join(["pkmodel", *argv]),
        cohort={
            "n": args.n,
            "age_years": list(args.ages),
            "gmfcs": args.gmfcs,
            "from": "Cohort.from_growth_charts (CDC 2000)",
            "curves": curves,
        },
        times_h={"step": args.dt, "end": float(times[-1])},
        exposure_window_h={label: [ends[label] - WINDOW_H, ends[label]] for label in regimens},
        target_range_mg_l=list(BACLOFEN_TARGET_MG_L),
    )
    with (
        tqdm(
            total=2 * len(regimens) + 2,
            desc="pkmodel",
            unit="step",
            disable=args.quiet,
            delay=_PROGRESS_DELAY_S,
            leave=False,
            file=sys.stderr,
        ) as bar,
        atomic_folder(
            out, overwrite=args.overwrite, replaceable=_replaceable(out), flag="--overwrite"
        ) as aside,
    ):

        def progress(text: str) -> None:
            bar.set_postfix_str(text, refresh=False)
            bar.update()

        outcome = study.run(args.model, cohort, regimens, times, ends, args.seed, curves, progress=progress)
        progress("writing")
        written = study.write(
            aside,
            args.format,
            record,
            outcome,
            figure_formats=formats,
            dpi=args.dpi,
            pages={
                "report.md": lambda path: report.write_markdown(path, record, outcome, formats),
                "report.html": lambda path: report.write_html(path, record, outcome),
            },
        )
    print(
        f"{study.PERCENTILES} by regimen and age band, over the children of each: weight (kg), "
        "dose received over the last day (mg/kg/day), Cmax, Cmin and Cavg over the last day "
        "(ng/mL)"
    )
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(study.wide(outcome.table).to_string(index=False))
    print(study.where_caps_bind(outcome.caps, outcome.lightest_capped))
    shown = "" if curves == args.n else f"; curves of the first {curves:,} of {args.n:,} children"
    print(f"wrote {len(written)} files to {out}/ (report: {out / 'report.html'}){shown}")
    return 0


def _check_out(out: Path, file_format: str, overwrite: bool) -> None:
    """Refuse, before any work, a folder that cannot be written or must not be replaced."""
    try:
        Path(os.path.abspath(out)).parent.mkdir(parents=True, exist_ok=True)
        if not os.access(Path(os.path.abspath(out)).parent, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as err:
        raise OSError(f"cannot write to the output folder {str(out)!r}: {err.strerror or err}") from None
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {str(out)!r} is a file; expected a folder")
    if not out.is_dir() or not any(os.scandir(out)):
        return
    problem = _replaceable(out)(out)
    if problem:
        raise FileExistsError(problem)
    if not overwrite:
        taken = sorted(os.listdir(out), key=lambda name: (is_temporary(name), name))
        raise FileExistsError(
            f"{str(out / taken[0])!r} exists ({len(taken)} of this study's files "
            "are there from an earlier run); pass --overwrite to replace them"
        )


def _replaceable(shown: Path):
    """A check that a folder holds nothing but a pkmodel study's files (`atomic_folder`)."""

    def check(folder: Path) -> str | None:
        known = {*study_files("parquet", FORMATS), *study_files("csv", FORMATS), *_listed(folder)}
        for name in sorted(os.listdir(folder)):
            if name not in known and not is_temporary(name):
                return (
                    f"--out {str(shown)!r} holds {name!r}, which is not a file of a pkmodel "
                    "run; expected a new or empty folder, or the folder of an earlier run "
                    "(replaced with --overwrite)"
                )
        return None

    return check


def _listed(folder: Path) -> set[str]:
    """The file names an earlier run's provenance.json lists (none if it cannot be read)."""
    try:
        files = json.loads((folder / "provenance.json").read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return set()
    return (
        {name for name in files if isinstance(name, str) and "/" not in name and name not in ("", ".", "..")}
        if isinstance(files, dict)
        else set()
    )
