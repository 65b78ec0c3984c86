"""What every figure shares: the style sheet, the palette, a new Figure, the target range, n, the
legend outside the data, and saving in several formats."""

import functools
import os
from pathlib import Path
from typing import Sequence

import matplotlib

# Agg (no display needed) unless a backend is asked for: a Jupyter kernel asks for its inline
# backend through MPLBACKEND, and switching it to Agg would hide every figure in a notebook
if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..analysis.exposure import check_range  # noqa: E402
from ..units import concentration_in  # noqa: E402

STYLE = Path(__file__).with_name("pkmodel.mplstyle")
PALETTE = ("#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#D55E00", "#009E73", "#F0E442", "#000000")
"""Okabe & Ito's colour-blind-safe colours, in the style sheet's order."""
LINESTYLES = ("-", "--", "-.", ":")
TARGET_COLOUR = "#009E73"
FORMATS = ("png", "svg", "pdf")
BAND_AXIS = {
    "weight_band": "weight band (kg)",
    "age_band": "age band (years)",
    "regimen": "regimen",
    None: "",
}


def styled(function):
    """Run a plot function inside the package's style sheet (its Figure and artists take it)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.style.context(STYLE):
            out = function(*args, **kwargs)
            interactive = matplotlib.is_interactive()
        # Jupyter's backend, loaded by the first figure, turns interactive mode on: leaving the
        # style's context would turn it off again, and pyplot figures would no longer show
        matplotlib.interactive(interactive)
        return out

    return wrapper


def new_axes(ax, n_panels: int = 1, *, sharey: bool = True, sharex: bool = False, width: float | None = None):
    """(Figure, [Axes]) to draw on: `ax` (an Axes, or one per panel), or a new Figure.

    A new Figure is made by pyplot (so Jupyter's backend, and its display of a Figure, load)
    and closed at once: a notebook shows it once, as the value a cell returns, never a second
    time among pyplot's open figures.
    """
    if ax is not None:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        axes = list(np.ravel(axes))
        if len(axes) not in (1, n_panels):
            raise ValueError(f"ax is {len(axes)} Axes; expected one Axes or {n_panels} (one per panel)")
        return axes[0].figure, axes
    cols = n_panels if n_panels <= 3 else (2 if n_panels == 4 else 3)
    rows = -(-n_panels // cols)
    w, h = matplotlib.rcParams["figure.figsize"]
    fig = plt.figure(
        figsize=(
            width or (w if cols == 1 else min(3.4 * cols + 1.6, 12.0)),
            h if rows == 1 else 2.9 * rows + 0.6,
        )
    )
    plt.close(fig)
    grid = fig.subplots(rows, cols, sharey=sharey, sharex=sharex, squeeze=False)
    for extra in grid.ravel()[n_panels:]:
        extra.remove()
    return fig, list(grid.ravel()[:n_panels])


def shade_target(ax, target_range, unit: str, *, vertical: bool = False) -> None:
    """The target range (low, high) in mg/L shaded on `ax`, labelled with its numbers in `unit`."""
    low, high = concentration_in(np.array(check_range(target_range, "target_range")), unit)
    span = ax.axvspan if vertical else ax.axhspan
    span(low, high, color=TARGET_COLOUR, alpha=0.13, lw=0, zorder=0, label=f"target {low:g}-{high:g} {unit}")


def n_text(counts: Sequence[int], of: str = "children", per: str = "group") -> str:
    """'n = 1,000 children', or 'n = 1,000 children per regimen' when every group (`per`) has
    as many, or 'n = 500, 480 children'."""
    counts = [int(c) for c in counts]
    if len(counts) == 1:
        return f"n = {counts[0]:,} {of}"
    if len(set(counts)) == 1:
        return f"n = {counts[0]:,} {of} per {per}"
    return f"n = {', '.join(f'{c:,}' for c in counts)} {of}"


def legend_outside(ax, **options) -> None:
    """The legend of `ax` right of it, outside every Axes (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0,
            frameon=False,
            **options,
        )


def save(fig, stem, formats: Sequence[str] = ("png", "svg"), dpi: float = 300) -> list[Path]:
    """Write `fig` as stem.png, stem.svg, stem.pdf (those asked for); returns the paths.

    dpi : for PNG (SVG and PDF are vector); text stays text in SVG and PDF.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats is {list(formats)!r}; expected one or more of {list(FORMATS)}")
    check_dpi(dpi)
    out = []
    for fmt in dict.fromkeys(formats):
        path = Path(f"{stem}.{fmt}")
        write_figure(fig, path, fmt, dpi)
        out.append(path)
    return out


# matplotlib names an SVG's clip paths and other ids from uuid4 unless svg.hashsalt is set;
# with a fixed salt the ids are a hash of the salt and the content: the same figure, the same bytes
SVG_HASHSALT = "pkmodel"


def write_figure(fig, target, fmt: str, dpi: float | None = None) -> None:
    """fig.savefig to a path or binary file in `fmt` (dpi None: savefig's own), with no date,
    no software version and no random ids in it."""
    import matplotlib

    options = {} if dpi is None else {"dpi": dpi}
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT}):
        fig.savefig(target, format=fmt, bbox_inches="tight", metadata=metadata(fmt), **options)


def check_dpi(dpi) -> float:
    """Refuse a resolution that is not a number of dots per inch in [50, 1200]."""
    if (
        isinstance(dpi, bool)
        or not isinstance(dpi, (int, float, np.integer, np.floating))
        or not 50 <= dpi <= 1200
    ):
        raise ValueError(f"dpi is {dpi!r}; expected a number of dots per inch from 50 to 1200")
    return float(dpi)


def metadata(fmt: str) -> dict | None:
    """No creation date in the file (the same figure, the same bytes)."""
    return {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
