"""A cohort of independent ODE systems, each with its own steps, events and outputs.

`integrate` advances n subjects of m states each with the Rosenbrock method
Rodas5P (`_rodas`, L-stable, the exact Jacobian), the explicit Runge-Kutta method
DOP853 (`_dop853`, order 8, no Jacobian), or each subject by the one that suits it
("dop853_rodas5p": DOP853 unless the subject is stiff at its start),
vectorised over subjects with numpy. Every subject has
its own step size and its own error control: the error estimate is normed
over the subject's own m states, scaled by rtol * |y| + atol with atol per
subject, so one subject's error is held to the tolerance whatever the others
do. Step-size control is scipy's (scipy.integrate._ivp.rk: SAFETY 0.9,
factors 0.2-10, err ** (-1 / (order + 1)), no growth right after a
rejection; the first step and the step after an event by
scipy.integrate._ivp.common.select_initial_step, per subject).

Events and outputs are per subject, in CSR layout: subject i's events are
event_times[event_offsets[i]:event_offsets[i + 1]], sorted, and likewise its
outputs; nothing of size n_subjects x (all times) is built. Each step lands
exactly on the subject's next event time, where `on_event` changes its state;
several events at one time are applied in their given order. An output at an
event time reports the state before the events at that time or after them
(`output_after`, NONMEM's record order). Outputs between steps come from the
method's dense output (order 4 or 7; `dense=False` lands on every output time
instead). A subject whose outputs are all given leaves the batch: the work
of each step is done on the subjects still integrating only.
"""

from typing import Callable

import numpy as np

from . import _dop853, _rodas
from ._stepping import Integration, _Run

__all__ = ["METHODS", "Integration", "integrate", "spectral_radius"]

METHODS = ("rodas5p", "dop853", "dop853_rodas5p")
# "dop853_rodas5p": a subject is stiff when its DOP853 step bound, STABLE_STEP / rho (rho
# the spectral radius of its Jacobian at its start), is below this (h), i.e. rho > 10 /h:
# the accuracy steps of W1-W6 at rtol 1e-8 are 0.1-1 h, so DOP853 would step a child with
# ka above ~10 /h by its stability, not its accuracy (on W1 at N = 1,000: 49 children)
STIFF_STEP = 0.3
# DOP853's step is held under this / rho: near its stability boundary (6 / rho) its error
# estimate holds but its dense output between steps does not (measured on W1: 6e-6 of a
# child's peak for ka 8-20 /h uncapped, 2e-9 capped at 3 / rho)
STABLE_STEP = 3.0


def integrate(
    rhs: Callable,
    jac: Callable,
    y0: np.ndarray,
    *,
    event_offsets: np.ndarray,
    event_times: np.ndarray,
    on_event: Callable,
    output_offsets: np.ndarray,
    output_times: np.ndarray,
    output_after: np.ndarray | None = None,
    observe: Callable | None = None,
    t0: float | np.ndarray = 0.0,
    rtol: float = 1e-8,
    atol: float | np.ndarray = 1e-12,
    dfdt: Callable | None = None,
    autonomous: bool = False,
    dense: bool = True,
    max_step: float = np.inf,
    method: str = "rodas5p",
    stiff_step: float = STIFF_STEP,
) -> Integration:
    """Integrate n independent systems dy/dt = rhs(t, y) through their events to their outputs.

    Parameters
    ----------
    rhs : callable
        rhs(t (k,), y (k, m), subjects (k,)) -> (k, m): the right-hand side of
        the subjects with these indices (into 0..n-1) at their own times.
    jac : callable
        jac(t (k,), y (k, m), subjects (k,)) -> (k, m, m): d rhs / dy, exact.
    y0 : ndarray, shape (n, m)
        States at t0.
    event_offsets : ndarray of int, shape (n + 1,)
        Subject i's events are event_times[event_offsets[i]:event_offsets[i + 1]].
    event_times : ndarray, shape (n_events,)
        Sorted within each subject, none before its t0.
    on_event : callable
        on_event(t (k,), y (k, m), subjects (k,), events (k,)) -> (k, m): the
        states of these subjects just after their events with these flat
        indices (into event_times; the caller keeps what the event does).
    output_offsets, output_times : as event_offsets and event_times, for outputs.
        A subject is integrated to its last output time; later events are not applied.
    output_after : ndarray of bool, shape (n_outputs,), optional
        An output at an event time reports the state after that time's events
        (True) or before them (False, the default).
    observe : callable, optional
        observe(t (r,), y (r, m), subjects (r,)) -> (r, q): what an output
        reports; default the states (q = m).
    t0 : float or ndarray, shape (n,)
        Start time of each subject.
    rtol : float
    atol : float or ndarray, shape (n,) or (n, m)
        Per-subject absolute tolerance, in the states' units: scale it to the
        subject (e.g. to its dose) so that each is controlled on its own scale.
    dfdt : callable, optional
        dfdt(t, y, subjects) -> (k, m), d rhs / dt; by central differences
        when not given (two more rhs calls a step) unless `autonomous`.
    autonomous : bool
        rhs does not depend on t.
    dense : bool
        Outputs between steps from the dense output (True) or by landing a
        step on every output time (False).
    max_step : float
    method : "rodas5p", "dop853" or "dop853_rodas5p"
        The last: each subject by DOP853 unless STABLE_STEP / rho < stiff_step, rho the
        spectral radius of its Jacobian at (t0, y0) (`spectral_radius`), then Rodas5P.
        DOP853's steps are held under STABLE_STEP / rho.
    stiff_step : float

    Returns
    -------
    Integration
    """
    y0 = np.asarray(y0, dtype=float)
    if y0.ndim != 2:
        raise ValueError(f"integrate: y0 has shape {y0.shape}; expected (n_subjects, n_states)")
    n, m = y0.shape
    event_offsets, event_times = _csr("event", event_offsets, event_times, n)
    output_offsets, output_times = _csr("output", output_offsets, output_times, n)
    if output_after is None:
        output_after = np.zeros(output_times.size, dtype=bool)
    output_after = np.asarray(output_after, dtype=bool)
    if output_after.shape != output_times.shape:
        raise ValueError(
            f"integrate: output_after has shape {output_after.shape}; expected "
            f"{output_times.shape}, one flag per output time"
        )
    t0 = np.broadcast_to(np.asarray(t0, dtype=float), (n,))
    for name, offsets, times in (
        ("event", event_offsets, event_times),
        ("output", output_offsets, output_times),
    ):
        owner = np.repeat(np.arange(n), np.diff(offsets))
        early = np.flatnonzero(times < t0[owner])
        if early.size:
            i = owner[early[0]]
            raise ValueError(
                f"integrate: subject {i}'s {name} time {float(times[early[0]])!r} is "
                f"before its start t0 = {float(t0[i])!r}"
            )
    atol = np.asarray(atol, dtype=float)
    atol = np.array(np.broadcast_to(atol[:, None] if atol.ndim == 1 else atol, (n, m)))
    if not (rtol > 0 and np.all(atol > 0)):
        raise ValueError(
            f"integrate: rtol is {rtol!r} and the smallest atol {float(atol.min())!r}; expected both > 0"
        )
    if observe is None:

        def observe(t, y, subjects):
            return y

    if method not in METHODS:
        raise ValueError(f"integrate: method is {method!r}; expected one of {list(METHODS)}")
    steps = np.full(n, float(max_step))
    is_stiff = np.full(n, method == "rodas5p")
    if method != "rodas5p":
        rho = spectral_radius(jac, y0, t0)
        if method == "dop853_rodas5p":
            is_stiff = STABLE_STEP / rho < stiff_step
        # DOP853's step within its reliable region
        steps = np.where(is_stiff, steps, np.minimum(steps, STABLE_STEP / rho))
    run = _Run(
        rhs,
        jac,
        on_event,
        observe,
        dfdt,
        autonomous,
        dense,
        steps,
        rtol,
        event_times,
        output_times,
        output_after,
        n,
    )
    for module, subjects in ((_dop853, ~is_stiff), (_rodas, is_stiff)):
        if subjects.any():
            run.integrate(module, np.flatnonzero(subjects), y0, t0, atol, event_offsets, output_offsets)
    outputs = run.results if run.results is not None else np.empty((0, m))
    return Integration(outputs, run.n_steps, run.n_rejected, is_stiff)


def spectral_radius(jac, y0, t0):
    """Each subject's Jacobian's spectral radius at (t0, y0), shape (n,), 1/time (inf where
    the Jacobian is not finite)."""
    n = y0.shape[0]
    j = np.asarray(jac(t0, y0, np.arange(n)), dtype=float)  # (n, m, m)
    finite = np.isfinite(j).all(axis=(1, 2))
    rho = np.full(n, np.inf)  # a Jacobian not finite: Rodas5P's error control is the safer
    if finite.any():
        rho[finite] = np.abs(np.linalg.eigvals(j[finite])).max(axis=1, initial=0.0)
    return rho


def _csr(name, offsets, times, n):
    offsets = np.asarray(offsets)
    times = np.asarray(times, dtype=float)
    if offsets.shape != (n + 1,) or not np.issubdtype(offsets.dtype, np.integer):
        raise ValueError(
            f"integrate: {name}_offsets has shape {offsets.shape} and dtype "
            f"{offsets.dtype}; expected integers, shape ({n + 1},)"
        )
    if offsets[0] != 0 or offsets[-1] != times.size or np.any(np.diff(offsets) < 0):
        raise ValueError(
            f"integrate: {name}_offsets must rise from 0 to {times.size} (the number of {name} times)"
        )
    if not np.all(np.isfinite(times)):
        raise ValueError(f"integrate: {name}_times has a value that is not finite")
    # sorted within subjects: a fall only where a new subject starts
    falls = np.flatnonzero(np.diff(times) < 0) + 1
    starts = np.zeros(times.size + 1, dtype=bool)
    starts[offsets] = True
    if falls.size and not np.all(starts[falls]):
        where = falls[~starts[falls]][0]
        subject = np.searchsorted(offsets, where, side="right") - 1
        raise ValueError(
            f"integrate: subject {subject}'s {name} times are not sorted "
            f"({float(times[where - 1])!r} then {float(times[where])!r})"
        )
    return offsets.astype(np.intp), times
