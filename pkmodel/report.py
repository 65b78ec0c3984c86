"""A study's reports: report.html, one self-contained page (provenance, tables, figures and
the model's assumptions), and report.md.

`render_html` is pure (text, DataFrames and figures in; the page's text out). The page
loads nothing: figures are `data:` URIs (SVG, PNG where the SVG would be large), the CSS
is inline, there is no script, every text is escaped. `study_html` and `study_markdown` build
the pages of a finished study (`pkmodel.study`); `write_html` and `write_markdown` write them
into the run's folder, hashed as written (the command line passes them to `study.write`).
"""

import base64
import html
import tomllib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import study
from ._report_markdown import study_markdown, write_markdown  # noqa: F401 (the report.md half)
from .io.files import atomic_write
from .model.model import Model
from .units import concentration_in

DISCLAIMER = (
    "A research tool, not clinical dosing advice. Its models are reconstructions from "
    "published population analyses, with stated assumptions (below); the target range "
    "it uses is a laboratory statement, not validated in children. Do not use its "
    "output to dose a patient."
)
SVG_MAX_BYTES = 1 << 20  # a larger SVG (an ECDF of a million children) is embedded as PNG
PNG_DPI = 150
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# provenance keys (pkmodel.provenance, the command line's record) in words
_LABELS = {
    "pkmodel_version": "pkmodel version",
    "created_utc": "made (UTC)",
    "model_file": "model file",
    "model_sha256": "model file SHA-256",
    "command": "command line",
    "cohort": "children",
    "times_h": "output times (h)",
    "exposure_window_h": "exposure window (h)",
    "target_range_mg_l": "target range (mg/L)",
    "files": "files (SHA-256)",
    "python": "Python",
}
# a model file's tables and fields in words (model_assumptions)
_WORDS = {
    "parameters": "",
    "residual_error": "residual error",
    "validity": "valid range of",
    "covariates": "covariate",
    "random_effects": "random effect",
    "assumed": "",
    "source": "",
    "iiv_source": "(IIV)",
    "iov_source": "(IOV)",
    "rse_source": "(RSE)",
    "note": "",
}
_MARKS = ("assumed", "borrowed")
# the study's table columns in words, with units
_COLUMNS = {
    "age_band": "age band (years)",
    "weight_band": "weight band (kg)",
    "n": "children (n)",
    "cmax (ng/mL)": "Cmax (ng/mL)",
    "cmin (ng/mL)": "Cmin (ng/mL)",
    "cavg (ng/mL)": "Cavg (ng/mL)",
}
_CAP_COLUMNS = {
    "weight_band": "weight band (kg)",
    "n": "children (n)",
    "n_capped": "held by a cap (n)",
    "capped_pct": "held by a cap (%)",
    "dose_median_mg_per_kg_day": "dose received, median (mg/kg/day)",
}
_CSS = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;
 color:#1a1a1a;background:#fff;margin:0 auto;max-width:62rem;padding:0 1rem 2rem}
h1{font-size:1.6rem;margin:1rem 0 .5rem}h2{font-size:1.25rem;margin-top:2rem;
 border-bottom:1px solid #ccc}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.disclaimer{border:2px solid #b00020;background:#fff4f4;padding:.6rem .8rem;border-radius:4px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9rem;margin:.3rem 0}
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
td{white-space:nowrap}caption{text-align:left;font-weight:600;padding:.2rem 0}
thead th{border-bottom:2px solid #888;background:#f3f3f3}td.num{text-align:right;
 font-variant-numeric:tabular-nums}
table.record td{white-space:normal;overflow-wrap:anywhere}table.record ul{margin:0;padding-left:1.1rem}
.caption,figcaption{font-size:.9rem;color:#333;max-width:48rem}
figure{margin:1rem 0}img{max-width:100%;height:auto;display:block}
@media print{body{max-width:none;font-size:11pt}.scroll{overflow:visible}
 figure,table,.caption{break-inside:avoid}}
"""


@dataclass(frozen=True)
class ReportTable:
    """A table of the page: its title, its rows, and a caption under it that says what the
    columns mean, their units and where caps bind. Columns are shown as named (with units)."""

    title: str
    frame: pd.DataFrame
    caption: str

    def __post_init__(self):
        if not isinstance(self.frame, pd.DataFrame):
            raise TypeError(
                f"ReportTable {self.title!r}: frame is {type(self.frame).__name__}; "
                "expected a pandas DataFrame"
            )


@dataclass(frozen=True)
class ReportFigure:
    """A figure of the page: a matplotlib Figure (embedded as SVG), or PNG or SVG bytes."""

    title: str
    image: object
    caption: str

    def __post_init__(self):
        if isinstance(self.image, bytes):
            if not (self.image.startswith(_PNG_MAGIC) or b"<svg" in self.image[:4096]):
                raise ValueError(
                    f"ReportFigure {self.title!r}: image is {len(self.image)} bytes "
                    "that are neither PNG nor SVG"
                )
        elif not hasattr(self.image, "savefig"):
            raise TypeError(
                f"ReportFigure {self.title!r}: image is {type(self.image).__name__}; "
                "expected a matplotlib Figure, or PNG or SVG bytes"
            )


def render_html(
    title: str,
    record: Mapping,
    tables: Sequence[ReportTable],
    figures: Sequence[ReportFigure],
    assumptions: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """The page's HTML5 text: the disclaimer, `notes` (sentences), the provenance `record`
    (`pkmodel.provenance`: a JSON-ready dict), the tables, the figures and the assumptions."""
    e = _escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{e(title)}</h1>",
        f'<p class="disclaimer"><strong>{e(DISCLAIMER)}</strong></p></header>',
        "<main>",
        '<section id="run"><h2>What was run</h2>',
    ]
    if notes:
        parts += ["<ul>", *[f"<li>{e(note)}</li>" for note in notes], "</ul>"]
    parts += [
        '<div class="scroll"><table class="record"><caption>Provenance</caption><tbody>',
        *[
            f'<tr><th scope="row">{e(_LABELS.get(k, k))}</th><td>{_value(v)}</td></tr>'
            for k, v in record.items()
        ],
        "</tbody></table></div></section>",
    ]
    if tables:
        parts.append('<section id="tables"><h2>Tables</h2>')
        parts += [_table(t) for t in tables]
        parts.append("</section>")
    if figures:
        parts.append('<section id="figures"><h2>Figures</h2>')
        for f in figures:
            mime, data = _embedded(f.image)
            parts += [
                f"<figure><h3>{e(f.title)}</h3>",
                f'<img alt="{e(f.title)}" src="data:{mime};base64,{data}">',
                f"<figcaption>{e(f.caption)}</figcaption></figure>",
            ]
        parts.append("</section>")
    if assumptions:
        parts += [
            '<section id="assumptions"><h2>Assumptions of the model</h2>',
            "<ul>",
            *[f"<li>{e(a)}</li>" for a in assumptions],
            "</ul></section>",
        ]
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def model_assumptions(model: Model) -> list[str]:
    """Each number a model assumes or borrows, in words: 'V1: the paper's split is ...'.

    Read from the model's file: its `assumed` fields, and its sources and notes that begin
    'assumed' or 'borrowed' (the file keeps more than Model does); a model built in memory
    gives its parameters', residual error's and valid ranges' sources so marked.
    """
    if model.path and Path(model.path).is_file():
        doc = tomllib.loads(Path(model.path).read_text(encoding="utf-8-sig"))
    else:
        doc = {
            "parameters": {n: {"source": p.source} for n, p in model.parameters.items()},
            "residual_error": {"source": model.residual_error.source if model.residual_error else ""},
            "validity": {r.quantity: {"source": r.source} for r in model.validity},
        }
    return list(dict.fromkeys(_marked(doc, ())))


def _marked(table: Mapping, where: tuple) -> list[str]:
    found = []
    for key, value in table.items():
        if isinstance(value, dict):
            found += _marked(value, (*where, key))
        elif isinstance(value, str) and where and (key == "assumed" or value.lower().startswith(_MARKS)):
            words = " ".join(w for w in (_WORDS.get(p, p) for p in (*where, key)) if w)
            found.append(f"{words}: {value}")
    return found


def study_html(record: Mapping, outcome) -> str:
    """The page of a finished study: `outcome` from `pkmodel.study.run`, `record` its
    provenance (as the command line makes it: regimen texts, cohort, windows, target)."""
    curves = outcome.curves
    first = next(iter(curves.values()))
    low, high = concentration_in(np.array(record["target_range_mg_l"]), "ng/mL")
    caps = outcome.caps.rename(columns=_CAP_COLUMNS).round({"held by a cap (%)": 0})
    binds = study.where_caps_bind(outcome.caps, outcome.lightest_capped)
    see = f"{binds[:-1]} (table: children held by a cap)."
    pct = f"Cavg in {low:g}-{high:g} ng/mL"
    summary = study.wide(outcome.table).rename(columns=lambda c: _COLUMNS.get(c, c))
    pta = outcome.attainment.rename(
        columns=lambda c: _COLUMNS.get(c, f"{pct} (n)" if c == "n_attained" else c)
    )
    pta["PTA (%)"] = (100 * pta.pop("pta")).round(0)
    tables = [
        ReportTable(
            "Exposure by age band",
            summary,
            f"Each cell: {study.PERCENTILES} over the children of the regimen and "
            "age band. Weight in kg; dose: received over the last day, mg/kg/day (missed "
            "doses included); Cmax, Cmin and Cavg over the last day, ng/mL. "
            f"{see} Cavg depends only on CL/F and the dose received; Cmax and "
            "Cmin also on absorption and distribution numbers the model assumes (below).",
        ),
        ReportTable(
            "Target attainment by weight band",
            pta,
            f"PTA: the share of children with {pct} (a laboratory-stated range, not "
            f"validated in children), in %. {see}",
        ),
        ReportTable(
            "Children held by a cap",
            caps,
            "Held by a cap: the prescribed dose is below the weight-based amount because a "
            "cap of the regimen (mg/dose, mg/day) binds (Regimen.describe: cap_bound, the "
            "last dose as prescribed); dose received over the last day, median, in "
            f"mg/kg/day. {binds}",
        ),
    ]
    drawn = study.figures(outcome)
    captions = {
        "concentrations": "Concentration in ng/mL against time in days (each regimen's "
        f"last two days, its own, every {60 * study.PLOT_STEP_H:g} min); target "
        f"{low:g}-{high:g} ng/mL shaded.",
        "cavg": f"Cavg in ng/mL; target {low:g}-{high:g} ng/mL shaded.",
        "pta": f"PTA in %, {pct}; bars: 95 % Wilson score intervals. {see}",
    }
    figures = [
        ReportFigure(
            fig.get_suptitle(), fig, f"{study.FIGURES[name][1].capitalize()}. {captions.get(name, '')}"
        )
        for name, fig in drawn.items()
    ]
    return render_html(
        f"pkmodel: {' vs '.join(curves)}",
        record,
        tables,
        figures,
        model_assumptions(first.model),
        notes=_notes(record, outcome),
    )


def write_html(path, record: Mapping, outcome) -> str:
    """Write `study_html(record, outcome)` to `path` (a new file, `pkmodel.io.atomic_write`);
    returns its SHA-256 (hex) from the bytes as written, for provenance.json."""
    with atomic_write(path, text=True) as f:
        f.write(study_html(record, outcome))
    return f.sha256


def _notes(record: Mapping, outcome) -> list[str]:
    cohort, model = record["cohort"], next(iter(outcome.curves.values())).model
    k = len(next(iter(outcome.curves.values())))
    return [
        f"Model {record['model']}: {model.description}.",
        f"{outcome.n:,} children aged {cohort['age_years'][0]:g}-{cohort['age_years'][1]:g} "
        f"years from the CDC 2000 growth charts, GMFCS {cohort['gmfcs']}, seed "
        f"{record['seed']}: the same children and random effects on every regimen.",
        "Exposure over each regimen's last day; curves of "
        + (
            "every child."
            if k == outcome.n
            else f"the first {k:,} children (tables, Cavg and PTA of every child)."
        ),
        "The SHA-256 of every file of the run is in provenance.json beside this page.",
    ]


def _table(t: ReportTable) -> str:
    e = _escape
    numeric = [
        pd.api.types.is_numeric_dtype(t.frame[c]) and not pd.api.types.is_bool_dtype(t.frame[c])
        for c in t.frame.columns
    ]
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in t.frame.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{e(_cell(v))}</td>' if num else f"<td>{e(_cell(v))}</td>"
            for v, num in zip(row, numeric)
        )
        + "</tr>"
        for row in t.frame.itertuples(index=False)
    )
    return (
        f"<h3>{e(t.title)}</h3>"
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
        f'<p class="caption">{e(t.caption)}</p>'
    )


def _cell(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.3g}"
    return str(value)


def _value(value) -> str:
    """A provenance value: a nested list for a dict, comma-separated for a list."""
    if isinstance(value, Mapping):
        return "<ul>" + "".join(f"<li>{_escape(k)}: {_value(v)}</li>" for k, v in value.items()) + "</ul>"
    if isinstance(value, (list, tuple)):
        return _escape(", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value))
    return _escape("" if value is None else value)


def _embedded(image) -> tuple[str, str]:
    """(MIME type, base64 text) of a figure: SVG, or PNG where the SVG exceeds SVG_MAX_BYTES."""
    if isinstance(image, bytes):
        mime = "image/png" if image.startswith(_PNG_MAGIC) else "image/svg+xml"
        return mime, base64.b64encode(image).decode("ascii")
    from .plots._style import write_figure

    buffer = BytesIO()
    write_figure(image, buffer, "svg")
    mime = "image/svg+xml"
    if buffer.tell() > SVG_MAX_BYTES:
        buffer, mime = BytesIO(), "image/png"
        write_figure(image, buffer, "png", PNG_DPI)
    return mime, base64.b64encode(buffer.getvalue()).decode("ascii")


def _escape(text) -> str:
    return html.escape(str(text), quote=True)
