"""Exposure metrics over a time window, per subject."""

import numpy as np
import pandas as pd

from .result import Result


def exposure(result: Result, start: float, end: float) -> pd.DataFrame:
    """Per-subject exposure over [start, end] h.

    start and end must be output times of the simulation (no interpolation).
    AUC by the linear-up/log-down trapezoid.

    Returns
    -------
    DataFrame, one row per subject: id, auc (mg*h/L), cmax (mg/L), tmax (h),
    cmin (mg/L), cavg (mg/L) = auc / (end - start).
    """
    j0, j1 = _window(result.times, start, end)
    t = result.times[j0:j1 + 1]
    c = result.concentrations[:, j0:j1 + 1]
    auc = auc_linear_up_log_down(t, c)
    peak = np.argmax(c, axis=1)
    return pd.DataFrame({
        "id": result.cohort.ids,
        "auc": auc,
        "cmax": c[np.arange(c.shape[0]), peak],
        "tmax": t[peak],
        "cmin": c.min(axis=1),
        "cavg": auc / (t[-1] - t[0]),
    })


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


def _window(times: np.ndarray, start: float, end: float) -> tuple[int, int]:
    if not end > start:
        raise ValueError(f"exposure window: end is {end!r} h, start is {start!r} h; expected end > start")
    found = []
    for name, value in (("start", start), ("end", end)):
        j = int(np.argmin(np.abs(times - value)))
        if not abs(times[j] - value) <= 1e-9 * max(1.0, abs(value)):
            raise ValueError(f"exposure window: {name} is {value!r} h; expected one of the simulated "
                             f"times ({times[0]:g} to {times[-1]:g} h)")
        found.append(j)
    return found[0], found[1]
