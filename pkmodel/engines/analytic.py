"""Analytic engine: exact solution of linear compartment models, vectorised.

The amounts x (mg) are carried from event to event with the exact transition
matrix Phi(dt) = exp(K dt); between events the concentration at offset tau
after the last event is Phi(tau)[central, :] x / V. Output grids repeat
their offsets (a 0.5 h grid after every 8 h dose sees the same 16 offsets),
so the read-out rows are computed once per distinct set of offsets and each
output costs a few multiply-adds rather than exponentials.

Phi comes from a closed form where one is coded (one compartment, first-order
absorption) and otherwise from a batched matrix exponential (scaling and
squaring of a degree-18 Taylor polynomial), which is exact for the defective
matrices of transit chains too, where eigen-decompositions fail.

Internally subjects run along the last axis: states (m, n_subjects), Phi
(m, m, ..., n_subjects). The read-out is subject-major: for each subject,
the states after k events times its rows for n_tau offsets is one small
(k, m) @ (m, n_tau) product, and numpy's stacked matmul writes those
straight into the (n_subjects, n_times) output.

A subject's numbers do not depend on the other subjects it is computed with
(so chunked simulation gives the same bits): sums over compartments are
written out in a fixed order (`linalg.sum_of_products`) rather than left to einsum
or tensordot, whose order of summation may follow the array layout, and the
matrix exponential scales each matrix by its own power of two.
"""

from typing import Any, Mapping

import numpy as np

from ..dosing.doses import Doses, SubjectDoses
from ..model.structures import Structure
from .common import Epochs, SubjectInputs, as_epochs, dose_input, segments, shared_timeline
from .base import refuse_unknown, register_engine
from .linalg import steady_state, sum_of_products
from .jittered import schedule_input, simulate_schedule
from .per_child import per_subject
from .solutions import MatrixExponential, Solution, solution

OPTIONS: dict = {}


class AnalyticEngine:
    """The analytic engine under the Engine contract (`pkmodel.engines.base`): linear models, exact."""

    name = "analytic"
    fresh_output = True  # every call returns new arrays nobody else holds (Plan.run keeps them)

    def options(self, **given: Any) -> dict[str, Any]:
        """No options: any given is refused, naming it."""
        refuse_unknown(self.name, given, OPTIONS)
        return {}

    def supports(self, model, doses) -> str | None:
        """None for a linear model (dx/dt = K x between doses); else why not (a nonlinear
        model, with the compiler's reason, is the ode engine's)."""
        if getattr(model, "equations", None) is None:  # a named structure (or no model yet)
            return None
        return model.compartment_model.analytic_reason

    def simulate(self, model, params, doses, times_h: np.ndarray, **options: Any):
        """Concentrations, shape (n_subjects, n_times), mg/L (`simulate` below); a model of
        the language with outputs other than one compartment's concentration: every output,
        evaluated on the exact amounts (`outputs`)."""
        view = model.compartment_model
        if model.structure is not None or view.central_index is not None:
            return simulate(view, params, doses, times_h)
        out = outputs(view, params, doses, times_h)
        return out["conc"] if len(out) == 1 else out


def outputs(view, params, doses, times_h: np.ndarray) -> dict[str, np.ndarray]:
    """Every output of a linear SystemStructure, each (n_subjects, n_times): the amounts of
    every compartment solved exactly (one read-out each), then the output expressions."""
    amounts = np.stack(
        [simulate(view.observe(j), params, doses, times_h) for j in range(len(view.compartments))], axis=-1
    )  # (n, n_times, m)
    epochs = as_epochs(params)
    which = epochs.at(times_h)
    out: dict[str, np.ndarray] = {}
    for e, p in enumerate(epochs.params):  # over epochs: each its own parameters
        cols = np.flatnonzero(which == e)
        if cols.size == 0:
            continue
        read = view.bind(p).outputs(times_h[cols], amounts[:, cols])
        for name, value in read.items():
            out.setdefault(name, np.zeros(amounts.shape[:2]))[:, cols] = value
    return out


def simulate(
    structure: Structure,
    params: Mapping[str, np.ndarray] | Epochs,
    doses: Doses | SubjectDoses,
    times_h: np.ndarray,
) -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L."""
    epochs = as_epochs(params)
    if isinstance(doses, Doses) and (schedule := schedule_input(structure, epochs, doses)) is not None:
        return simulate_schedule(solution(structure, epochs.params[0]), schedule, times_h)
    inputs = dose_input(structure, epochs, doses)
    if isinstance(inputs, SubjectInputs):
        return per_subject(structure, epochs, inputs, times_h)
    solutions = [solution(structure, p, inputs.infusion_into) for p in epochs.params]
    return propagate(solutions, shared_timeline(epochs, inputs), times_h)


def amounts(
    structure: Structure, params: Mapping[str, np.ndarray], doses: Doses, times_h: np.ndarray
) -> np.ndarray:
    """Amount in every compartment and eliminated so far, exact.

    Returns ndarray, shape (n_subjects, m + 1, n_times), mg: the compartments
    of `structure` in order, then the amount eliminated (their sum is the
    dose given before each time, after bioavailability).
    """
    epochs = as_epochs(params)
    rates = structure.rate_matrix(epochs.params[0], eliminated=True)
    inputs = dose_input(structure, epochs, doses)
    if inputs.infusion_into is not None or isinstance(inputs, SubjectInputs):
        raise NotImplementedError("amounts() takes bolus doses at times shared by every subject")
    timeline = shared_timeline(epochs, inputs)
    return np.stack(
        [
            propagate(
                [MatrixExponential(structure, epochs.params[0], rates=rates, observe=c)], timeline, times_h
            )
            for c in range(rates.shape[1])
        ],
        axis=1,
    )


def propagate(solutions: list[Solution], timeline, times_h: np.ndarray) -> np.ndarray:
    """Carry the state along a shared timeline; read concentrations between events.

    Returns ndarray, shape (n_subjects, n_times), mg/L.
    """
    event_times, amounts = timeline.times_h, timeline.amounts_mg
    n_subjects = amounts.shape[0]
    first = solutions[0]
    runs = [(e, j0, j1) for e, j0, j1 in segments(event_times, times_h) if e >= 0]
    # read-out rows first: their short steps then give the long steps between
    # doses by squaring (MatrixExponential.step)
    rows = [solutions[timeline.epoch[e]].readout(times_h[j0:j1] - event_times[e]) for e, j0, j1 in runs]
    given = np.ascontiguousarray(amounts.T)  # (n_events, n_subjects)
    # the state just after each event, (n_subjects, n_events, m): subject-major, contiguous, for
    # the read-out's products (numpy's matmul takes another path, another rounding, for a
    # strided view of one subject than of many, so chunks would differ); carried from event to
    # event in x (m, n_subjects), each state one contiguous row
    by_subject = np.empty((n_subjects, event_times.size, first.m))
    x, previous = np.zeros((first.m, n_subjects)), np.empty((first.m, n_subjects))
    for e, t in enumerate(event_times):  # over events, vectorised over subjects
        if e and t > event_times[e - 1]:
            x, previous = previous, x
            sol = solutions[timeline.epoch[e - 1]]
            phi, pattern = sol.step(t - event_times[e - 1]), sol.nonzero()
            if pattern is None:
                sum_of_products(((phi[:, j], previous[j]) for j in range(first.m)), out=x)
            else:  # terms where Phi is 0 for every subject skipped: the same bits
                for i in range(first.m):
                    ks = np.flatnonzero(pattern[i])
                    sum_of_products(((phi[i, k], previous[k]) for k in ks), out=x[i])
        # else: events at the same time (or the first): x is the state before this one
        if timeline.ss[e]:
            sol = solutions[timeline.epoch[e]]
            at_steady_state = steady_state(sol.step(timeline.ii_h[e]), given[e], timeline.compartment[e])
            if timeline.since_h[e] > 0:  # the last lagged dose arrived since_h before
                phi = sol.step(timeline.since_h[e])
                at_steady_state = sum_of_products((phi[:, j], at_steady_state[j]) for j in range(first.m))
            if timeline.ss[e] == 2:
                at_steady_state += x
            np.copyto(x, at_steady_state, where=given[e] > 0)  # only children given this dose
        else:
            x[timeline.compartment[e]] += given[e]
        by_subject[:, e, :] = x.T

    out = np.empty((n_subjects, times_h.size))
    for e, k, j0, w in _batches(runs, rows):
        # k events read through the same rows: per subject (k, m) @ (m, n_tau);
        # splitting the contiguous time axis into (k, n_tau) is always a view
        n_tau = w.shape[2]
        np.matmul(by_subject[:, e : e + k], w, out=out[:, j0 : j0 + k * n_tau].reshape(n_subjects, k, n_tau))
    # zero before the first dose, after the products: they first touch the fresh pages, each
    # subject's row once, rather than a pass of its own
    out[:, : runs[0][1] if runs else times_h.size] = 0.0
    return out


def _batches(runs: list[tuple[int, int, int]], rows: list[np.ndarray]) -> list[tuple]:
    """Consecutive runs of outputs read through the same rows (a regular grid after regular doses).

    Returns (first event, number of events k, first output j0, rows) for each batch.
    """
    batches: list[tuple[int, int, int, np.ndarray]] = []
    for (e, j0, _), w in zip(runs, rows):
        if batches and batches[-1][3] is w and sum(batches[-1][:2]) == e:
            first_event, k, start, _ = batches[-1]
            batches[-1] = (first_event, k + 1, start, w)
        else:
            batches.append((e, 1, j0, w))
    return batches


register_engine(AnalyticEngine())
