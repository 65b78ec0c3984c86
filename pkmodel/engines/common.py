"""What both engines share: which dose event each output time follows."""

import numpy as np


def last_event_before(event_times_h: np.ndarray, times_h: np.ndarray) -> np.ndarray:
    """Index of the last event strictly before each output time (-1: none).

    Strictly before: an output at a dose time reports the pre-dose value.

    Parameters
    ----------
    event_times_h : ndarray, shape (n_events,), increasing
    times_h : ndarray, shape (n_times,), increasing

    Returns
    -------
    ndarray of int, shape (n_times,)
    """
    return np.searchsorted(event_times_h, times_h, side="left") - 1


def segments(event_times_h: np.ndarray, times_h: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of output times that follow the same event: (event, j0, j1).

    times_h[j0:j1] lie in (event_times_h[event], event_times_h[event + 1]];
    event is -1 for outputs at or before the first dose.
    """
    seg = last_event_before(event_times_h, times_h)
    starts = np.r_[0, np.flatnonzero(np.diff(seg)) + 1]
    ends = np.r_[starts[1:], seg.size]
    return [(int(seg[a]), int(a), int(b)) for a, b in zip(starts, ends)]
