"""What both engines share: the event timeline and which event an output follows."""

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..dosing.doses import (
    Doses,
    FlatDoses,
    SubjectDoses,
    by_subject,
    per_dose_default,
    union_amounts,
    union_columns,
)
from ..model.structures import Structure


@dataclass(frozen=True, eq=False)
class Epochs:
    """Individual parameters that change at times shared by every subject.

    Epoch e holds from start_h[e] (start_h[0] = 0: from the beginning, and
    before it) until the next start. Between epochs the amounts carry over;
    only the rates change (inter-occasion variability, growing children).

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
        """Index of the epoch in effect at each time (an epoch starts at its start; 0 before 0)."""
        if self.start_h.size == 1:
            return np.zeros(np.shape(t_h), dtype=np.intp)
        return np.maximum(np.searchsorted(self.start_h, t_h, side="right") - 1, 0)


@dataclass(frozen=True, eq=False)
class Timeline:
    """Dose and epoch events on times shared by every subject, in order.

    times_h : (n_events,) non-decreasing (several events may share a time);
    amounts_mg : (n_subjects, n_events) into `compartment` (n_events,), after
    bioavailability; ss, ii_h, since_h : (n_events,) steady-state doses (see
    Inputs); epoch : (n_events,) the epoch in effect from each event until the next.
    """

    times_h: np.ndarray
    amounts_mg: np.ndarray
    compartment: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    since_h: np.ndarray
    epoch: np.ndarray


@dataclass(frozen=True, eq=False)
class Inputs:
    """What enters the body and when, at times shared by every subject: the engines' view of Doses.

    times_h : (n_inputs,), non-decreasing, inputs at one time in the order given;
    amounts_mg : (n_subjects, n_inputs), into compartment (n_inputs,);
    ss, ii_h : (n_inputs,) steady-state doses (see Doses); since_h : (n_inputs,)
    for a steady-state dose, how long before it the last of its lagged doses
    arrived (the state it sets is Phi(since_h) (I - Phi(ii_h))^-1 dose). A
    zero-order input (infusion) is two inputs into an extra last compartment
    holding the current infusion rate (mg/h): +rate when it starts, -rate when
    it ends. infusion_into : the compartment that rate flows into, or None.
    """

    times_h: np.ndarray
    amounts_mg: np.ndarray
    compartment: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    since_h: np.ndarray = field(default_factory=per_dose_default)
    infusion_into: int | None = None
    shared: bool = field(default=True, init=False)

    def __post_init__(self):
        if self.since_h is per_dose_default():
            object.__setattr__(self, "since_h", np.zeros(np.shape(self.times_h)[-1]))

    @classmethod
    def from_doses(cls, doses: Doses) -> "Inputs":
        """Doses as given (no F, lag or infusion)."""
        return cls(doses.actual_time_h, doses.amount_mg, doses.compartment, doses.ss, doses.ii_h)


@dataclass(frozen=True, eq=False)
class SubjectInputs:
    """Inputs at each subject's own times: subject i's are records offsets[i]:offsets[i + 1].

    Every field but offsets has shape (n_records,) and the meaning it has in
    Inputs; a subject's records are in time order (in the order given at one
    time).
    """

    offsets: np.ndarray
    times_h: np.ndarray
    amounts_mg: np.ndarray
    compartment: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    since_h: np.ndarray
    infusion_into: int | None = None
    shared: bool = field(default=False, init=False)

    @property
    def n_subjects(self) -> int:
        return self.offsets.size - 1

    @property
    def subject(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_subjects), np.diff(self.offsets))


def dose_input(structure: Structure, epochs: Epochs, doses: Doses | SubjectDoses) -> Inputs | SubjectInputs:
    """Doses as they reach the body: depot doses at times (+ jitter) + tlag, amounts * F.

    F and tlag are those of the epoch in effect when the dose is taken; they
    apply to doses into the depot only (an IV dose into central has neither).
    A steady-state dose with a lag sets, at its own time, the steady state of
    the lagged doses given every II before it; the doses of that past still on
    their way (given less than tlag before it) arrive after it, its own at
    + tlag (NONMEM). Times are shared by all subjects (Inputs) unless jitter,
    per-subject dose times, a lag that differs between subjects or infusions
    of different lengths make them differ (SubjectInputs).
    """
    _refuse_unsupported_infusions(doses.compartment, doses.ss, doses.rate_mg_per_h)
    m = len(structure.compartments)
    if isinstance(doses, Doses) and doses.offset_h is None:
        inputs = _shared_input(structure, epochs, doses, m)
        if inputs is not None:
            return inputs
    return _subject_input(structure, epochs, doses.records(), m)


def _shared_input(structure: Structure, epochs: Epochs, doses: Doses, m: int) -> Inputs | None:
    """Inputs at shared times, or None where a lag or an infusion's length differs between subjects."""
    which = epochs.at(doses.time_h)
    oral = doses.compartment == structure.dose_index
    amounts, lag = doses.amount_mg, np.zeros(doses.time_h.size)
    for e in np.unique(which[oral]):  # over epochs: F and tlag of the epoch a dose falls in
        f, tlag = structure.dose_modifiers(epochs.params[e])
        here = (which == e) & oral
        if np.any(f != 1):
            amounts = np.where(here, amounts * f[:, None], amounts)
        if np.any(tlag != tlag[0]):
            return None
        lag[here] = tlag[0]
    rep, times, ss, ii, since = _arrivals(doses.time_h, lag, doses.ss, doses.ii_h)
    order = np.argsort(times, kind="stable")  # inputs at one time keep their order
    rep, times, ss, ii, since = rep[order], times[order], ss[order], ii[order], since[order]
    amounts, compartment, rate = amounts[:, rep], doses.compartment[rep], doses.rate_mg_per_h[rep]
    infused = rate > 0
    if not infused.any():
        return Inputs(times, amounts, compartment, ss, ii, since)
    # each infusion stops after amount / rate h: one stop time for everyone when all who
    # receive it receive the same amount
    given = amounts[:, infused] > 0
    length = np.where(given, amounts[:, infused], np.nan) / rate[infused]
    with np.errstate(invalid="ignore"):
        shortest, longest = np.nanmin(length, axis=0), np.nanmax(length, axis=0)
    anyone = given.any(axis=0)
    if np.any(anyone & (shortest != longest)):
        return None
    flow = np.where(given, rate[infused], 0.0)
    stop = times[infused] + np.where(anyone, longest, 0.0)
    amounts[:, infused] = flow  # amounts[:, rep] above is a copy
    n_stop = stop.size
    all_times = np.concatenate([times, stop])
    order = np.argsort(all_times, kind="stable")
    return Inputs(
        times_h=all_times[order],
        amounts_mg=np.concatenate([amounts, -flow], axis=1)[:, order],
        compartment=np.concatenate([np.where(infused, m, compartment), np.full(n_stop, m)])[order],
        ss=np.concatenate([ss, np.zeros(n_stop, dtype=np.int64)])[order],
        ii_h=np.concatenate([ii, np.zeros(n_stop)])[order],
        since_h=np.concatenate([since, np.zeros(n_stop)])[order],
        infusion_into=int(compartment[infused][0]),
    )


def _subject_input(structure: Structure, epochs: Epochs, doses: FlatDoses, m: int) -> SubjectInputs:
    """Inputs at each subject's own times (the same as `_shared_input`, record by record)."""
    subject = doses.subject
    which = epochs.at(doses.time_h)
    oral = doses.compartment == structure.dose_index
    amount, lag = doses.amount_mg.copy(), np.zeros(doses.time_h.size)
    for e in np.unique(which[oral]) if len(epochs.params) > 1 else range(int(oral.any())):
        f, tlag = structure.dose_modifiers(epochs.params[e])
        if len(epochs.params) == 1 and oral.all():  # every record: no masks
            amount *= f[subject]
            lag = tlag[subject]
            break
        here = (which == e) & oral
        amount[here] *= f[subject[here]]
        lag[here] = tlag[subject[here]]
    rep, times, ss, ii, since = _arrivals(doses.time_h, lag, doses.ss, doses.ii_h)
    subject, amount = subject[rep], amount[rep]
    compartment, rate = doses.compartment[rep], doses.rate_mg_per_h[rep]
    infused = (rate > 0) & (amount > 0)
    infusion_into = int(compartment[infused][0]) if infused.any() else None
    if infusion_into is not None:  # start: +rate into compartment m; stop: -rate after amount / rate h
        stop = times[infused] + amount[infused] / rate[infused]
        n_stop = stop.size
        subject = np.concatenate([subject, subject[infused]])
        times = np.concatenate([times, stop])
        amount = np.concatenate([np.where(infused, rate, amount), -rate[infused]])
        compartment = np.concatenate([np.where(infused, m, compartment), np.full(n_stop, m)])
        ss = np.concatenate([ss, np.zeros(n_stop, dtype=np.int64)])
        ii, since = np.concatenate([ii, np.zeros(n_stop)]), np.concatenate([since, np.zeros(n_stop)])
    order, offsets = by_subject(doses.n_subjects, subject, times)
    return SubjectInputs(
        offsets=offsets,
        times_h=times[order],
        amounts_mg=amount[order],
        compartment=compartment[order],
        ss=ss[order],
        ii_h=ii[order],
        since_h=since[order],
        infusion_into=infusion_into,
    )


def _arrivals(time_h: np.ndarray, lag_h: np.ndarray, ss: np.ndarray, ii_h: np.ndarray):
    """When each dose reaches the body, a steady-state dose with a lag as NONMEM has it.

    An ordinary dose arrives at time + lag. A steady-state dose with lag L and
    interval ii stays at its own time, setting the steady state of the doses
    given every ii before it, the last of which arrived `since` = K ii - L
    before it (K = ceil(L / ii)); the K doses given at time - k ii (k = 0 ..
    K-1) arrive after it, at time + L - k ii, as ordinary doses. Without a lag
    (K = 0) the steady-state dose includes itself.

    Parameters: shape (n,) each. Returns rep (which dose each arrival comes
    from), time_h, ss, ii_h, since_h, each shape (n + sum K), in dose order
    with each steady-state dose's arrivals after it.
    """
    lagged_ss = (ss > 0) & (lag_h > 0)
    if not lagged_ss.any():  # every dose arrives once, at time + lag
        return np.arange(time_h.size), time_h + lag_h, ss, ii_h, np.zeros(time_h.size)
    k_max = np.zeros(time_h.size, dtype=np.int64)
    k_max[lagged_ss] = np.ceil(lag_h[lagged_ss] / ii_h[lagged_ss]).astype(np.int64)
    count = 1 + k_max
    rep = np.repeat(np.arange(time_h.size), count)
    j = np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count)  # 0: the dose itself
    own = j == 0
    steady = lagged_ss[rep] & own
    times = np.where(steady, time_h[rep], time_h[rep] + lag_h[rep] - np.maximum(j - 1, 0) * ii_h[rep])
    since = np.where(steady, k_max[rep] * ii_h[rep] - lag_h[rep], 0.0)
    return rep, times, np.where(own, ss[rep], 0), np.where(own, ii_h[rep], 0.0), since


def _refuse_unsupported_infusions(compartment: np.ndarray, ss: np.ndarray, rate: np.ndarray) -> None:
    infused = rate > 0
    if not infused.any():
        return
    targets = np.unique(compartment[infused])
    if targets.size > 1:
        raise NotImplementedError(
            f"zero-order inputs into several compartments "
            f"({targets.tolist()}) in one simulation are not supported"
        )
    if ss.any():
        raise NotImplementedError(
            "steady-state doses (SS) in a simulation with zero-order inputs (RATE) are not supported"
        )


def shared_timeline(epochs: Epochs, inputs: Inputs) -> Timeline:
    """Inputs (times shared by all subjects) and epoch starts as one ordered timeline.

    Inputs keep their order where times are equal (as NONMEM keeps record
    order); consecutive ordinary doses into one compartment at one time are
    one event (their amounts add; infusion rates add).
    """
    times_h, amounts_mg = inputs.times_h, inputs.amounts_mg
    compartment, ss, ii, since = inputs.compartment, inputs.ss, inputs.ii_h, inputs.since_h
    n_doses = times_h.size
    if epochs.start_h.size == 1 and not ss.any() and np.all(np.diff(times_h) > 0):
        return Timeline(times_h, amounts_mg, compartment, ss, ii, since, np.zeros(n_doses, dtype=int))
    starts = epochs.start_h[1:]
    times = np.concatenate([times_h, starts])
    amounts = np.concatenate([amounts_mg, np.zeros((amounts_mg.shape[0], starts.size))], axis=1)
    compartment = np.concatenate([compartment, np.zeros(starts.size, dtype=np.int64)])
    ss = np.concatenate([ss, np.zeros(starts.size, dtype=np.int64)])
    ii = np.concatenate([ii, np.zeros(starts.size)])
    since = np.concatenate([since, np.zeros(starts.size)])
    order = np.argsort(times, kind="stable")
    t, c, s = times[order], compartment[order], ss[order]
    # a new event wherever time or compartment changes, and at and after every steady-state dose
    new = np.r_[True, (t[1:] != t[:-1]) | (c[1:] != c[:-1]) | (s[1:] > 0) | (s[:-1] > 0)]
    first = order[new]
    merged = amounts[:, order]
    if not new.all():  # left to right within each event, whatever the batch of subjects
        merged = np.add.reduceat(merged, np.flatnonzero(new), axis=1)
    return Timeline(
        times_h=times[first],
        amounts_mg=merged,
        compartment=compartment[first],
        ss=ss[first],
        ii_h=ii[first],
        since_h=since[first],
        epoch=epochs.at(times[first]),
    )


def union_of_times(inputs: SubjectInputs, max_amounts: int, who: str) -> Inputs:
    """Per-subject input times as times shared by every subject, with zeros.

    One column per distinct (time, place at that time, compartment, ss, ii,
    since); a subject's inputs keep their order. Shape (n_subjects, n_columns):
    as large as the subjects times all distinct input times, refused (naming
    `who`, the engine) beyond max_amounts before it is allocated.
    """
    slot, columns = union_columns(
        inputs.offsets, inputs.times_h, (inputs.compartment, inputs.ss, inputs.ii_h, inputs.since_h)
    )
    size = inputs.n_subjects * columns.shape[0]
    if size > max_amounts:
        raise ValueError(
            f"{who}: children at their own dose times are stepped on the union of "
            f"everyone's times, {inputs.n_subjects:,} children x {columns.shape[0]:,} "
            f"times = {size:,} amounts; expected at most {max_amounts:,}: use "
            "engine='analytic' (each child's own doses) or a smaller chunk_size"
        )
    amounts = union_amounts(inputs.offsets, slot, columns, inputs.amounts_mg)
    return Inputs(
        times_h=columns[:, 0].copy(),
        amounts_mg=amounts,
        compartment=columns[:, 2].astype(np.int64),
        ss=columns[:, 3].astype(np.int64),
        ii_h=columns[:, 4].copy(),
        since_h=columns[:, 5].copy(),
        infusion_into=inputs.infusion_into,
    )


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
