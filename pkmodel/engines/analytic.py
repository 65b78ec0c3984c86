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

from typing import Any, Mapping, Sequence

import numpy as np

from ..dosing.doses import Doses, SubjectDoses, by_subject
from ..model.structures import Structure
from .common import Epochs, SubjectInputs, as_epochs, dose_input, segments, shared_timeline
from .base import refuse_unknown, register_engine
from .linalg import steady_state, sum_of_products
from .solutions import MatrixExponential, Solution, solution

OPTIONS: dict = {}
STEP_CACHE_BYTES = 2**27  # transitions between outputs kept while marching over them
PAIRS_PER_BATCH = 2**16  # records whose transitions are computed at once


class AnalyticEngine:
    """The analytic engine under the Engine contract (`pkmodel.engines.base`): linear models, exact."""

    name = "analytic"

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
    states = np.zeros((event_times.size, first.m, n_subjects))  # just after each event
    for e, t in enumerate(event_times):  # over events, vectorised over subjects
        x = states[e]
        if e and t > event_times[e - 1]:
            phi = solutions[timeline.epoch[e - 1]].step(t - event_times[e - 1])
            sum_of_products(((phi[:, j], states[e - 1, j]) for j in range(first.m)), out=x)
        elif e:
            x[...] = states[e - 1]  # events at the same time
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

    out = np.empty((n_subjects, times_h.size))
    # (n_subjects, n_events, m), contiguous: numpy's matmul takes another path (another
    # rounding) for a strided view of one subject than of many, so chunks would differ
    by_subject = np.ascontiguousarray(states.transpose(2, 0, 1))
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


def per_subject(
    structure: Structure, epochs: Epochs, inputs: SubjectInputs, times_h: np.ndarray
) -> np.ndarray:
    """The same exact solution when each subject has its own input times.

    Each subject's inputs are its own (SubjectInputs: stored flat, never
    subjects x everyone's times), stepped in turn: the k-th inputs of every
    subject with more than k are one vectorised step. Slower than `propagate`:
    offsets no longer repeat across subjects, so every output takes its own
    Phi(tau). Returns shape (n_subjects, n_times), mg/L.
    """
    n = inputs.n_subjects
    times, given, into, ss, ii, since, offsets = _with_epoch_starts(inputs, epochs.start_h[1:])
    if times.size == 0 or times_h.size == 0:
        return np.zeros((n, times_h.size))
    epoch = epochs.at(times)  # (n_records,)
    after = np.searchsorted(times_h, times, side="right")  # the first output after each record
    solutions = [solution(structure, p, inputs.infusion_into) for p in epochs.params]
    if len(solutions) == 1 and not ss.any():
        pairs = _superposed(solutions[0], offsets, (times, given, into, after), times_h)
        return _march(solutions, epochs, n, pairs, times_h, add=True)
    pairs = _per_subject_states(
        structure,
        epochs,
        inputs.infusion_into,
        solutions,
        offsets,
        (times, given, into, ss, ii, since, epoch, after),
        times_h,
    )
    return _march(solutions, epochs, n, pairs, times_h)


def _march(solutions, epochs: Epochs, n: int, pairs, times_h: np.ndarray, add: bool = False) -> np.ndarray:
    """Concentrations at the outputs, marched from output to output.

    pairs : subject, output (n_pairs,), sorted by output, and a state at that output, shape
    (m, n_pairs): from the subject's last record before it (`_per_subject_states`), or with
    `add`, what its records since the output before add to it (`_superposed`).

    The state at output j is Phi(t_j - t_{j-1}) times the state at output j - 1 (one
    transition per distinct output step, shared by the subjects), except for a subject
    with records in [t_{j-1}, t_j): there it is the pair's (or that plus the pair's). Every
    product is element by element over subjects, summed in a fixed order. Returns shape
    (n_subjects, n_times), mg/L.
    """
    pair_subject, pair_output, pair_state = pairs
    n_times, m = times_h.size, solutions[0].m
    central = solutions[0].central
    out = np.empty((n_times, n))
    bounds = np.searchsorted(pair_output, np.arange(n_times + 1))
    # the epoch of the state at each output: that of the last epoch start before it
    epoch_out = np.maximum(np.searchsorted(epochs.start_h, times_h, side="left") - 1, 0)
    steps: dict[tuple[int, float], np.ndarray] = {}
    budget = max(1, STEP_CACHE_BYTES // max(m * m * n * 8, 1))  # cached transitions at most
    y = np.zeros((m, n))
    for j in range(n_times):  # over outputs, vectorised over subjects
        sol = solutions[epoch_out[j]]
        if j:
            # steps that differ in the 13th digit (np.arange, linspace grids) share a transition
            key = (int(epoch_out[j]), float(f"{times_h[j] - times_h[j - 1]:.12g}"))
            if key not in steps:
                if len(steps) >= budget:
                    steps.clear()
                steps[key] = sol.transition(np.array([key[1]]))[:, :, 0]
            phi = steps[key]
            y = sum_of_products((phi[:, i], y[i]) for i in range(m))
        a, b = bounds[j], bounds[j + 1]
        if b > a and add:
            y[:, pair_subject[a:b]] += pair_state[:, a:b]
        elif b > a:
            y[:, pair_subject[a:b]] = pair_state[:, a:b]
        np.multiply(y[central], sol.inv_volume, out=out[j])
    return out.T


def _superposed(sol: Solution, offsets: np.ndarray, records, times_h: np.ndarray):
    """What each subject's records add to its state at the outputs after them, by superposition.

    A linear system without steady-state doses and with one set of rates: the state at t is
    Phi(t - t_j) x(t_j) plus Phi(t - t_r) e_c a for every input r (amount or rate a into
    compartment c) in [t_j, t); one transition per record, each subject's own, and the
    shared Phi(t_j - t_{j-1}) for the rest (`_march`).

    records : times, amounts, compartments and the first output after each record, shape
    (n_records,) each, by subject then time. Returns subject, output, shape (n_pairs,),
    sorted by output, and the amounts added, shape (m, n_pairs): one pair per subject and
    output with records before it (since the output before), summed in time order.
    """
    times, given, into, after = records
    n_times = times_h.size
    subject = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    keep = after < n_times
    if not keep.all():  # records after the last output add to nothing
        subject, times, given, into, after = (a[keep] for a in (subject, times, given, into, after))
    tau = times_h[after] - times
    one = into.size > 0 and np.all(into == into[0])  # every input into one compartment
    added = np.empty((sol.m, times.size))
    for r0 in range(0, times.size, PAIRS_PER_BATCH):  # bounded memory: (m, m, batch)
        r = slice(r0, r0 + PAIRS_PER_BATCH)
        phi = sol.transition_at(subject[r], tau[r])
        column = phi[:, into[0]] if one else phi[:, into[r], np.arange(phi.shape[2])]
        np.multiply(column, given[r], out=added[:, r])
    output = after
    first = np.ones(output.size, dtype=bool)
    first[1:] = (subject[1:] != subject[:-1]) | (output[1:] != output[:-1])
    if not first.all():  # records of one subject before one output: one pair, added in time order
        starts = np.flatnonzero(first)
        subject, output, added = subject[starts], output[starts], np.add.reduceat(added, starts, axis=1)
    order = _by_output(output, n_times)
    return subject[order], output[order], added[:, order]


def _by_output(output: np.ndarray, n_times: int) -> np.ndarray:
    """The order that sorts pairs by output (a subject's pairs have distinct outputs, so their
    order within one does not matter); numpy's stable sort of 16-bit keys is a radix sort."""
    return np.argsort(output.astype(np.uint16) if n_times < 2**16 else output, kind="stable")


def _per_subject_states(structure, epochs, infusion_into, solutions, offsets, records, times_h):
    """The state at each output that follows a subject's record, from its last record before it.

    Each subject's records are stepped in turn, the k-th records of every subject with more
    than k in one vectorised step. Subjects are ranked by their number of records, most
    first, so that the subjects with a k-th record are a prefix (their parameters views), and
    the records are held k-major (every subject's k-th record, in rank order, then the
    (k+1)-th): each step reads contiguous slices. A record whose subject's next record comes
    before the same output gives nothing (the later one does).

    records : times, amounts, compartments, ss, ii, since, epoch and the first output after
    each record, shape (n_records,) each, by subject then time.
    Returns subject, output, shape (n_pairs,), sorted by output, and the
    states, shape (m, n_pairs).
    """
    times, given, into, ss, ii, since, epoch, after = records
    counts = np.diff(offsets)
    n, m, n_times = counts.size, solutions[0].m, times_h.size
    rank = np.argsort(-counts, kind="stable")
    if np.any(rank != np.arange(n)):
        solutions = [
            solution(structure, {k: v[rank] for k, v in p.items()}, infusion_into) for p in epochs.params
        ]
    counts_ranked = counts[rank]
    active = np.searchsorted(-counts_ranked, -np.arange(counts_ranked[0] if n else 0), side="left")
    kstart = np.r_[0, np.cumsum(active)]
    place = np.empty(n, dtype=np.int64)
    place[rank] = np.arange(n)  # each subject's position in rank order
    subject = np.repeat(np.arange(n), counts)
    perm = np.empty(times.size, dtype=np.int64)  # k-major position -> record
    perm[kstart[np.arange(times.size) - offsets[subject]] + place[subject]] = np.arange(times.size)
    t, g, c, s, e_, out_ = times[perm], given[perm], into[perm], ss[perm], epoch[perm], after[perm]
    prefix = {n: solutions}
    x = np.zeros((m, n))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for k, a in enumerate(active):  # over each subject's k-th record, vectorised over subjects
        here = prefix.get(a)
        if here is None:
            here = prefix[a] = [sol.first(a) for sol in solutions]
        now = slice(kstart[k], kstart[k] + a)
        if k:
            before = slice(kstart[k - 1], kstart[k - 1] + a)
            phi = _transition_each(here, e_[None, before], (t[now] - t[before])[None, :])
            x[:, :a] = sum_of_products((phi[:, j, 0], x[j, :a]) for j in range(m))
        plain = s[now] == 0
        if plain.all() and np.all(c[now] == c[kstart[k]]):  # one compartment, no steady state
            x[c[kstart[k]], :a] += g[now]
        else:
            where = np.flatnonzero(plain)
            x[c[now][where], where] += g[now][where]
        steady = np.flatnonzero(~plain & (g[now] > 0))
        if steady.size:
            d = perm[kstart[k] + steady]
            x[:, steady] = _steady_states(
                here, epoch[d], steady, ii[d], since[d], given[d], into[d], ss[d], x[:, steady]
            )
        # the subjects whose next record (if any) comes after their next output
        last = out_[now] < n_times
        if k + 1 < active.size:
            b = active[k + 1]
            last[:b] &= out_[kstart[k + 1] : kstart[k + 1] + b] != out_[now][:b]
        sel = np.flatnonzero(last)
        if sel.size:
            output = out_[now][sel]
            state = np.empty((m, sel.size))
            for ep, sol in enumerate(solutions):  # over epochs: each record's own
                on = np.flatnonzero(e_[now][sel] == ep) if len(solutions) > 1 else slice(None)
                tau = times_h[output[on]] - t[now][sel[on]]
                phi = sol.transition_at(sel[on], tau)
                state[:, on] = sum_of_products((phi[:, j], x[j, sel[on]]) for j in range(m))
            found.append((rank[sel], output, state))
    subject_of = np.concatenate([f[0] for f in found]) if found else np.zeros(0, dtype=np.int64)
    output = np.concatenate([f[1] for f in found]) if found else np.zeros(0, dtype=np.int64)
    state = np.concatenate([f[2] for f in found], axis=1) if found else np.zeros((m, 0))
    order = _by_output(output, n_times)
    return subject_of[order], output[order], state[:, order]


def _with_epoch_starts(inputs: SubjectInputs, starts: np.ndarray):
    """Each subject's inputs with an empty event at every epoch start (the rates change there).

    Returns times, amounts, compartments, ss, ii, since (n_records,) and offsets (n_subjects + 1,).
    """
    fields = (inputs.times_h, inputs.amounts_mg, inputs.compartment, inputs.ss, inputs.ii_h, inputs.since_h)
    if starts.size == 0:
        return fields + (inputs.offsets,)
    n = inputs.n_subjects
    subject = np.r_[inputs.subject, np.repeat(np.arange(n), starts.size)]
    extra = n * starts.size
    times = np.r_[inputs.times_h, np.tile(starts, n)]
    order, offsets = by_subject(n, subject, times)
    joined = (
        times,
        np.r_[inputs.amounts_mg, np.zeros(extra)],
        np.r_[inputs.compartment, np.zeros(extra, dtype=np.int64)],
        np.r_[inputs.ss, np.zeros(extra, dtype=np.int64)],
        np.r_[inputs.ii_h, np.zeros(extra)],
        np.r_[inputs.since_h, np.zeros(extra)],
    )
    return tuple(f[order] for f in joined) + (offsets,)


def _steady_states(solutions: list["Solution"], epoch, subjects, ii, since, amount, into, ss, x):
    """The state set by steady-state doses of some subjects (each its own interval, phase, epoch).

    subjects : positions among the solutions' subjects; the rest shape (n_steady,); x, shape
    (m, n_steady), the state before. Returns shape (m, n_steady).
    """
    m = x.shape[0]
    sub = [_Rows(s, subjects) for s in solutions]
    phi_ii = _transition_each(sub, epoch[None, :], ii[None, :])[:, :, 0]
    at = steady_state(phi_ii, amount, into)
    phi = _transition_each(sub, epoch[None, :], since[None, :])[:, :, 0]  # Phi(0) = I
    at = sum_of_products((phi[:, j], at[j]) for j in range(m))
    return np.where(ss == 2, at + x, at)


class _Rows:
    """Some subjects of a Solution (transitions only)."""

    def __init__(self, sol: "Solution", subjects: np.ndarray):
        self._sol, self._subjects, self.m = sol, subjects, sol.m

    def transition(self, dt: np.ndarray) -> np.ndarray:
        full = np.zeros(dt.shape[:-1] + (self._sol.inv_volume.size,))
        full[..., self._subjects] = dt
        return self._sol.transition(full)[..., self._subjects]


def _transition_each(solutions: Sequence[Solution | _Rows], epoch: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Phi for per-subject steps dt, shape (n_dt, N), each in its own epoch (same shape)."""
    if len(solutions) == 1:
        return solutions[0].transition(dt)
    phi = np.zeros((solutions[0].m, solutions[0].m) + dt.shape)
    for e, sol in enumerate(solutions):
        if np.any(epoch == e):
            phi = np.where(epoch == e, sol.transition(dt), phi)
    return phi


register_engine(AnalyticEngine())
