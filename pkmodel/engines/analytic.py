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
written out in a fixed order (`_sum_of_products`) rather than left to einsum
or tensordot, whose order of summation may follow the array layout, and the
matrix exponential scales each matrix by its own power of two.
"""

import math
from typing import Mapping

import numpy as np

from ..dosing import Doses
from ..structures import Structure
from .common import Epochs, Inputs, as_epochs, dose_input, segments, shared_timeline, steady_state

OPTIONS: dict = {}


def simulate(structure: Structure, params: Mapping[str, np.ndarray] | Epochs, doses: Doses,
             times_h: np.ndarray) -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L."""
    epochs = as_epochs(params)
    inputs = dose_input(structure, epochs, doses)
    solutions = [solution(structure, p, inputs.infusion_into) for p in epochs.params]
    if not inputs.shared:
        if inputs.ss.any():
            raise NotImplementedError("steady-state doses (SS) with dose times that differ between "
                                      "children (jitter, a lag with variability) are not supported")
        return per_subject(solutions, epochs, inputs, times_h)
    return propagate(solutions, shared_timeline(epochs, inputs), times_h)


def amounts(structure: Structure, params: Mapping[str, np.ndarray], doses: Doses,
            times_h: np.ndarray) -> np.ndarray:
    """Amount in every compartment and eliminated so far, exact.

    Returns ndarray, shape (n_subjects, m + 1, n_times), mg: the compartments
    of `structure` in order, then the amount eliminated (their sum is the
    dose given before each time, after bioavailability).
    """
    epochs = as_epochs(params)
    rates = structure.rate_matrix(epochs.params[0], eliminated=True)
    inputs = dose_input(structure, epochs, doses)
    if inputs.infusion_into is not None or not inputs.shared:
        raise NotImplementedError("amounts() takes bolus doses at times shared by every subject")
    timeline = shared_timeline(epochs, inputs)
    return np.stack([
        propagate([MatrixExponential(structure, epochs.params[0], rates=rates, observe=c)],
                  timeline, times_h) for c in range(rates.shape[1])], axis=1)


def solution(structure: Structure, params: Mapping[str, np.ndarray],
             infusion_into: int | None = None) -> "Solution":
    """The exact solution of one epoch: closed form where coded, else matrix exponential.

    infusion_into : with zero-order inputs, the compartment they flow into
    (the system gains a compartment holding the current rate).
    """
    if infusion_into is not None:
        return MatrixExponential(structure, params,
                                 rates=structure.rate_matrix(params, infusion_into=infusion_into))
    if structure.name == "one_compartment_oral" and structure.absorption == "first_order":
        return OneCompartmentOral(structure, params)
    return MatrixExponential(structure, params)


class Solution:
    """Exact transitions of one linear system for a cohort, cached by time step.

    Subclasses give `transition(dt)`: dt, shape (n_dt,) or (n_dt, n_subjects),
    h -> Phi, shape (m, m, n_dt, n_subjects); and `_central_rows(tau)`:
    tau, shape (n_tau,) -> Phi(tau)[central, :], shape (m, n_tau, n_subjects) (if
    faster than taking it from `transition`).
    """

    def __init__(self, structure: Structure, params: Mapping[str, np.ndarray]):
        self.m = len(structure.compartments)
        self.central = structure.central_index   # the compartment read out
        self.dose = structure.dose_index
        self.inv_volume = 1.0 / params[structure.volume]
        self._steps: dict[float, np.ndarray] = {}
        self._rows: dict[bytes, np.ndarray] = {}

    def transition(self, dt: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def step(self, dt: float) -> np.ndarray:
        """Phi(dt) for every subject, shape (m, m, n_subjects); cached by dt."""
        if dt not in self._steps:
            self._steps[dt] = self.transition(np.array([dt]))[:, :, 0, :]
        return self._steps[dt]

    def readout(self, tau: np.ndarray) -> np.ndarray:
        """Concentration per unit amount in each compartment, tau after an event.

        tau : ndarray, shape (n_tau,), increasing, > 0
        Returns Phi(tau)[central, :] / V, shape (n_subjects, m, n_tau), 1/L,
        C-contiguous (one (m, n_tau) matrix per subject).
        """
        key = tau.tobytes()
        if key not in self._rows:
            rows = self._central_rows(tau).transpose(2, 0, 1)  # computed time-major: long inner loops
            self._rows[key] = np.multiply(rows, self.inv_volume[:, None, None],
                                          out=np.empty(rows.shape))
        return self._rows[key]

    def _central_rows(self, tau: np.ndarray) -> np.ndarray:
        """Phi(tau)[central, :], shape (m, n_tau, n_subjects).

        Walked along the offsets, e_c' Phi(tau_u) = e_c' Phi(tau_{u-1}) Phi(tau_u - tau_{u-1}):
        one transition per distinct step (a regular grid has one) instead of one per offset.
        """
        rows = np.empty((self.m, tau.size, self.inv_volume.size))
        rows[:, 0] = self.step(tau[0])[self.central]
        for u in range(1, tau.size):
            step = self.step(tau[u] - tau[u - 1])
            _sum_of_products(((rows[j, u - 1], step[j]) for j in range(self.m)), out=rows[:, u])
        return rows


class OneCompartmentOral(Solution):
    """Closed form for depot -> central -> out (compartments depot, central).

    Phi = [[e^{-ka t}, 0], [h(t), e^{-k t}]] with
    h(t) = ka e^{-min(ka,k) t} (1 - e^{-|ka-k| t}) / |ka-k|, the textbook
    ka/(ka-k) (e^{-kt} - e^{-ka t}) written with expm1 so that nothing
    cancels when ka is close to k, and h(t) = ka t e^{-kt}, its limit, when
    ka == k (no 0/0).
    """

    def __init__(self, structure: Structure, params: Mapping[str, np.ndarray]):
        super().__init__(structure, params)
        self.ka = params["ka"]
        self.k = params["CL"] / params["V"]
        self.gap = np.abs(self.ka - self.k)
        self.distinct = self.gap > 0
        self.coef = self.ka / np.where(self.distinct, self.gap, 1.0)
        self.ka_slower = self.ka < self.k

    def transition(self, dt: np.ndarray) -> np.ndarray:
        t = dt if dt.ndim == 2 else dt[:, None]
        shape = np.broadcast_shapes(t.shape, self.ka.shape)
        phi = np.empty((2, 2) + shape)
        np.exp(-self.ka * t, out=phi[0, 0])
        phi[0, 1] = 0.0
        np.exp(-self.k * t, out=phi[1, 1])
        h = np.expm1(-self.gap * t)
        h *= -self.coef                                    # ka (1 - e^{-gap t}) / gap
        if not self.distinct.all():
            limit = self.ka * t                            # ka t, where ka == k
            h[:, ~self.distinct] = np.broadcast_to(limit, shape)[:, ~self.distinct]
        h *= np.where(self.ka_slower, phi[0, 0], phi[1, 1])
        phi[1, 0] = h
        return phi


class MatrixExponential(Solution):
    """Phi = exp(K dt) for any linear structure (batched scaling and squaring)."""

    def __init__(self, structure: Structure, params: Mapping[str, np.ndarray],
                 rates: np.ndarray | None = None, observe: int | None = None):
        """rates, shape (N, m, m), and observe (a compartment, read as an amount
        in mg) replace the structure's K and concentration read-out when given."""
        super().__init__(structure, params)
        rates = structure.rate_matrix(params) if rates is None else rates
        self.rates = rates.transpose(1, 2, 0)   # (m, m, N)
        self.m = rates.shape[1]
        if observe is not None:
            self.central, self.inv_volume = observe, np.ones(rates.shape[0])

    def transition(self, dt: np.ndarray) -> np.ndarray:
        t = dt if dt.ndim == 2 else dt[:, None]      # (n_dt, N) or (n_dt, 1)
        return expm(self.rates[:, :, None, :] * t)   # (m, m, n_dt, N)

    def step(self, dt: float) -> np.ndarray:
        # steps that differ in the 13th digit (float grids: np.arange, linspace)
        # share one exponential; tau itself is only known to that precision
        dt = float(f"{dt:.12g}")
        if dt not in self._steps:
            # Phi(2^j d) is Phi(d) squared j times: reuse a cached shorter step
            for known in list(self._steps):
                # skip a zero step (two outputs that round to one offset) and ratios too large
                # to be a power of two worth squaring to (or to hold in a float)
                ratio = dt / known if known > 0 else math.inf
                if 1 < ratio < 2.0 ** 64 and ratio == 2.0 ** round(math.log2(ratio)):
                    phi = self._steps[known]
                    for _ in range(round(math.log2(ratio))):
                        phi = _matmul(phi, phi)
                    self._steps[dt] = phi
                    break
        return super().step(dt)


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
    rows = [solutions[timeline.epoch[e]].readout(times_h[j0:j1] - event_times[e])
            for e, j0, j1 in runs]
    given = np.ascontiguousarray(amounts.T)                    # (n_events, n_subjects)
    states = np.zeros((event_times.size, first.m, n_subjects))  # just after each event
    for e, t in enumerate(event_times):  # over events, vectorised over subjects
        x = states[e]
        if e and t > event_times[e - 1]:
            phi = solutions[timeline.epoch[e - 1]].step(t - event_times[e - 1])
            _sum_of_products(((phi[:, j], states[e - 1, j]) for j in range(first.m)), out=x)
        elif e:
            x[...] = states[e - 1]                            # events at the same time
        if timeline.ss[e]:
            at_steady_state = steady_state(solutions[timeline.epoch[e]].step(timeline.ii_h[e]),
                                           given[e], timeline.compartment[e])
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
        np.matmul(by_subject[:, e:e + k], w, out=out[:, j0:j0 + k * n_tau].reshape(n_subjects, k, n_tau))
    # zero before the first dose, after the products: they first touch the fresh pages, each
    # subject's row once, rather than a pass of its own
    out[:, :runs[0][1] if runs else times_h.size] = 0.0
    return out


def _batches(runs: list[tuple[int, int, int]], rows: list[np.ndarray]) -> list[tuple]:
    """Consecutive runs of outputs read through the same rows (a regular grid after regular doses).

    Returns (first event, number of events k, first output j0, rows) for each batch.
    """
    batches = []
    for (e, j0, _), w in zip(runs, rows):
        if batches and batches[-1][3] is w and sum(batches[-1][:2]) == e:
            first_event, k, start, _ = batches[-1]
            batches[-1] = (first_event, k + 1, start, w)
        else:
            batches.append((e, 1, j0, w))
    return batches


def per_subject(solutions: list[Solution], epochs: Epochs, inputs: Inputs,
                times_h: np.ndarray) -> np.ndarray:
    """The same exact solution when each subject has its own input times.

    inputs.times_h and amounts_mg have shape (n_subjects, n_inputs). Slower
    than `propagate`: offsets no longer repeat across subjects, so every
    output takes its own Phi(tau). Returns shape (n_subjects, n_times), mg/L.
    """
    amounts = inputs.amounts_mg
    n = amounts.shape[0]
    starts = np.broadcast_to(epochs.start_h[1:], (n, epochs.start_h.size - 1))
    times = np.concatenate([np.broadcast_to(inputs.times_h, amounts.shape), starts], axis=1)
    given = np.concatenate([amounts, np.zeros(starts.shape)], axis=1)
    into = np.concatenate([inputs.compartment, np.zeros(starts.shape[1], dtype=np.int64)])
    order = np.argsort(times, axis=1, kind="stable")
    times = np.take_along_axis(times, order, axis=1)        # (N, K): each subject's events
    given = np.take_along_axis(given, order, axis=1)
    into = into[order]
    epoch = epochs.at(times)                                 # (N, K)
    first, subject = solutions[0], np.arange(n)

    states = np.empty((times.shape[1], first.m, n))           # just after each event
    x = np.zeros((first.m, n))
    for k in range(times.shape[1]):  # over each subject's k-th event, vectorised
        if k:
            phi = _transition_each(solutions, epoch[None, :, k - 1],
                                   (times[:, k] - times[:, k - 1])[None, :])
            x = _sum_of_products((phi[:, j, 0], x[j]) for j in range(first.m))
        x[into[:, k], subject] += given[:, k]
        states[k] = x

    last = np.full((n, times_h.size), -1, dtype=np.int64)   # last event strictly before
    for k in range(times.shape[1]):
        last += times[:, k, None] < times_h[None, :]
    out = np.zeros((times_h.size, n))
    width = max(1, 250_000 // (n * first.m))                 # outputs per batch: bounded memory
    for j0 in range(0, times_h.size, width):
        k = last[:, j0:j0 + width].T                          # (J, N)
        known = k >= 0
        k = np.where(known, k, 0)
        tau = np.where(known, times_h[j0:j0 + width, None] - times[subject, k], 0.0)
        phi = _transition_each(solutions, epoch[subject, k], tau)    # (m, m, J, N)
        x_at = states[k, :, subject]                          # (J, N, m)
        inv_volume = np.stack([s.inv_volume for s in solutions])[epoch[subject, k], subject]
        conc = _sum_of_products((phi[first.central, c], x_at[:, :, c]) for c in range(first.m))
        conc *= inv_volume
        out[j0:j0 + width] = np.where(known, conc, 0.0)
    return out.T


def _transition_each(solutions: list[Solution], epoch: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Phi for per-subject steps dt, shape (n_dt, N), each in its own epoch (same shape)."""
    if len(solutions) == 1:
        return solutions[0].transition(dt)
    phi = np.zeros((solutions[0].m, solutions[0].m) + dt.shape)
    for e, sol in enumerate(solutions):
        if np.any(epoch == e):
            phi = np.where(epoch == e, sol.transition(dt), phi)
    return phi


_TAYLOR_BLOCKS = np.array([[1.0 / math.factorial(4 * k + i) if 4 * k + i <= 18 else 0.0
                            for i in range(4)] for k in range(5)])


def _sum_of_products(pairs, out: np.ndarray | None = None) -> np.ndarray:
    """Sum of x * y over the (x, y) pairs, added in the order given (broadcasting).

    Written out so that each element's rounding is the same whatever the
    shape of the batch around it (einsum's and BLAS's are not).
    """
    pairs = iter(pairs)
    out = np.multiply(*next(pairs), out=out)
    term = None                                 # one buffer for every further term
    for x, y in pairs:
        term = np.multiply(x, y, out=term)
        out += term
    return out


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Products of stacked matrices held along the first two axes, (m, m, ...)."""
    return _sum_of_products((a[:, j, None], b[None, j]) for j in range(a.shape[1]))


def expm(a: np.ndarray) -> np.ndarray:
    """Matrix exponential of stacked matrices held along the first two axes, (m, m, ...).

    Scaling and squaring: exp(A) = T18(A / 2^s)^(2^s), with T18 the degree-18
    Taylor polynomial evaluated by Paterson-Stockmeyer (6 matrix products) and
    s chosen for each matrix so that ||A / 2^s||_1 <= 1, where the truncation
    error is below 1/19! ~ 8e-18. Each matrix gets its own s, so a subject's
    exponential does not depend on the others it is batched with (the same
    numbers whatever the chunking).
    """
    m = a.shape[0]
    norm = np.abs(a).sum(axis=0).max(axis=0) if a.size else np.zeros(a.shape[2:])
    s = np.ceil(np.log2(np.maximum(norm, 1.0))).astype(int)  # 0 where the norm is <= 1
    powers = np.empty((4,) + a.shape)
    powers[0] = np.eye(m).reshape((m, m) + (1,) * (a.ndim - 2))
    np.multiply(a, np.ldexp(1.0, -s), out=powers[1])         # exact: a power of two
    powers[2] = _matmul(powers[1], powers[1])
    powers[3] = _matmul(powers[2], powers[1])
    x4 = _matmul(powers[2], powers[2])
    # blocks[k] = sum_i x^i / (4k + i)!, i = 0..3: the Taylor terms of degree 4k..4k+3
    blocks = [_sum_of_products(zip(coefficients, powers)) for coefficients in _TAYLOR_BLOCKS]
    result = blocks[4]
    for k in (3, 2, 1, 0):
        result = blocks[k] + _matmul(x4, result)
    for j in range(int(s.max(initial=0))):
        result = np.where(s > j, _matmul(result, result), result)
    return result
