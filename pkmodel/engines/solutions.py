"""Exact solutions of one linear system for a cohort: Phi(dt) = exp(K dt), cached by time step.

A closed form where one is coded (one compartment, first-order absorption) and otherwise a
batched matrix exponential (scaling and squaring, `linalg.expm`), exact for the defective
matrices of transit chains too. Subjects run along the last axis (module docstring of
`pkmodel.engines.analytic`); each matrix is scaled by its own power of two, so a subject's
numbers do not depend on the others computed with it.
"""

import math
from typing import Mapping

import numpy as np

from .._arrays import unique_rows
from ..model.structures import Structure
from .linalg import expm, matmul, reachable, sum_of_products


def solution(
    structure: Structure, params: Mapping[str, np.ndarray], infusion_into: int | None = None
) -> "Solution":
    """The exact solution of one epoch: closed form where coded, else matrix exponential.

    infusion_into : with zero-order inputs, the compartment they flow into
    (the system gains a compartment holding the current rate).
    """
    if infusion_into is not None:
        return MatrixExponential(
            structure, params, rates=structure.rate_matrix(params, infusion_into=infusion_into)
        )
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
        self.central = structure.central_index  # the compartment read out
        self.dose = structure.dose_index
        self.inv_volume = structure.inv_volume(params)
        self._steps: dict[float, np.ndarray] = {}
        self._rows: dict[bytes, np.ndarray] = {}

    def transition(self, dt: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def transition_at(self, subjects: np.ndarray, dt: np.ndarray) -> np.ndarray:
        """Phi of given subjects over their own steps: subjects (positions) and dt (h), shape
        (n_pairs,) each -> shape (m, m, n_pairs). Element by element: each pair's numbers are
        those `transition` gives that subject for that step."""
        raise NotImplementedError

    def first(self, n: int) -> "Solution":
        """The same solution for the first n subjects only (views, no copies)."""
        raise NotImplementedError

    def dose_column(self, c: int, tau: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """scale x Phi(tau)[:, c] for every subject: what a unit input into compartment c adds
        tau later. tau, scale : shape (n_subjects,). Returns shape (m, n_subjects)."""
        return self.transition(tau[None, :])[:, c, 0] * scale

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
            self._rows[key] = np.multiply(rows, self.inv_volume[:, None, None], out=np.empty(rows.shape))
        return self._rows[key]

    def _central_rows(self, tau: np.ndarray) -> np.ndarray:
        """Phi(tau)[central, :], shape (m, n_tau, n_subjects).

        Walked along the offsets, e_c' Phi(tau_u) = e_c' Phi(tau_{u-1}) Phi(tau_u - tau_{u-1}):
        one transition per distinct step (a regular grid has one) instead of one per offset.
        """
        rows = np.empty((self.m, tau.size, self.inv_volume.size))
        rows[:, 0] = self.step(tau[0])[self.central]
        pattern = self.nonzero()
        for u in range(1, tau.size):
            step = self.step(tau[u] - tau[u - 1])
            if pattern is None:
                sum_of_products(((rows[j, u - 1], step[j]) for j in range(self.m)), out=rows[:, u])
                continue
            for k in range(self.m):  # terms where Phi[j, k] is 0 for every subject skipped: same bits
                js = np.flatnonzero(pattern[:, k])
                sum_of_products(((rows[j, u - 1], step[j, k]) for j in js), out=rows[k, u])
        return rows

    def nonzero(self) -> np.ndarray | None:
        """Where Phi may be non-zero, bool (m, m), if known (None: anywhere)."""
        return None


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
        self._args = (structure, params)
        self.ka = params["ka"]
        self.k = params["CL"] / params["V"]
        self.gap = np.abs(self.ka - self.k)
        self.distinct = self.gap > 0
        self.coef = self.ka / np.where(self.distinct, self.gap, 1.0)
        self.ka_slower = self.ka < self.k

    def transition(self, dt: np.ndarray) -> np.ndarray:
        t = dt if dt.ndim == 2 else dt[:, None]
        return self._phi(t, self.ka, self.k, self.gap, self.coef, self.distinct, self.ka_slower)

    def transition_at(self, subjects: np.ndarray, dt: np.ndarray) -> np.ndarray:
        return self._phi(
            dt,
            *(a[subjects] for a in (self.ka, self.k, self.gap, self.coef, self.distinct, self.ka_slower)),
        )

    def dose_column(self, c: int, tau: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """As `Solution.dose_column`, the entries of `_phi` computed for column c only."""
        column = np.empty((2, tau.size))
        if c == 1:  # into central: stays there
            column[0] = 0.0
            np.multiply(-self.k, tau, out=column[1])
            np.exp(column[1], out=column[1])
            column[1] *= scale
            return column
        e_a, h = column
        np.multiply(-self.ka, tau, out=e_a)
        np.exp(e_a, out=e_a)
        e_k = np.exp(-self.k * tau)
        np.multiply(-self.gap, tau, out=h)
        np.expm1(h, out=h)
        h *= -self.coef
        if not self.distinct.all():
            h[~self.distinct] = (self.ka * tau)[~self.distinct]
        h *= np.where(self.ka_slower, e_a, e_k)
        e_a *= scale
        h *= scale
        return column

    @staticmethod
    def _phi(t, ka, k, gap, coef, distinct, ka_slower) -> np.ndarray:
        """Phi(t), shape (2, 2) + t's shape broadcast with the parameters' (subjects last)."""
        shape = np.broadcast_shapes(t.shape, ka.shape)
        phi = np.empty((2, 2) + shape)
        np.exp(-ka * t, out=phi[0, 0])
        phi[0, 1] = 0.0
        np.exp(-k * t, out=phi[1, 1])
        h = np.expm1(-gap * t)
        h *= -coef  # ka (1 - e^{-gap t}) / gap
        if not distinct.all():
            limit = np.broadcast_to(ka * t, shape)  # ka t, where ka == k
            h[..., ~distinct] = limit[..., ~distinct]
        h *= np.where(ka_slower, phi[0, 0], phi[1, 1])
        phi[1, 0] = h
        return phi

    def first(self, n: int) -> "OneCompartmentOral":
        structure, params = self._args
        return OneCompartmentOral(structure, {k: v[:n] for k, v in params.items()})


class MatrixExponential(Solution):
    """Phi = exp(K dt) for any linear structure (batched scaling and squaring)."""

    def __init__(
        self,
        structure: Structure,
        params: Mapping[str, np.ndarray],
        rates: np.ndarray | None = None,
        observe: int | None = None,
    ):
        """rates, shape (N, m, m), and observe (a compartment, read as an amount
        in mg) replace the structure's K and concentration read-out when given."""
        super().__init__(structure, params)
        rates = structure.rate_matrix(params) if rates is None else rates
        self._args = (structure, params, rates, observe)
        self.rates = rates.transpose(1, 2, 0)  # (m, m, N)
        self._pattern: np.ndarray | None = None  # where Phi may be non-zero (`linalg.reachable`)
        self._distinct = _distinct_rates(rates)
        self.m = rates.shape[1]
        if observe is not None:
            self.central, self.inv_volume = observe, np.ones(rates.shape[0])

    def first(self, n: int) -> "MatrixExponential":
        structure, params, rates, observe = self._args
        return MatrixExponential(
            structure, {k: v[:n] for k, v in params.items()}, rates=rates[:n], observe=observe
        )

    def transition(self, dt: np.ndarray) -> np.ndarray:
        t = dt if dt.ndim == 2 else dt[:, None]  # (n_dt, N) or (n_dt, 1)
        if t.shape[1] == 1 and self._distinct is not None:  # steps shared by the subjects
            first, which = self._distinct
            return expm(self.rates[:, :, None, first] * t)[..., which]
        return expm(self.rates[:, :, None, :] * t)  # (m, m, n_dt, N)

    def transition_at(self, subjects: np.ndarray, dt: np.ndarray) -> np.ndarray:
        return expm(self.rates[:, :, subjects] * dt)

    def nonzero(self) -> np.ndarray:
        if self._pattern is None:
            self._pattern = reachable(self.rates)
        return self._pattern

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
                if 1 < ratio < 2.0**64 and ratio == 2.0 ** round(math.log2(ratio)):
                    phi = self._steps[known]
                    for _ in range(round(math.log2(ratio))):
                        phi = matmul(phi, phi, self.nonzero())
                    self._steps[dt] = phi
                    break
        return super().step(dt)


def _distinct_rates(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Subjects whose rate matrices are equal (the typical child, covariate strata) share one
    exponential: (a subject of each distinct matrix, each subject's among them), or None
    when at least half the matrices differ (nothing worth sharing).

    rates : shape (N, m, m). An exponential is computed matrix by matrix, so a subject's
    numbers are those it has alone either way.
    """
    flat = rates.reshape(rates.shape[0], -1)
    if flat.shape[0] < 2 or np.unique(flat[:, np.argmax(np.ptp(flat, axis=0))]).size > flat.shape[0] // 2:
        return None  # one entry already tells most subjects apart
    distinct, which = unique_rows(flat)
    if distinct.shape[0] > flat.shape[0] // 2:
        return None
    first = np.zeros(distinct.shape[0], dtype=np.int64)
    first[which[::-1]] = np.arange(flat.shape[0])[::-1]  # the first subject of each
    return first, which
