"""Reading a curve on its output grid: trapezoid areas (linear, or linear-up/log-down), time in a
range with the curve linear between output times, per-row windows; pure array functions, mg/L and h."""

import math

import numpy as np

AUC_METHODS = ("linear-up/log-down", "linear")


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
    return _row_sums(_areas(times_h, conc, AUC_METHODS[0]))


def auc_linear(times_h: np.ndarray, conc: np.ndarray) -> np.ndarray:
    """Area under the curve by the linear trapezoid; shapes and units as `auc_linear_up_log_down`."""
    return _row_sums(_areas(times_h, conc, AUC_METHODS[1]))


def time_in_range(times_h: np.ndarray, conc: np.ndarray, low: float, high: float) -> np.ndarray:
    """Time below, in and above [low, high] mg/L, the curve linear between output times.

    times_h, conc as `auc_linear_up_log_down`. Returns an ndarray, shape
    (3, n_subjects): h below, in and above the range, adding up to the window.
    """
    return np.stack([_row_sums(share * np.diff(times_h)) for share in _range_shares(conc, low, high)])


def _grid(times, conc, rows, j0, j1, trough_at, rule) -> dict[str, np.ndarray]:
    """Grid NCA of conc[rows] over output times j0..j1 (each row its own), shape (n,) each."""
    lo, hi, inside, segment = _block(j0, j1)
    t, c = times[lo : hi + 1], conc[rows, lo : hi + 1]
    auc = _row_sums(np.where(segment, _areas(t, c, rule), 0.0))
    n = np.arange(rows.size)
    peak = np.argmax(np.where(inside, c, -np.inf), axis=1)
    return {
        "auc": auc,
        "cmax": c[n, peak],
        "tmax": t[peak],
        "cmin": np.where(inside, c, np.inf).min(axis=1),
        "trough": np.where(trough_at >= 0, conc[rows, np.maximum(trough_at, 0)], np.nan),
    }


def _block(j0: np.ndarray, j1: np.ndarray) -> tuple:
    """The output columns lo..hi holding every row's window, and which points and segments
    of them are each row's: shapes (n, hi - lo + 1) and (n, hi - lo)."""
    lo, hi = (int(j0.min()), int(j1.max())) if j0.size else (0, 0)
    column = np.arange(lo, hi + 1)
    inside = (column >= j0[:, None]) & (column <= j1[:, None])
    return lo, hi, inside, inside[:, :-1] & inside[:, 1:]


def _areas(t: np.ndarray, c: np.ndarray, rule: str) -> np.ndarray:
    """Trapezoid areas between output times, shape (n, n_times - 1), mg*h/L."""
    dt = np.diff(t)
    c1, c2 = c[:, :-1], c[:, 1:]
    if rule == AUC_METHODS[1]:
        return 0.5 * (c1 + c2) * dt
    falling = (c2 < c1) & (c2 > 0)
    ratio = np.where(falling, c1 / np.where(falling, c2, 1.0), 2.0)
    return np.where(falling, (c1 - c2) / np.log(ratio), 0.5 * (c1 + c2)) * dt


def _range_shares(conc: np.ndarray, low: float, high: float) -> tuple[np.ndarray, ...]:
    """Fraction of each segment between output times below, in and above [low, high],
    the curve linear between them: three arrays of shape (n, n_times - 1)."""
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
    return 1.0 - inside - above, inside, above


def _row_sums(values: np.ndarray) -> np.ndarray:
    """Sum along each row, added left to right: the same bits whatever rows or zero-padded
    columns surround it (numpy's pairwise sum groups by the row's length)."""
    if values.shape[1] == 0:
        return np.zeros(values.shape[0])
    return np.cumsum(values, axis=1)[:, -1]


def _grid_indices(times: np.ndarray, values) -> np.ndarray:
    """Index of each value in `times` (within rounding), -1 where it is not an output time."""
    values = np.asarray(values, dtype=float)
    after = np.clip(np.searchsorted(times, values), 0, times.size - 1)
    before = np.clip(after - 1, 0, None)
    j = np.where(np.abs(times[before] - values) < np.abs(times[after] - values), before, after)
    hit = np.abs(times[j] - values) <= 1e-9 * np.maximum(1.0, np.abs(values))
    return np.where(hit, j, -1)
