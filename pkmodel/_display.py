"""Short views of pkmodel's objects for the console (`__repr__`) and Jupyter (`_repr_html_`).

A view is a title, a size line, a few key numbers and a small table; `text` and `html` render
it, `text` under REPR_LIMIT characters whatever the object's size (no array is ever dumped).
The classes add two-line methods calling `text(view(self))` and `html(view(self))`; the views
read the objects' attributes only (no import of the classes: this module sits below them all).
`short` is the truncated form error messages quote.
"""

import html as _html
import reprlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

REPR_LIMIT = 1000  # characters of a __repr__, at most
TABLE_ROWS = 6  # rows of a view's table (head and tail beyond)
_short = reprlib.Repr()  # Python 3.11: limits are attributes, not arguments
_short.maxstring = _short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4


@dataclass(frozen=True)
class View:
    """What a repr says: title ('Cohort'), size ('10,000 children'), key numbers (name, text)
    and a small table (at most TABLE_ROWS rows shown)."""

    title: str
    size: str
    facts: tuple = ()
    table: pd.DataFrame | None = None


def text(view: View) -> str:
    """The view as plain text, under REPR_LIMIT characters."""
    lines = [f"<{view.title}: {view.size}>", *[f"  {k}: {v}" for k, v in view.facts]]
    if view.table is not None and len(view.table.columns):
        shown = view.table.to_string(
            max_rows=TABLE_ROWS, max_cols=7, max_colwidth=18, show_dimensions=False, index=False
        )
        lines += ["  " + line for line in shown.splitlines()]
    out = "\n".join(lines)
    return out if len(out) < REPR_LIMIT else out[: REPR_LIMIT - 2] + "…"


def html(view: View) -> str:
    """The view as an HTML fragment: a heading line, a list of key numbers, a small table."""
    e = _escape
    parts = ['<div class="pkmodel-view">', f"<p><strong>{e(view.title)}</strong>: {e(view.size)}</p>"]
    if view.facts:
        parts += [
            "<table><tbody>",
            *[
                f'<tr><th style="text-align:left">{e(k)}</th><td style="text-align:left">{e(v)}</td></tr>'
                for k, v in view.facts
            ],
            "</tbody></table>",
        ]
    if view.table is not None and len(view.table.columns):
        parts.append(
            view.table.to_html(
                max_rows=TABLE_ROWS, max_cols=10, index=False, border=0, show_dimensions=False, escape=True
            )
        )
    parts.append("</div>")
    return "\n".join(parts)


def short(value, limit: int = 80) -> str:
    """A value as an error message quotes it: arrays as their shape and a few values, long text
    cut; never more than about `limit` characters."""
    if isinstance(value, np.ndarray):
        body = np.array2string(
            value.ravel()[:6] if value.size > 6 else value,
            precision=4,
            separator=", ",
            threshold=6,
            edgeitems=3,
        )
        return f"array of shape {value.shape}, {value.dtype}: {body[:limit]}" + (
            " …" if value.size > 6 else ""
        )
    out = _short.repr(value) if not hasattr(value, "_repr_html_") else repr(value).splitlines()[0]
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _escape(value) -> str:
    return _html.escape(str(value), quote=True)


def _range(values, unit: str = "", digits: int = 3) -> str:
    """'median 25.3 [5th-95th 10.1-52.0] kg' of an array (NaN left out), or '' if empty."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return "none"
    lo, mid, hi = np.percentile(v, [5, 50, 95])
    unit = f" {unit}" if unit else ""
    return f"median {mid:.{digits}g} [5th-95th {lo:.{digits}g} to {hi:.{digits}g}]{unit}"


def _n(count: int, what: str) -> str:
    return f"{count:,} " + (what if count == 1 else {"child": "children"}.get(what, what + "s"))


# --- the views -------------------------------------------------------------------------------


def model(m) -> View:
    """Model: name, structure, description; one row per parameter (value, unit, IIV)."""
    rows = [
        {
            "parameter": p.name,
            "value": f"{p.value:.4g}",
            "unit": p.unit,
            "IIV SD": f"{p.iiv_sd:g}" if p.iiv_sd else "",
        }
        for p in m.parameters.values()
    ]
    structure = getattr(getattr(m, "structure", None), "label", None) or "model language"
    facts = (
        ("structure", structure),
        ("description", m.description or "-"),
        (
            "IIV on",
            ", ".join(
                [p.name for p in m.parameters.values() if p.iiv_sd] + [r.name for r in m.random_effects]
            )
            or "none",
        ),
        ("file", m.path or "built in memory"),
    )
    return View(f"Model {m.name!r}", _n(len(rows), "parameter"), facts, pd.DataFrame(rows))


def cohort(c) -> View:
    """Cohort: size, weight and age summary, the first children."""
    frame = pd.DataFrame({"id": c.ids, "weight_kg": c.weight_kg, "age_years": c.age_years})
    if c.sex is not None:
        frame["sex"] = c.sex
    facts = [("weight", _range(c.weight_kg, "kg")), ("age", _range(c.age_years, "years"))]
    if c.covariates:
        facts.append(("covariates", ", ".join(sorted(c.covariates))))
    return View("Cohort", _n(len(c), "child"), tuple(facts), frame.head(TABLE_ROWS).round(2))


def regimen(r) -> View:
    """Regimen: its label, doses and days, caps; the first doses."""
    t = np.asarray(r.time_h, dtype=float)
    days = (t[-1] - t[0]) / 24 if t.size else 0.0
    frame = pd.DataFrame({"time_h": t[:TABLE_ROWS]})
    for name in ("mg", "mg_per_kg", "max_mg"):
        values = np.broadcast_to(np.asarray(getattr(r, name), dtype=float), t.shape)[:TABLE_ROWS]
        if np.isfinite(values).any():
            frame[name] = values
    facts = (
        ("label", r.label),
        ("doses", f"{t.size:,} from {t[0]:g} h to {t[-1]:g} h ({days:.3g} days)" if t.size else "none"),
    )
    return View("Regimen", _n(t.size, "dose"), facts, frame)


def doses(d) -> View:
    """Doses or SubjectDoses: subjects, doses per subject, total mg."""
    amount = np.asarray(d.amount_mg, dtype=float)
    n = d.n_subjects
    per = amount.size // max(n, 1) if amount.ndim == 2 else None
    total = amount.sum(axis=1) if amount.ndim == 2 else np.bincount(d.subject, amount, minlength=n)
    facts = (
        ("doses per subject", f"{per:,}" if per is not None else _range(np.diff(d.offsets), "", 3)),
        ("total per subject", _range(total, "mg")),
        ("time", f"{np.nanmin(d.time_h):g} to {np.nanmax(d.time_h):g} h" if np.size(d.time_h) else "none"),
    )
    title = type(d).__name__
    return View(title, _n(n, "subject"), facts)


def result(r) -> View:
    """Result: subjects x times, regimen, engine, exposure-free summary of concentrations."""
    conc = r.concentrations
    peak = conc.max(axis=1) if conc.size else np.array([])
    facts = (
        ("model", r.model.name),
        ("regimen", r.regimen or "-"),
        ("engine", r.engine),
        ("times", f"{r.times.size:,} from {r.times[0]:g} to {r.times[-1]:g} h" if r.times.size else "none"),
        ("peak concentration", _range(peak, "mg/L")),
        ("seed", r.seed),
    )
    return View(
        "Result",
        f"{len(r):,} subjects × {r.times.size:,} times",
        facts,
        r.parameters.head(TABLE_ROWS).round(4),
    )


def exposure_result(r) -> View:
    """ExposureResult: subjects, window, the exposure's key metrics, the first rows."""
    e = r.exposure
    facts = [("model", r.model.name), ("regimen", r.regimen or "-"), ("window", r.window)]
    for metric in ("cavg", "cmax", "cmin"):
        if metric in e.columns:
            facts.append((metric, _range(e[metric], "mg/L")))
    if r.out is not None:
        facts.append(("curves written to", str(r.out)))
    shown = [c for c in ("id", "cavg", "cmax", "cmin", "tmax_h_after_dose") if c in e.columns]
    return View("ExposureResult", _n(len(r), "subject"), tuple(facts), e[shown].head(TABLE_ROWS).round(4))


def fit(f) -> View:
    """IndividualFit: subjects, converged, objective; the first subjects' parameters."""
    ok = np.asarray(f.ok, dtype=bool)
    facts = (
        ("model", f.model.name),
        ("engine", f.engine),
        ("converged", f"{int(ok.sum()):,} of {ok.size:,}"),
        ("objective (-2 log posterior)", _range(f.obj, "")),
    )
    return View(
        "IndividualFit", _n(ok.size, "subject"), facts, f.parameters.reset_index().head(TABLE_ROWS).round(4)
    )


def comparison(c) -> View:
    """Comparison: regimens, children, median Cavg per regimen."""
    e = c.exposure
    metric = "cavg"
    rows = []
    for label in c.results:
        values = e.loc[e["regimen"] == label, metric].to_numpy(float)
        lo, mid, hi = np.nanpercentile(values, [5, 50, 95]) if values.size else (np.nan,) * 3
        rows.append(
            {
                "regimen": label,
                "children": len(c.results[label]),
                f"{metric} median": round(mid, 4),
                "p5": round(lo, 4),
                "p95": round(hi, 4),
            }
        )
    n = len(next(iter(c.results.values()))) if c.results else 0
    return View(
        "Comparison",
        f"{_n(len(c.results), 'regimen')} on {_n(n, 'child')}",
        (
            ("exposure", f"{len(e):,} rows × {e.shape[1]} columns (.exposure); {metric} in mg/L"),
            ("curves", "{label: Result} (.results)"),
        ),
        pd.DataFrame(rows),
    )
