"""Exposure metrics per subject: over a window, per dosing interval, at steady state.

Dosing intervals come from `Result.doses`: the dose times at which any child
receives a positive amount (times are shared by the cohort). Each interval runs
from one dose time to the next; the last lasts as long as the one before it
(where the next dose would fall if the regimen went on). An output at a dose
time is the pre-dose value, so the concentration at an interval's end is its
trough.
"""

import math

import numpy as np
import pandas as pd

from ._checks import is_number, plain
from .doses import SubjectDoses
from .result import Result

BACLOFEN_TARGET_MG_L = (0.08, 0.40)
"""Baclofen serum range, mg/L (80-400 ng/mL): a laboratory-stated range, not a validated one.

Source: NMS Labs, "Baclofen, Serum", as listed in the Ohio State University
Wexner Medical Center laboratory test catalog (test LABYBACLO): "Serum
concentrations required for therapeutic effects reportedly range from
0.08-0.40 mcg/mL". Other laboratories state other ranges (e.g. 0.10-0.60 mg/L,
medics labor, Bern). No therapeutic range has been validated in children or in
cerebral palsy: use it as a reference line, not as a dosing goal.
"""

AUC_METHODS = ("linear-up/log-down", "linear")

# Metric columns: (dimension, display name). The dimension says how a metric
# changes unit at the edge (pkmodel.units.metric_in).
METRICS = {
    "auc": ("concentration*time", "AUC"),
    "cmax": ("concentration", "Cmax"),
    "tmax": ("time", "Tmax"),
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

STEADY_STATE = "steady_state"


def exposure(result: Result, start: float | None = None, end: float | None = None, *,
             window: str | None = None, target_range: tuple[float, float] | None = None,
             auc_method: str = "linear-up/log-down") -> pd.DataFrame:
    """Per-subject exposure over [start, end] h, or over `window="steady_state"`.

    start and end must be output times of the simulation (no interpolation).
    `window="steady_state"` is the last full dosing interval inside the
    simulated times (see module docstring), in place of start and end; it adds
    the exact steady-state values of a linear model for the interval's dose,
    auc_ss = F * dose / CL and cavg_ss = auc_ss / tau, so the error of the
    sampling grid (and any distance from steady state) can be seen.

    Parameters
    ----------
    target_range : (low, high), mg/L, optional
        Adds the time below, in and above the range (h, the curve read as
        linear between output times) and the fraction of the window in range.
    auc_method : "linear-up/log-down" (default) or "linear" trapezoid

    Returns
    -------
    DataFrame, one row per subject: id, auc (mg*h/L), cmax (mg/L), tmax (h),
    cmin (mg/L), cavg = auc / (end - start) (mg/L), trough (mg/L: the value
    just before the last dose inside (start, end], or at the end of the last
    dosing interval; NaN if the window holds no such time on the output grid),
    fluctuation_pct = 100 (cmax - cmin) / cavg, swing = (cmax - cmin) / cmin
    (inf if cmin is 0), then auc_ss, cavg_ss (steady-state window) and
    time_below_h, time_in_range_h, time_above_h, frac_in_range (target_range).
    """
    low_high = _checked_options(target_range, auc_method)
    times = result.times
    if window is not None:
        if start is not None or end is not None:
            raise ValueError(f"exposure: window is {window!r} and start/end are {start!r}/{end!r}; "
                             "expected either a window or start and end, not both")
        if window != STEADY_STATE:
            raise ValueError(f"exposure: window is {window!r}; expected {STEADY_STATE!r}")
        start, end = steady_state_window(result)
    elif start is None or end is None:
        raise ValueError(f"exposure: start is {start!r} h and end is {end!r} h; expected both, "
                         f"or window={STEADY_STATE!r}")
    j0, j1 = _window(times, start, end)
    bounds = _interval_bounds(result)
    inside = bounds[(bounds > times[j0]) & (bounds <= times[j1])]
    trough_at = _grid_indices(times, inside[-1:])[0] if inside.size else -1
    frame = pd.DataFrame({**_rows(result),
                          **_metrics(times, result.concentrations, j0, j1, trough_at, low_high,
                                     auc_method)})
    if window is not None:
        tau = end - start
        dose_mg = _amount_at(result, start)
        f = result.individual.get("F", 1.0)
        auc_ss = f * dose_mg / result.individual["CL"]
        at = frame.columns.get_loc("swing") + 1
        frame.insert(at, "auc_ss", auc_ss)
        frame.insert(at + 1, "cavg_ss", auc_ss / tau)
    return frame


def steady_state_window(result: Result) -> tuple[float, float]:
    """The last full dosing interval inside the simulated times: (start, end), h."""
    start, end = _full_intervals(result, f"exposure: window {STEADY_STATE!r}")[1][-1]
    return float(start), float(end)


def exposure_by_interval(result: Result, target_range: tuple[float, float] | None = None,
                         auc_method: str = "linear-up/log-down") -> pd.DataFrame:
    """Exposure per subject and dosing interval, for every full interval inside the simulated times.

    Columns: id, interval (1 for the first dose's interval), start, end (h),
    then the metrics of `exposure` (trough = the value at the interval's end).
    """
    low_high = _checked_options(target_range, auc_method)
    numbers, intervals = _full_intervals(result, "exposure_by_interval")
    frames = []
    for number, (start, end) in zip(numbers, intervals):  # over intervals, vectorised over subjects
        j0, j1 = _window(result.times, start, end)
        frames.append(pd.DataFrame({
            **_rows(result), "interval": number, "start": start, "end": end,
            **_metrics(result.times, result.concentrations, j0, j1, j1, low_high, auc_method)}))
    return pd.concat(frames, ignore_index=True)


def auc_linear_up_log_down(times_h: np.ndarray, conc: np.ndarray) -> np.ndarray:
    """Area under the curve: linear trapezoid where C rises or stays, log where it falls.

    Parameters
    ----------
    times_h : ndarray, shape (n_times,)
    conc : ndarray, shape (n_subjects, n_times)
        mg/L.

    Returns
    -------
    ndarray, shape (n_subjects,)
        mg*h/L.
    """
    dt = np.diff(times_h)
    c1, c2 = conc[:, :-1], conc[:, 1:]
    falling = (c2 < c1) & (c2 > 0)
    ratio = np.where(falling, c1 / np.where(falling, c2, 1.0), 2.0)
    log_part = (c1 - c2) / np.log(ratio)
    area = np.where(falling, log_part, 0.5 * (c1 + c2)) * dt
    return area.sum(axis=1)


def auc_linear(times_h: np.ndarray, conc: np.ndarray) -> np.ndarray:
    """Area under the curve by the linear trapezoid; shapes and units as `auc_linear_up_log_down`."""
    return (0.5 * (conc[:, :-1] + conc[:, 1:]) * np.diff(times_h)).sum(axis=1)


def time_in_range(times_h: np.ndarray, conc: np.ndarray, low: float, high: float) -> np.ndarray:
    """Time below, in and above [low, high] mg/L, the curve linear between output times.

    times_h, conc as `auc_linear_up_log_down`. Returns an ndarray, shape
    (3, n_subjects): h below, in and above the range, adding up to the window.
    """
    dt = np.diff(times_h)
    c1, c2 = conc[:, :-1], conc[:, 1:]
    lo, hi = np.minimum(c1, c2), np.maximum(c1, c2)
    rise = hi - lo
    flat = rise == 0
    span = np.where(flat, 1.0, rise)

    def share(a, b):  # fraction of each segment with C in [a, b]
        overlap = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None) / span
        return np.where(flat, (lo >= a) & (lo <= b), overlap)

    inside = share(low, high)
    above = np.where(flat, lo > high, share(high, math.inf))
    below = 1.0 - inside - above
    return np.stack([below, inside, above]) @ dt


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


def _metrics(times, conc, j0, j1, trough_at, low_high, auc_method) -> dict[str, np.ndarray]:
    t = times[j0:j1 + 1]
    c = conc[:, j0:j1 + 1]
    auc = (auc_linear_up_log_down if auc_method == AUC_METHODS[0] else auc_linear)(t, c)
    peak = np.argmax(c, axis=1)
    cmax = c[np.arange(c.shape[0]), peak]
    cmin = c.min(axis=1)
    cavg = auc / (t[-1] - t[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"auc": auc, "cmax": cmax, "tmax": t[peak], "cmin": cmin, "cavg": cavg,
               "trough": conc[:, trough_at] if trough_at >= 0 else np.full(c.shape[0], np.nan),
               "fluctuation_pct": 100 * (cmax - cmin) / cavg, "swing": (cmax - cmin) / cmin}
    if low_high is not None:
        below, inside, above = time_in_range(t, c, *low_high)
        out.update(time_below_h=below, time_in_range_h=inside, time_above_h=above,
                   frac_in_range=inside / (t[-1] - t[0]))
    return out


def _dose_times(result: Result) -> np.ndarray:
    doses = result.doses
    if isinstance(doses, SubjectDoses):    # each child's own doses (an event table)
        return np.unique(doses.time_h[doses.amount_mg > 0])
    return np.unique(doses.time_h[(doses.amount_mg > 0).any(axis=0)])


def _interval_bounds(result: Result) -> np.ndarray:
    """Dose times and the end of the last interval (none with fewer than two dose times)."""
    t = _dose_times(result)
    return np.append(t, 2 * t[-1] - t[-2]) if t.size >= 2 else t[:0]


def _full_intervals(result: Result, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Dosing intervals inside the simulated times: numbers (1 = first dose's), shape (k,),
    and start, end (h), shape (k, 2), k >= 1.

    Intervals reaching past the simulated times are left out; none at all, or a
    boundary of an interval inside them that is not an output time, is refused.
    """
    bounds = _interval_bounds(result)
    times = result.times
    tol = _tolerance(times[-1])
    pairs = np.column_stack([bounds[:-1], bounds[1:]])
    inside = np.flatnonzero((pairs[:, 0] >= times[0] - tol) & (pairs[:, 1] <= times[-1] + tol))
    if not inside.size:
        raise ValueError(f"{where}: no full dosing interval inside the simulated times "
                         f"({times[0]:g} to {times[-1]:g} h); dose times are "
                         f"{_dose_times(result).tolist()} h")
    ends = np.unique(pairs[inside])
    missing = ends[_grid_indices(times, ends) < 0]
    if missing.size:
        raise ValueError(f"dosing interval boundary {missing[0]:g} h is not an output time; expected "
                         "output times that include every dose time inside them (and the end of "
                         "the last dosing interval)")
    return inside + 1, pairs[inside]


def _amount_at(result: Result, time_h: float) -> np.ndarray:
    """Each row's total dose at `time_h`, mg, shape (n_rows,) (replicates share the doses)."""
    doses = result.doses
    same = np.abs(doses.time_h - time_h) <= _tolerance(time_h)
    if isinstance(doses, SubjectDoses):
        total = np.bincount(doses.subject[same], weights=doses.amount_mg[same], minlength=doses.n_subjects)
    else:
        total = doses.amount_mg[:, same].sum(axis=1)
    return np.tile(total, len(result) // doses.n_subjects)


def _rows(result: Result) -> dict:
    """The columns that name a row: id, and replicate when uncertainty was simulated."""
    rows = {"id": result.ids}
    if result.replicate is not None:
        rows["replicate"] = result.replicate
    return rows


def _tolerance(value: float) -> float:
    return 1e-9 * max(1.0, abs(value))


def _grid_indices(times: np.ndarray, values) -> np.ndarray:
    """Index of each value in `times` (within rounding), -1 where it is not an output time."""
    values = np.asarray(values, dtype=float)
    after = np.clip(np.searchsorted(times, values), 0, times.size - 1)
    before = np.clip(after - 1, 0, None)
    j = np.where(np.abs(times[before] - values) < np.abs(times[after] - values), before, after)
    hit = np.abs(times[j] - values) <= 1e-9 * np.maximum(1.0, np.abs(values))
    return np.where(hit, j, -1)


def _window(times: np.ndarray, start: float, end: float) -> tuple[int, int]:
    start, end = plain(start), plain(end)
    for name, value in (("start", start), ("end", end)):
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"exposure window: {name} is {value!r}; expected a number of hours")
    if not end > start:
        raise ValueError(f"exposure window: end is {end!r} h, start is {start!r} h; expected end > start")
    found = []
    for name, value in (("start", start), ("end", end)):
        tol = _tolerance(value)
        if value < times[0] - tol or value > times[-1] + tol:
            raise ValueError(f"exposure window: {name} is {value!r} h; outside the simulated times "
                             f"({times[0]:g} to {times[-1]:g} h)")
        j = int(_grid_indices(times, [value])[0])
        if j < 0:
            raise ValueError(f"exposure window: {name} is {value!r} h; expected one of the simulated "
                             f"times ({times[0]:g} to {times[-1]:g} h)")
        found.append(j)
    return found[0], found[1]


def _checked_options(target_range, auc_method) -> tuple[float, float] | None:
    """The target range (None if not given), after checking it and the AUC method."""
    if auc_method not in AUC_METHODS:
        raise ValueError(f"auc_method is {auc_method!r}; expected one of {list(AUC_METHODS)}")
    return None if target_range is None else check_range(target_range, "target_range")
