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
    """Dose and epoch events on times shared by every subject, in order.

    times_h : (n_events,) non-decreasing (several events may share a time);
    amounts_mg : (n_subjects, n_events) into `compartment` (n_events,), after
    bioavailability; ss, ii_h : (n_events,) steady-state doses (see Doses);
    epoch : (n_events,) the epoch in effect from each event until the next.
    """

    times_h: np.ndarray
    amounts_mg: np.ndarray
    compartment: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    epoch: np.ndarray


def dose_input(structure: Structure, epochs: Epochs, doses: Doses) -> tuple[np.ndarray, np.ndarray]:
    """Doses as they reach the body: depot doses at times (+ jitter) + tlag, amounts * F.

    F and tlag are those of the epoch in effect at the nominal dose time; they
    apply to doses into the depot only (an IV dose into central has neither).

    Returns
    -------
    times_h : ndarray, shape (n_doses,) if every subject's times are the same,
        else (n_subjects, n_doses) (timing jitter, or a lag that differs)
    amounts_mg : ndarray, shape (n_subjects, n_doses)
    """
    which = epochs.at(doses.time_h)
    oral = doses.compartment == structure.dose_index
    amounts, lags = doses.amount_mg, []
    for e in np.unique(which):  # over epochs: F and tlag of the epoch a dose falls in
        f, lag = epochs.params[e]["F"], epochs.params[e]["tlag"]
        here = (which == e) & oral
        if np.any(f != 1):
            amounts = np.where(here, amounts * f[:, None], amounts)
        lags.append((here, lag))
    if doses.offset_h is None and all(np.all(lag == lag[0]) for _, lag in lags):
        shift = sum(np.where(sel, lag[0], 0.0) for sel, lag in lags)
        return doses.time_h + shift, amounts
    shift = sum(np.where(sel[None, :], lag[:, None], 0.0) for sel, lag in lags)
    return doses.actual_time_h + shift, amounts


def shared_timeline(epochs: Epochs, times_h: np.ndarray, amounts_mg: np.ndarray,
                    doses: Doses | None = None) -> Timeline:
    """Dose times (shared by all subjects) and epoch starts as one ordered timeline.

    Doses keep their order where times are equal (as NONMEM keeps record
    order); ordinary doses into one compartment at one time are one event.
    """
    n_doses = times_h.size
    compartment = np.zeros(n_doses, dtype=np.int64) if doses is None else doses.compartment
    ss = np.zeros(n_doses, dtype=np.int64) if doses is None else doses.ss
    ii = np.zeros(n_doses) if doses is None else doses.ii_h
    if epochs.start_h.size == 1 and not ss.any() and np.all(np.diff(times_h) > 0):
        return Timeline(times_h, amounts_mg, compartment, ss, ii, np.zeros(n_doses, dtype=int))
    starts = epochs.start_h[1:]
    times = np.concatenate([times_h, starts])
    amounts = np.concatenate([amounts_mg, np.zeros((amounts_mg.shape[0], starts.size))], axis=1)
    compartment = np.concatenate([compartment, np.zeros(starts.size, dtype=np.int64)])
    ss = np.concatenate([ss, np.zeros(starts.size, dtype=np.int64)])
    ii = np.concatenate([ii, np.zeros(starts.size)])
    groups: list[list[int]] = []
    for d in np.argsort(times, kind="stable"):  # over doses, not subjects
        last = groups[-1][0] if groups else None
        if (last is not None and times[d] == times[last] and compartment[d] == compartment[last]
                and ss[d] == 0 and ss[last] == 0):
            groups[-1].append(d)   # ordinary doses at one time into one compartment add
        else:
            groups.append([d])
    first = np.array([g[0] for g in groups])
    merged = np.stack([amounts[:, g].sum(axis=1) for g in groups], axis=1)
    return Timeline(times_h=times[first], amounts_mg=merged, compartment=compartment[first],
                    ss=ss[first], ii_h=ii[first], epoch=epochs.at(times[first]))


def steady_state(step: np.ndarray, amount_mg: np.ndarray, compartment: int) -> np.ndarray:
    """State just after a dose at steady state: x = (I - Phi(ii))^-1 dose.

    step : ndarray, shape (m, m, n_subjects), Phi over one dosing interval
    amount_mg : ndarray, shape (n_subjects,), the dose (into `compartment`)

    Returns ndarray, shape (m, n_subjects), mg: the limit of x_{k+1} = Phi x_k + dose.
    """
    m, n = step.shape[0], step.shape[2]
    system = np.eye(m)[None, :, :] - step.transpose(2, 0, 1)   # (n, m, m)
    dose = np.zeros((n, m, 1))
    dose[:, compartment, 0] = amount_mg
    return np.linalg.solve(system, dose)[:, :, 0].T


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
