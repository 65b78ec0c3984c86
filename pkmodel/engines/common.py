"""What both engines share: the event timeline and which event an output follows."""

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..dosing import Doses
from ..structures import Structure


@dataclass(frozen=True, eq=False)
class Epochs:
    """Individual parameters that change at times shared by every subject.

    Epoch e holds from start_h[e] (start_h[0] = 0: from the beginning) until
    the next start. Between epochs the amounts carry over; only the rates
    change (inter-occasion variability, growing children).

    Parameters
    ----------
    start_h : ndarray, shape (n_epochs,), increasing, start_h[0] == 0
    params : tuple of dict of ndarray, shape (n_subjects,)
        One dict per epoch, in L/h, L, 1/h, h, fraction.
    """

    start_h: np.ndarray
    params: tuple[Mapping[str, np.ndarray], ...]

    @classmethod
    def constant(cls, params: Mapping[str, np.ndarray]) -> "Epochs":
        return cls(start_h=np.zeros(1), params=(params,))

    def at(self, t_h: np.ndarray) -> np.ndarray:
        """Index of the epoch in effect at each time (an epoch starts at its start)."""
        return np.searchsorted(self.start_h, t_h, side="right") - 1


@dataclass(frozen=True, eq=False)
class Timeline:
    """Dose and epoch events on times shared by every subject.

    times_h : (n_events,) increasing; amounts_mg : (n_subjects, n_events)
    into `compartment`, after bioavailability; epoch : (n_events,) the epoch
    in effect from each event until the next.
    """

    times_h: np.ndarray
    amounts_mg: np.ndarray
    epoch: np.ndarray


def dose_input(structure: Structure, epochs: Epochs, doses: Doses) -> tuple[np.ndarray, np.ndarray]:
    """Doses as they reach the depot: times + tlag, amounts * F.

    F and tlag are those of the epoch in effect at the nominal dose time.

    Returns
    -------
    times_h : ndarray, shape (n_doses,) if every subject's tlag is the same,
        else (n_subjects, n_doses)
    amounts_mg : ndarray, shape (n_subjects, n_doses)
    """
    which = epochs.at(doses.time_h)
    amounts, lags = doses.amount_mg, []
    for e in np.unique(which):  # over epochs: F and tlag of the epoch a dose falls in
        f, lag = epochs.params[e]["F"], epochs.params[e]["tlag"]
        if np.any(f != 1):
            amounts = np.where(which == e, amounts * f[:, None], amounts)
        lags.append((which == e, lag))
    if all(np.all(lag == lag[0]) for _, lag in lags):
        shift = sum(np.where(sel, lag[0], 0.0) for sel, lag in lags)
        return doses.time_h + shift, amounts
    shift = sum(np.where(sel[None, :], lag[:, None], 0.0) for sel, lag in lags)
    return doses.time_h[None, :] + shift, amounts


def shared_timeline(epochs: Epochs, times_h: np.ndarray, amounts_mg: np.ndarray) -> Timeline:
    """Merge dose times (shared by all subjects) and epoch starts into one timeline."""
    all_times = np.concatenate([times_h, epochs.start_h[1:]])
    events, slot = np.unique(all_times, return_inverse=True)
    if epochs.start_h.size == 1 and events.size == times_h.size:  # nothing to merge
        return Timeline(times_h=events, amounts_mg=amounts_mg, epoch=np.zeros(events.size, dtype=int))
    amounts = np.zeros((amounts_mg.shape[0], events.size))
    for d in range(times_h.size):  # over doses, not subjects; doses at one time add
        amounts[:, slot[d]] += amounts_mg[:, d]
    return Timeline(times_h=events, amounts_mg=amounts, epoch=epochs.at(events))


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
    event is -1 for outputs at or before the first event.
    """
    seg = last_event_before(event_times_h, times_h)
    starts = np.r_[0, np.flatnonzero(np.diff(seg)) + 1]
    ends = np.r_[starts[1:], seg.size]
    return [(int(seg[a]), int(a), int(b)) for a, b in zip(starts, ends)]


def as_epochs(params: Mapping[str, np.ndarray] | Epochs) -> Epochs:
    """Engines take one set of parameters or Epochs; inside they see Epochs."""
    return params if isinstance(params, Epochs) else Epochs.constant(params)


def union_of_times(times_h: np.ndarray, amounts_mg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject dose times (n_subjects, n_doses) as shared times with zeros.

    Returns the distinct times, shape (n_times,), and amounts, shape
    (n_subjects, n_times) (doses at one time add).
    """
    union, slot = np.unique(times_h, return_inverse=True)
    slot = slot.reshape(times_h.shape)
    amounts = np.zeros((times_h.shape[0], union.size))
    rows = np.arange(times_h.shape[0])
    for d in range(times_h.shape[1]):  # over doses, not subjects
        np.add.at(amounts, (rows, slot[:, d]), amounts_mg[:, d])
    return union, amounts
