"""The analytic engine's path for children at their own input times (jitter, missed doses
given as event tables, NONMEM data sets): the same exact solution as `analytic.propagate`.

Each child's inputs are its own (`SubjectInputs`: stored flat, never children x everyone's
times). The outputs are marched: the state at output j is Phi(t_j - t_{j-1}) times the state
at output j - 1, one transition per distinct output step shared by the children; a child's
own inputs since the output before enter through their own transitions, one per input (by
superposition where the rates are one set and no steady-state dose resets the state; else
from the state stepped from input to input). No transition is taken per output and child,
and every product is element by element over children, summed in a fixed order, so a
child's numbers do not depend on who else is in its chunk.
"""

from typing import Sequence

import numpy as np

from ..model.structures import Structure
from .common import Epochs, SubjectInputs
from .linalg import steady_state, sum_of_products
from ..dosing.doses import by_subject
from .solutions import Solution, solution

STEP_CACHE_BYTES = 2**27  # transitions between outputs kept while marching over them
PAIRS_PER_BATCH = 2**16  # records whose transitions are computed at once


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
