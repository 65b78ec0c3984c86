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


@dataclass(frozen=True, eq=False)
class Inputs:
    """What enters the body and when: the engines' view of Doses.

    times_h : (n_inputs,) shared by every subject, or (n_subjects, n_inputs);
    amounts_mg : (n_subjects, n_inputs), into compartment (n_inputs,);
    ss, ii_h : (n_inputs,) steady-state doses (see Doses). A zero-order input
    (infusion) is two inputs into an extra last compartment holding the
    current infusion rate (mg/h): +rate when it starts, -rate when it ends.
    infusion_into : the compartment that rate flows into, or None.
    """

    times_h: np.ndarray
    amounts_mg: np.ndarray
    compartment: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    infusion_into: int | None = None

    @classmethod
    def from_doses(cls, doses: Doses) -> "Inputs":
        """Doses as given (no F, lag or infusion)."""
        return cls(doses.actual_time_h, doses.amount_mg, doses.compartment, doses.ss, doses.ii_h)

    @property
    def shared(self) -> bool:
        return self.times_h.ndim == 1


def dose_input(structure: Structure, epochs: Epochs, doses: Doses) -> Inputs:
    """Doses as they reach the body: depot doses at times (+ jitter) + tlag, amounts * F.

    F and tlag are those of the epoch in effect at the nominal dose time; they
    apply to doses into the depot only (an IV dose into central has neither).
    Times are shared by all subjects unless jitter, a lag that differs between
    subjects, or infusions of different lengths make them differ.
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
        if doses.ss is not None and np.any(doses.ss[here] > 0) and np.any(lag > 0):
            raise NotImplementedError(
                "steady-state doses (SS) into the depot of a model with a lag time (tlag) are not "
                "supported yet: between the dose and its lagged arrival the steady state of the "
                "earlier doses is not there")
    if doses.offset_h is None and all(np.all(lag == lag[0]) for _, lag in lags):
        times = doses.time_h + sum(np.where(sel, lag[0], 0.0) for sel, lag in lags)
    else:
        times = doses.actual_time_h + sum(np.where(sel[None, :], lag[:, None], 0.0) for sel, lag in lags)
    inputs = Inputs(times, amounts, doses.compartment, doses.ss, doses.ii_h)
    return _infusions(inputs, doses.rate_mg_per_h, len(structure.compartments))


def _infusions(inputs: Inputs, rate: np.ndarray, m: int) -> Inputs:
    """Zero-order inputs as start and stop of a rate in an extra compartment (index m)."""
    infused = rate > 0
    if not infused.any():
        return inputs
    targets = np.unique(inputs.compartment[infused])
    if targets.size > 1:
        raise NotImplementedError(f"zero-order inputs into several compartments "
                                  f"({targets.tolist()}) in one simulation are not supported")
    if inputs.ss[infused].any():
        raise NotImplementedError("steady-state doses given as zero-order inputs (SS with RATE) "
                                  "are not supported")
    amounts = inputs.amounts_mg[:, infused]
    start = inputs.times_h[..., infused]
    given = amounts > 0
    stop = start + amounts / rate[infused]                   # (N, n_infusions): amount / rate h
    flow = np.where(given, rate[infused], 0.0)
    keep = ~infused
    # one stop time for everyone when all who receive an infusion receive the same amount
    ends = np.where(given, stop, np.nan)
    with np.errstate(invalid="ignore"):
        same = np.all((np.nanmax(ends, axis=0) == np.nanmin(ends, axis=0)) | ~given.any(axis=0))
    shared = inputs.shared and same
    if shared:
        stop = np.where(given.any(axis=0), np.nanmax(np.where(given, stop, -np.inf), axis=0), start)
    parts = [inputs.times_h[..., keep], start, stop]
    if not shared or not inputs.shared:
        n = amounts.shape[0]
        parts = [np.broadcast_to(p, (n, p.shape[-1])) for p in parts]
    n_infusions = int(infused.sum())
    return Inputs(
        times_h=np.concatenate(parts, axis=-1),
        amounts_mg=np.concatenate([inputs.amounts_mg[:, keep], flow, -flow], axis=1),
        compartment=np.concatenate([inputs.compartment[keep], np.full(2 * n_infusions, m)]),
        ss=np.concatenate([inputs.ss[keep], np.zeros(2 * n_infusions, dtype=np.int64)]),
        ii_h=np.concatenate([inputs.ii_h[keep], np.zeros(2 * n_infusions)]),
        infusion_into=int(targets[0]))


def shared_timeline(epochs: Epochs, inputs: Inputs) -> Timeline:
    """Inputs (times shared by all subjects) and epoch starts as one ordered timeline.

    Inputs keep their order where times are equal (as NONMEM keeps record
    order); ordinary doses into one compartment at one time are one event.
    """
    times_h, amounts_mg = inputs.times_h, inputs.amounts_mg
    compartment, ss, ii = inputs.compartment, inputs.ss, inputs.ii_h
    n_doses = times_h.size
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


def union_of_times(inputs: Inputs) -> Inputs:
    """Per-subject input times as shared times with zeros.

    One column per distinct (time, compartment); amounts that share one add.
    """
    times_h, n = inputs.times_h, inputs.amounts_mg.shape[0]
    compartment = np.broadcast_to(inputs.compartment, times_h.shape)
    key = np.stack([times_h.ravel(), compartment.ravel()], axis=1)
    columns, slot = np.unique(key, axis=0, return_inverse=True)
    slot = slot.reshape(times_h.shape)
    amounts = np.zeros((n, columns.shape[0]))
    rows = np.arange(n)
    for d in range(times_h.shape[1]):  # over doses, not subjects
        np.add.at(amounts, (rows, slot[:, d]), inputs.amounts_mg[:, d])
    return Inputs(times_h=columns[:, 0].copy(), amounts_mg=amounts,
                  compartment=columns[:, 1].astype(np.int64), ss=np.zeros(columns.shape[0], dtype=np.int64),
                  ii_h=np.zeros(columns.shape[0]), infusion_into=inputs.infusion_into)
