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

import json
import os
import shlex
import sys
from pathlib import Path

import pandas as pd

from . import report, study
from ._cli_args import UsageError, parser
from .dosing.regimen import Regimen
from .drugs.baclofen import BACLOFEN_TARGET_MG_L
from .io import provenance as _provenance
from .io.files import atomic_folder, is_temporary
from .model.files import bundled_models, load_model
from .plots import FORMATS
from .population.cerebral_palsy import GMFCS_MIX, cp_cohort
from .study import WINDOW_H, study_files, study_times

_PROGRESS_DELAY_S = 1.0  # runs shorter than this show no progress bar


def main(argv=None) -> int:
    """Run the command line; returns the exit code (0 on success, 2 for bad option values)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser({"models": _models, "simulate": _simulate, "compare": _compare}).parse_args(argv)
    try:
        return args.command(args, argv)
    except KeyboardInterrupt:
        print("pkmodel: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every failure is one line, unless --debug asks for the traceback
        if args.debug:
            raise
        kind = "" if isinstance(err, (ValueError, OSError)) else f"{type(err).__name__}: "
        hint = f" (see {args.prog} --help)" if isinstance(err, UsageError) else ""
        print(f"pkmodel: error: {kind}{' '.join(str(err).split())}{hint}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


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
            raise UsageError(f"--regimen label {label!r} is given twice; expected one label per regimen")
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
        raise UsageError(
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
