"""report.md, the Markdown half of a study's reports (`pkmodel.report`, which re-exports
`study_markdown` and `write_markdown`): what was run, the summary by age band, PTA, the
figures, as text a repository renders."""

from typing import Mapping

import numpy as np
import pandas as pd

from . import study
from .io.files import atomic_write
from .units import concentration_in


def write_markdown(path, record: Mapping, outcome, figure_formats=study.FIGURE_FORMATS) -> str:
    """Write `study_markdown(...)` to `path` (a new file); returns its SHA-256 (hex)."""
    with atomic_write(path, text=True) as f:
        f.write(study_markdown(record, outcome, figure_formats))
    return f.sha256


def study_markdown(record: Mapping, outcome, figure_formats=study.FIGURE_FORMATS) -> str:
    """The Markdown report: what was run, the summary by age band, PTA, the figures."""
    curves = outcome.curves
    regimens = (
        record["regimen"] if isinstance(record["regimen"], dict) else {next(iter(curves)): record["regimen"]}
    )
    cohort = record["cohort"]
    windows = ", ".join(
        f"{label}: h {lo:g}-{hi:g}" for label, (lo, hi) in record["exposure_window_h"].items()
    )
    low, high = concentration_in(np.array(record["target_range_mg_l"]), "ng/mL")
    first = next(iter(curves.values()))
    subset = study.subset(outcome)
    shown = (
        f"the first {len(first):,} of {outcome.n:,} children (`--curves`); exposures, "
        "tables and Cavg and PTA figures are of every child"
        if subset
        else "every child"
    )
    lines = [
        f"# pkmodel: {' vs '.join(curves)}",
        "",
        "A research tool, not clinical dosing advice: the model is a reconstruction from "
        "published population analyses, with stated assumptions.",
        "",
        f"- Model: `{record['model']}` ({first.model.description}); file `{record['model_file']}`, "
        f"SHA-256 `{record['model_sha256']}`",
        f"- Children: {cohort['n']} aged {cohort['age_years'][0]:g}-{cohort['age_years'][1]:g} y "
        f"from the CDC 2000 growth charts, GMFCS {cohort['gmfcs']}; seed {record['seed']}; the same "
        "children and random effects on every regimen",
        "- Regimens:",
        *[f"  - **{label}**: `{text}`" for label, text in regimens.items()],
        f"- Exposure over each regimen's last day ({windows}); target range {low:g}-{high:g} ng/mL "
        "(a laboratory-stated serum range, not validated in children)",
        f"- Curves (concentrations file and figure): {shown}",
        f"- Command: `{record['command']}`; pkmodel {record['pkmodel_version']}, {record['created_utc']}",
        "",
        "## Exposure by age band",
        "",
        f"Each cell: {study.PERCENTILES} over the children of the regimen and age band: weight (kg), "
        "dose received over the last day (mg/kg/day), and Cmax, Cmin and Cavg over the last "
        "day (ng/mL).",
        "",
        "Cavg depends only on CL/F and the dose received. Cmax and Cmin also depend on the "
        "absorption and distribution numbers the published model does not give (marked assumed "
        "in the model file): they move with those assumptions, Cavg does not (`pk.sensitivity`; "
        "the models against published data: docs/validation.md).",
        "",
        _markdown(study.wide(outcome.table)),
        "",
        "## Target attainment by weight band",
        "",
        "Share of children with Cavg within the target range.",
        "",
        _markdown(outcome.attainment.assign(pta=[f"{100 * p:.0f} %" for p in outcome.attainment["pta"]])),
        "",
        study.where_caps_bind(outcome.caps, outcome.lightest_capped)
        + " A regimen whose caps hold more children gives them less per kg: compare PTA "
        "between regimens with this in mind (`caps.csv`).",
        "",
        "## Figures",
        "",
    ]
    shown_as = next((f for f in ("png", "svg") if f in figure_formats), figure_formats[0])
    drawn = study.subset(outcome, outcome.drawn)
    for stem, (title, caption) in study.FIGURES.items():
        lines += [
            f"![{title}]({stem}.{shown_as})",
            "",
            f"*{title}: {caption}{drawn if stem == 'concentrations' else ''}.*",
            "",
        ]
    lines += [
        "Files: `concentrations.*` (the curves), `parameters.csv`, `exposures.csv`, "
        "`summary.csv`, `exposure_summary.csv`, `pta.csv`, `caps.csv` (column names carry "
        "their units: `cmax_mg_L`, `CL_L_h`), the figures as "
        + ", ".join(dict.fromkeys(figure_formats)).upper()
        + " and `report.html`; "
        "`provenance.json` says how they were made and holds each file's SHA-256."
    ]
    return "\n".join(lines) + "\n"


def _markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (numbers to 3 significant digits)."""

    def cell(value) -> str:
        return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)

    rows = [
        [str(c) for c in frame.columns],
        ["---"] * frame.shape[1],
        *[[cell(v) for v in row] for row in frame.itertuples(index=False)],
    ]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
