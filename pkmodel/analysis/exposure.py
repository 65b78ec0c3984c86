"""Exposure metrics per subject: over a window, per dosing interval, at steady state.

Windows are each subject's own (`pkmodel.analysis.windows`): a steady-state window or
dosing interval follows the doses the subject was scheduled to get, not the
other subjects' doses. An output at a dose time is the pre-dose value, so the
value at a window's end is its trough.

Two methods, the `method` column (and `frame.attrs["method"]`) says which was used:

- "exact", for linear models simulated by the analytic engine: AUC (so Cavg),
  Cmax/Tmax, Cmin and the trough from the exact solution
  (`pkmodel.engines.exact`), whatever the output grid; windows need not be
  output times.
- "grid": non-compartmental analysis of the output times: AUC by the
  linear-up/log-down (or linear) trapezoid, Cmax and Cmin the largest and
  smallest outputs; windows must start and end on output times.

method="auto" (default) is exact where it applies, else grid with a warning
saying why. The time below, in and above a target range is always read on the
output grid (the curve linear between output times).
"""

import math
import warnings

import numpy as np
import pandas as pd

from .._checks import is_number, plain
from ..engines import exact
from ..simulation.result import Result
from .grid import AUC_METHODS, _block, _grid, _grid_indices, _range_shares, _row_sums
from .grid import auc_linear, auc_linear_up_log_down, time_in_range  # noqa: F401  (public here too)
from .steady_state import auc_ss as _auc_ss
from .windows import STEADY_STATE, Schedule, rows_of, steady_state_windows, window_spec

METHODS = ("auto", "exact", "grid")
USED = ("exact", "grid")  # what the method column can say

# Metric columns: (dimension, display name). The dimension says how a metric
# changes unit at the edge (pkmodel.units.metric_in).
METRICS = {
    "auc": ("concentration*time", "AUC"),
    "cmax": ("concentration", "Cmax"),
    "tmax_h": ("time", "Tmax (absolute time)"),
    "tmax_h_after_dose": ("time", "Tmax after dose"),
    "cmin": ("concentration", "Cmin"),
    "cavg": ("concentration", "Cavg"),
    "trough": ("concentration", "Ctrough"),
    "fluctuation_pct": ("percent", "peak-trough fluctuation"),
    "swing": ("ratio", "swing"),
    "auc_ss": ("concentration*time", "AUC at steady state (exact)"),
    "cavg_ss": ("concentration", "Cavg at steady state (exact)"),
    "time_below_h": ("time", "time below range"),
    "time_in_range_h": ("time", "time in range"),
    "time_above_h": ("time", "time above range"),
    "frac_in_range": ("fraction", "fraction of time in range"),
}


def exposure(
    result: Result,
    start: float | None = None,
    end: float | None = None,
    *,
    window=None,
    target_range: tuple[float, float] | None = None,
    method: str = "auto",
    auc_method: str | None = None,
) -> pd.DataFrame:
    """Per-subject exposure over [start, end] h, or over each subject's `window="steady_state"`.

    `window` is "steady_state" or (start, end) h, in place of start and end.
    "steady_state" is each subject's last full dosing interval of its own
    schedule, or its last full day for a schedule repeating daily at uneven
    intervals (`pkmodel.analysis.windows`), inside the simulated times; it adds the
    exact steady-state values of a linear model for the scheduled doses of
    the window, auc_ss = (F * oral + other doses) / CL and cavg_ss = auc_ss /
    (end_h - start_h), so the distance from steady state (and any missed dose)
    can be seen. (Left out, with a warning, when parameters change over time.)

    Parameters
    ----------
    target_range : (low, high), mg/L, optional
        Adds the time below, in and above the range (h, read on the output
        grid, linear between output times) and the fraction of the window in range.
    method : "auto" (default), "exact" or "grid" (module docstring)
    auc_method : "linear-up/log-down" (default) or "linear" trapezoid; method="grid" only

    Returns
    -------
    DataFrame, one row per subject: id, [replicate], start_h, end_h (the
    window, h), auc (mg*h/L), cmax (mg/L), tmax_h (h, on the simulation's clock),
    tmax_h_after_dose (h after the dose of the interval holding the peak: the last dose at or
    before tmax_h), cmin (mg/L), cavg = auc / (end_h - start_h) (mg/L), trough (mg/L: the value just before
    the subject's last scheduled dose inside (start_h, end_h], or at the end of
    its last dosing interval; NaN if there is none or, on the grid, if that is
    not an output time), fluctuation_pct = 100
    (cmax - cmin) / cavg, swing = (cmax - cmin) / cmin (inf if cmin is 0),
    then auc_ss, cavg_ss (steady-state window, linear models), time_below_h,
    time_in_range_h, time_above_h, frac_in_range (target_range) and method
    ("exact" or "grid").

    Examples
    --------
    >>> import numpy as np, pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> cohort = pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 7, 11])
    >>> res = pk.simulate(model, cohort, pk.Regimen.weight_based(2.0, 3, 14), np.arange(0, 336.5, 0.5),
    ...                   variability=False)
    >>> pk.exposure(res, start=312, end=336)["cavg"].round(4).tolist()  # He 2014: 0.3053 mg/L
    [0.3053, 0.3053, 0.3053]
    """
    spec = window_spec(window, start, end)
    low_high, used, rule = _options(result, target_range, method, auc_method, "exposure")
    times = result.times
    schedule = _schedule(result)
    if spec == STEADY_STATE:
        a, b = steady_state_windows(schedule, result.ids, times, "exposure")
        trough = b
    else:
        _within(times, *spec)
        a, b = np.full(len(result), spec[0]), np.full(len(result), spec[1])
        trough = schedule.trough_h(a, b)
    metrics = _metrics(
        result,
        a[:, None],
        b[:, None],
        trough[:, None],
        low_high,
        used,
        rule,
        "exposure" if spec == STEADY_STATE else None,
    )
    frame = pd.DataFrame(
        {**_rows(result), "start_h": a, "end_h": b, **{name: v[:, 0] for name, v in metrics.items()}}
    )
    if spec == STEADY_STATE:
        auc_ss, why = _auc_ss(result, schedule, a, b)
        if why:
            warnings.warn(f"exposure: auc_ss and cavg_ss left out: {why}", stacklevel=2)
        else:
            at = frame.columns.get_loc("swing") + 1
            frame.insert(at, "auc_ss", auc_ss)
            frame.insert(at + 1, "cavg_ss", auc_ss / (b - a))
    return _stated(frame, used)


def exposure_by_interval(
    result: Result,
    target_range: tuple[float, float] | None = None,
    *,
    method: str = "auto",
    auc_method: str | None = None,
) -> pd.DataFrame:
    """Exposure per subject and dosing interval, for every full interval inside the simulated times.

    A subject's intervals run from each of its scheduled doses to the next;
    the last to where the next would fall if its schedule went on
    (`pkmodel.analysis.windows`). Columns: id, [replicate], interval (1 for the
    subject's first dose's interval), start_h, end_h, then the metrics of
    `exposure` (trough = the value at the interval's end) and method; rows by
    interval, then subject. target_range, method, auc_method as `exposure`.
    """
    low_high, used, rule = _options(result, target_range, method, auc_method, "exposure_by_interval")
    times = result.times
    starts, ends = _schedule(result).intervals()
    tol = _tolerance(times[-1])
    with np.errstate(invalid="ignore"):
        inside = (starts >= times[0] - tol) & (ends <= times[-1] + tol)
    if not inside.any():
        raise ValueError(
            f"exposure_by_interval: no full dosing interval inside the simulated times "
            f"({times[0]:g} to {times[-1]:g} h)"
        )
    starts, ends = np.where(inside, starts, np.nan), np.where(inside, ends, np.nan)
    metrics = _metrics(result, starts, ends, ends, low_high, used, rule, "exposure_by_interval")
    number, row = np.nonzero(inside.T)  # by interval, then subject
    frame = pd.DataFrame(
        {
            **{k: v[row] for k, v in _rows(result).items()},
            "interval": number + 1,
            "start_h": starts[row, number],
            "end_h": ends[row, number],
            **{name: v[row, number] for name, v in metrics.items()},
        }
    )
    return _stated(frame, used)


def check_range(value, name: str) -> tuple[float, float]:
    """A (low, high) concentration range, mg/L: numbers, 0 <= low < high (high may be inf)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_number, value))):
        raise ValueError(f"{name} is {value!r}; expected (low, high) in mg/L")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and low >= 0 and not math.isnan(high)):
        raise ValueError(f"{name} is {tuple(value)!r}; expected a finite low >= 0 mg/L")
    if not low < high:
        raise ValueError(f"{name} is {tuple(value)!r}; expected low < high (mg/L)")
    return low, high


def exact_unavailable(result: Result) -> str | None:
    """Why `result` has no exact exposure (method="exact"), or None."""
    if result.engine != "analytic":
        return (
            f"the result is from the {result.engine!r} engine (exact exposure uses the "
            "analytic engine's solution)"
        )
    if not getattr(result.model, "is_linear", True):
        return f"model {result.model.name!r} is nonlinear"
    if result.occasions.size > 1:
        return "the parameters change over time (occasions or weight updates)"
    view = result.model.compartment_model
    if result.model.structure is None and view.central_index is None:
        return "the model's concentration is not one compartment's amount times a factor"
    equations = result.model.equations
    if (
        equations is not None  # a model of the language (no structure)
        and equations.covariates
        and getattr(result, "cohort", None) is None
    ):
        return "the result does not keep the cohort whose covariates the equations use"
    return exact.unsupported(view, _engine_params(result), result.doses)


def _engine_params(result: Result) -> dict:
    """The individual parameters with the covariates the equations use (the engines' dict)."""
    equations = result.model.equations  # None for a named structure
    if equations is not None and equations.covariates:
        return {**result.individual, **result.model.covariate_values(result.cohort)}
    return dict(result.individual)


def _options(result, target_range, method, auc_method, where) -> tuple:
    """(target range or None, method used: "exact" | "grid", the grid's AUC rule), checked."""
    if method not in METHODS:
        raise ValueError(f"{where}: method is {method!r}; expected one of {list(METHODS)}")
    if auc_method is not None and auc_method not in AUC_METHODS:
        raise ValueError(f"auc_method is {auc_method!r}; expected one of {list(AUC_METHODS)}")
    if auc_method is not None and method != "grid":
        raise ValueError(
            f"{where}: auc_method is {auc_method!r} with method={method!r}; expected "
            "method='grid' (auc_method is the trapezoid rule of the grid's AUC)"
        )
    low_high = None if target_range is None else check_range(target_range, "target_range")
    if method == "grid":
        return low_high, "grid", auc_method or AUC_METHODS[0]
    reason = exact_unavailable(result)
    if reason is None:
        return low_high, "exact", None
    if method == "exact":
        raise ValueError(
            f"{where}: method is 'exact' but {reason}; expected method='grid' "
            "(non-compartmental analysis of the output times)"
        )
    warnings.warn(f"{where}: read on the output grid (method='grid'), not exact: {reason}", stacklevel=3)
    return low_high, "grid", AUC_METHODS[0]


def _stated(frame: pd.DataFrame, used: str) -> pd.DataFrame:
    """The table with the method used as its last column (categorical: a byte a row) and attrs."""
    codes = np.full(len(frame), USED.index(used), dtype=np.int8)
    frame["method"] = pd.Categorical.from_codes(codes, categories=USED)
    frame.attrs["method"] = used
    return frame


def _schedule(result: Result) -> Schedule:
    return Schedule.of(
        result.doses, len(result), float(result.times[-1]), oral=result.model.compartment_model.dose_index
    )


def _metrics(result, starts, ends, troughs, low_high, used, rule, where) -> dict[str, np.ndarray]:
    """The metrics of every row over its windows, shape (n_rows, n_windows) each.

    starts, ends, troughs : shape (n_rows, n_windows), h, NaN where a row has
    no such window; where: the function named in errors (None: the windows are
    the caller's start and end, named so).
    """
    times, conc = result.times, result.concentrations
    if used == "exact":
        m = exact.window_exposure(
            result.model.compartment_model,
            _engine_params(result),
            # it takes SubjectDoses too (each child's own times): its annotation says Doses only
            rows_of(result.doses, len(result)),  # type: ignore[arg-type]
            starts,
            ends,
            troughs,
        )
    else:
        m = {k: np.full(starts.shape, np.nan) for k in ("auc", "cmax", "tmax", "cmin", "trough")}
        for w in range(starts.shape[1]):  # over windows, vectorised over subjects
            rows = np.flatnonzero(~np.isnan(starts[:, w]))
            j0, j1 = _grid_window(result, rows, starts[rows, w], ends[rows, w], where, "method='grid'")
            trough_at = _grid_indices(times, np.nan_to_num(troughs[rows, w], nan=-1.0))
            for name, value in _grid(times, conc, rows, j0, j1, trough_at, rule).items():
                m[name][rows, w] = value
    with np.errstate(divide="ignore", invalid="ignore"):
        cavg = m["auc"] / (ends - starts)
        out = {
            "auc": m["auc"],
            "cmax": m["cmax"],
            "tmax_h": m["tmax"],
            "tmax_h_after_dose": _after_dose(_schedule(result), m["tmax"]),
            "cmin": m["cmin"],
            "cavg": cavg,
            "trough": m["trough"],
            "fluctuation_pct": 100 * (m["cmax"] - m["cmin"]) / cavg,
            "swing": (m["cmax"] - m["cmin"]) / m["cmin"],
        }
    if low_high is not None:
        spans = {k: np.full(starts.shape, np.nan) for k in ("below", "inside", "above")}
        for w in range(starts.shape[1]):
            rows = np.flatnonzero(~np.isnan(starts[:, w]))
            j0, j1 = _grid_window(
                result,
                rows,
                starts[rows, w],
                ends[rows, w],
                where,
                "the time in target_range is read on the output grid",
            )
            lo, hi, inside, segment = _block(j0, j1)
            dt = np.diff(times[lo : hi + 1])
            c = conc[rows, lo : hi + 1]
            for name, share in zip(spans, _range_shares(c, *low_high)):
                spans[name][rows, w] = _row_sums(np.where(segment, share * dt, 0.0))
        out.update(
            time_below_h=spans["below"],
            time_in_range_h=spans["inside"],
            time_above_h=spans["above"],
            frac_in_range=spans["inside"] / (ends - starts),
        )
    return out


def _after_dose(schedule: Schedule, tmax_h: np.ndarray) -> np.ndarray:
    """Tmax after the dose of its interval: tmax_h minus the last scheduled dose at or before
    it (h), shape (n_rows, n_windows) as tmax_h; NaN where no dose comes before the peak."""
    t = schedule.time_h
    with np.errstate(invalid="ignore"):
        count = (t[:, None, :] <= tmax_h[:, :, None] + schedule.tol_h).sum(axis=2)
    last = np.take_along_axis(t, np.maximum(count - 1, 0), axis=1) if t.shape[1] else tmax_h * np.nan
    return np.where(count > 0, tmax_h - last, np.nan)


def _rows(result: Result) -> dict:
    """The columns that name a row: id, and replicate when uncertainty was simulated."""
    rows = {"id": result.ids}
    if result.replicate is not None:
        rows["replicate"] = result.replicate
    return rows


def _tolerance(value: float) -> float:
    return 1e-9 * max(1.0, abs(value))


def _within(times: np.ndarray, start: float, end: float) -> None:
    """Refuse a window (h) reaching outside the simulated times."""
    for name, value in (("start", start), ("end", end)):
        tol = _tolerance(value)
        if value < times[0] - tol or value > times[-1] + tol:
            raise ValueError(
                f"exposure window: {name} is {value:.15g} h; outside the simulated times "
                f"({times[0]:g} to {times[-1]:g} h)"
            )


def _grid_window(result, rows, a, b, where: str | None, why: str) -> tuple[np.ndarray, np.ndarray]:
    """Output-time indices of windows [a, b] (rows' own), refused where not output times."""
    times = result.times
    j0, j1 = _grid_indices(times, a), _grid_indices(times, b)
    bad = (j0 < 0) | (j1 < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if where is None:
            name, value = ("start", a[i]) if j0[i] < 0 else ("end", b[i])
            raise ValueError(
                f"exposure window: {name} is {value:.15g} h; expected one of the "
                f"simulated times ({times[0]:g} to {times[-1]:g} h) ({why})"
            )
        raise ValueError(
            f"{where}: child ID {plain(result.ids[rows[i]])}'s window {a[i]:g} to "
            f"{b[i]:g} h does not start and end on output times; expected output "
            f"times at its dose times ({why}), or method='exact'"
        )
    return j0, j1
