"""The command line's options: the argparse parser of `pkmodel models | simulate | compare`
and the checks of each option's value (an error names the option, the value and what was
expected; exit 2 before any work). The commands themselves are `pkmodel.cli`'s."""

import argparse
from pathlib import Path
from typing import Callable, Mapping

from . import study
from ._version import __version__
from .analysis.summary import AGE_BANDS
from .dosing.regimen import Regimen
from .drugs.baclofen import DEFAULT_MODEL
from .model.files import load_model
from .plots import FORMATS, check_dpi
from .population import growth

# --ages: within the growth charts, and within the report's age bands
AGES_YEARS = (
    growth.CHART_AGE_YEARS[0],
    min(growth.CHART_AGE_YEARS[1], max(high for _, high in AGE_BANDS.values())),
)


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line on stderr (exit 2)."""

    def error(self, message):
        self.exit(2, f"pkmodel: error: {message} (see {self.prog} --help)\n")


class UsageError(ValueError):
    """Option values that do not go together, found after parsing (exit 2, as argparse's)."""


def parser(handlers: Mapping[str, Callable]) -> argparse.ArgumentParser:
    """The command line's parser; `handlers` maps "models", "simulate", "compare" to the
    handlers (args, argv) -> exit code that `pkmodel.cli` runs."""
    parser = Parser(
        prog="pkmodel",
        description=(
            "Population pharmacokinetic simulation: oral baclofen in children with cerebral palsy "
            "first. A research tool, not clinical dosing advice."
        ),
    )
    parser.add_argument("--version", action="version", version=f"pkmodel {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND", parser_class=Parser)
    listing = commands.add_parser("models", help="list the bundled models")
    listing.set_defaults(command=handlers["models"], prog="pkmodel models")
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
    one.set_defaults(command=handlers["simulate"], prog="pkmodel simulate")
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
    many.set_defaults(command=handlers["compare"], prog="pkmodel compare")
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
