"""Exact exposure of a linear model over per-subject windows: AUC, Cmax/Tmax, Cmin/Tmin, trough.

The state is carried from input to input (doses after F and lag, infusion
starts and stops) with the analytic engine's exact transitions
(`solutions.solution`: closed form, or matrix exponential). Inside a window,
each stretch between the subject's own inputs is walked in `SCAN` equal
steps of the system augmented with the area, dA/dt = C, whose exact
transition (`linalg.expm`) gives the AUC of the stretch exactly and C at
the scan points. Where the largest (smallest) C found has dC/dt =
(K x)_central / V changing sign beside it, Newton's method on the exact
solution, kept inside that bracket by bisection, finds the peak (trough) to
rounding. The window's own ends count as points: at a dose time the value
reported is the pre-dose one (as an output time), and just after it the
post-dose one.

Loops run over inputs, stretches and iterations, each vectorised over
subjects. A subject's numbers do not depend on the others computed with it
(products summed in a fixed order; each matrix exponential scaled on its
own), so chunking never changes them.
"""

from typing import Literal, Mapping

import numpy as np

from ..dosing.doses import Doses, SubjectDoses
from ..model.structures import Structure
from .solutions import solution
from .common import Epochs, Inputs, SubjectInputs, dose_input
from .linalg import expm, matmul, steady_state, sum_of_products

SCAN = 16  # equal scan steps per stretch between inputs
# where in a stretch C is read, as fractions of its length: SCAN equal steps, and halving steps
# down to 2^-24 towards its start (a fast absorber's peak can come long before the first equal
# step; absorption through transits starts with dC/dt = 0, so the start itself brackets nothing)
FRACTIONS = np.unique(np.r_[np.arange(SCAN + 1) / SCAN, 2.0 ** -np.arange(5, 25)])
_UNIFORM = np.searchsorted(FRACTIONS, np.arange(SCAN + 1) / SCAN)
_GEOMETRIC = np.searchsorted(FRACTIONS, 2.0 ** -np.arange(24, 4, -1))
_ITERATIONS = 80  # bisection alone would shrink a bracket by 2^-80


def unsupported(
    structure: Structure, params: Mapping[str, np.ndarray], doses: Doses | SubjectDoses
) -> str | None:
    """Why exact exposure cannot be computed for these doses, or None."""
    steady = doses.ss > 0
    if steady.any():
        lagged = (doses.compartment[steady] == structure.dose_index).any() and np.any(
            structure.dose_modifiers(params)[1] != 0
        )
        if lagged or isinstance(doses, SubjectDoses) or doses.offset_h is not None:
            return (
                "steady-state doses (SS) with a lag time, timing jitter or dose times that "
                "differ between subjects"
            )
    return None


def window_exposure(
    structure: Structure,
    params: Mapping[str, np.ndarray],
    doses: Doses,
    start_h: np.ndarray,
    end_h: np.ndarray,
    trough_h: np.ndarray,
) -> dict:
    """AUC, Cmax, Tmax, Cmin, Tmin and the trough of every subject over its windows, exact.

    Parameters
    ----------
    params : dict of ndarray, shape (n_subjects,)
        One set of parameters per subject (L/h, L, 1/h, h, F).
    start_h, end_h, trough_h : ndarray, shape (n_subjects, n_windows)
        Windows (end > start) and the time of the pre-dose trough in each, h;
        NaN where a subject has no such window (or trough).

    Returns
    -------
    dict of ndarray, shape (n_subjects, n_windows): auc (mg*h/L), cmax, cmin,
    trough (mg/L), tmax, tmin (h); NaN where the window is NaN.
    """
    path = _Path(structure, params, doses)
    out = {name: np.full(start_h.shape, np.nan) for name in ("auc", "cmax", "tmax", "cmin", "tmin", "trough")}
    for w in range(start_h.shape[1]):  # over windows, vectorised over subjects
        known = ~np.isnan(start_h[:, w])
        a = np.where(known, start_h[:, w], 0.0)
        b = np.where(known, end_h[:, w], 1.0)
        for name, value in path.window(a, b).items():
            out[name][:, w] = np.where(known, value, np.nan)
        has_trough = known & ~np.isnan(trough_h[:, w])
        at = np.where(has_trough, trough_h[:, w], 0.0)
        out["trough"][:, w] = np.where(has_trough, path.conc(path.state(at, after=False)), np.nan)
    return out


class _Path:
    """Each subject's inputs in time order, the state just after each, and read-outs between."""

    def __init__(self, structure: Structure, params: Mapping[str, np.ndarray], doses: Doses):
        inputs = dose_input(structure, Epochs.constant(params), doses)
        self.solution = solution(structure, params, inputs.infusion_into)
        self.rates = structure.rate_matrix(params, infusion_into=inputs.infusion_into)  # (n, m, m)
        self.m, self.c = self.rates.shape[1], structure.central_index
        self.inv_volume = structure.inv_volume(params)
        n = self.inv_volume.size
        self.rows = np.arange(n)
        times, amounts = inputs.times_h, inputs.amounts_mg
        ss: np.ndarray | None
        ii: np.ndarray | None
        if isinstance(inputs, Inputs):
            order = np.argsort(times, kind="stable")
            self.times, into = times[order], np.broadcast_to(inputs.compartment[order], amounts.shape)
            ss, ii = inputs.ss[order], inputs.ii_h[order]
            self.amounts = amounts[:, order]
        else:
            if inputs.ss.any():
                raise NotImplementedError(
                    "exact exposure: steady-state doses (SS) at times that "
                    "differ between subjects are not supported"
                )
            self.times, self.amounts, into = _padded(inputs)
            ss = ii = None
        self.states = np.empty((self.amounts.shape[1], self.m, n))  # just after each input
        x = np.zeros((self.m, n))
        for e in range(self.amounts.shape[1]):  # over inputs, in record order, vectorised
            if e:
                x = self._advance(x, self.times[..., e] - self.times[..., e - 1])
            given = self.amounts[:, e]
            if ss is not None and ii is not None and ss[e]:
                at_steady_state = steady_state(self.solution.step(float(ii[e])), given, into[0, e])
                if ss[e] == 2:
                    at_steady_state += x
                np.copyto(x, at_steady_state, where=given > 0)
            else:
                x[into[:, e], self.rows] += given
            self.states[e] = x
        # the augmented system: states, then the area (dA/dt = C)
        self.augmented = np.zeros((self.m + 1, self.m + 1, n))
        self.columns = self.rates.transpose(1, 2, 0)  # K as (m, m, n)
        self.augmented[: self.m, : self.m] = self.columns
        self.augmented[self.m, self.c] = self.inv_volume

    def _advance(self, x: np.ndarray, dt) -> np.ndarray:
        """The state dt later, dt a number (shared) or shape (n,)."""
        if np.ndim(dt) == 0:
            if dt == 0:
                return x
            phi = self.solution.step(float(dt))
        else:
            phi = self.solution.transition(dt[None, :])[:, :, 0, :]
        return _apply(phi, x)

    def state(self, t: np.ndarray, after: bool) -> np.ndarray:
        """State at t (shape (n,)), shape (m, n): after the inputs at t, or before them."""
        side: Literal["left", "right"] = "right" if after else "left"
        if self.times.ndim == 1:
            k = np.searchsorted(self.times, t, side=side) - 1
            t_k = self.times[np.maximum(k, 0)] if self.times.size else np.zeros_like(t)
        else:
            k = np.sum(self.times <= t[:, None] if after else self.times < t[:, None], axis=1) - 1
            t_k = self.times[self.rows, np.maximum(k, 0)] if self.times.size else np.zeros_like(t)
        known = k >= 0
        if not known.any():
            return np.zeros((self.m, t.size))
        x_k = self.states[np.maximum(k, 0), :, self.rows].T
        x = self._advance(x_k, np.where(known, t - t_k, 0.0))
        return np.where(known, x, 0.0)

    def conc(self, x: np.ndarray) -> np.ndarray:
        return x[self.c] * self.inv_volume

    def _slope(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dC/dt and d2C/dt2 at state x, shape (n,) each (mg/L/h, mg/L/h^2)."""
        kx = _apply(self.columns, x)
        return (
            kx[self.c] * self.inv_volume,
            _apply(self.columns[self.c : self.c + 1], kx)[0] * self.inv_volume,
        )

    def _stretches(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Bounds of the stretches of [a, b] between each subject's own inputs, shape (n, k + 2):
        a, the distinct times of its non-zero inputs inside (a, b), then b (repeated: padding)."""
        t = np.broadcast_to(self.times, self.amounts.shape)
        inside = (self.amounts != 0) & (t > a[:, None]) & (t < b[:, None])
        repeat = np.zeros_like(inside)
        repeat[:, 1:] = inside[:, 1:] & inside[:, :-1] & (t[:, 1:] == t[:, :-1])
        inside &= ~repeat
        width = int(inside.sum(axis=1).max(initial=0))
        bounds = np.repeat(b[:, None], width + 2, axis=1)
        bounds[:, 0] = a
        rows, columns = np.nonzero(inside)
        bounds[rows, 1 + (np.cumsum(inside, axis=1) - 1)[rows, columns]] = t[rows, columns]
        return bounds

    def window(self, a: np.ndarray, b: np.ndarray) -> dict:
        """auc, cmax, tmax, cmin, tmin over [a, b] (shape (n,) each), exact (module docstring)."""
        bounds = self._stretches(a, b)
        n, k = a.size, bounds.shape[1] - 1
        starts = [self.state(bounds[:, j], after=True) for j in range(k)]
        lengths = np.diff(bounds, axis=1)  # (n, k), 0: padding
        width = FRACTIONS.size
        scan = np.full((n, 1 + k * width), np.nan)
        scan[:, 0] = self.conc(self.state(a, after=False))  # the value reported at a
        auc = np.zeros(n)
        for j in range(k):  # over stretches, vectorised over subjects
            values = scan[:, 1 + j * width : 1 + (j + 1) * width]
            values[:, 0] = self.conc(starts[j])
            # equal steps: C and the area; the last point is the value before the next input
            phi = expm(self.augmented * (lengths[:, j] / SCAN))
            y = np.vstack([starts[j], np.zeros((1, n))])
            for u in range(1, SCAN + 1):
                y = _apply(phi, y)
                values[:, _UNIFORM[u]] = y[self.c] * self.inv_volume
            auc += y[self.m]
            values[:, width - 1] = self.conc(self.state(bounds[:, j + 1], after=False))
            # halving steps towards the stretch's start, where a fast absorber peaks: Phi of
            # each from the one before by squaring (length * 2^-24 up to length / 32)
            phi = self.solution.transition((lengths[:, j] * FRACTIONS[_GEOMETRIC[0]])[None, :])[:, :, 0]
            for g, column in enumerate(_GEOMETRIC):
                if g:
                    phi = matmul(phi, phi)
                values[:, column] = self.conc(_apply(phi, starts[j]))
            values[lengths[:, j] <= 0] = np.nan
        out = {"auc": auc}
        for name, sign in (("max", 1.0), ("min", -1.0)):
            value, at = self._extreme(sign * scan, bounds, lengths, starts, sign)
            out[f"c{name}"], out[f"t{name}"] = sign * value, at
        return out

    def _extreme(self, scan, bounds, lengths, starts, sign) -> tuple[np.ndarray, np.ndarray]:
        """The largest of sign * C over the window and where: the best scan point of the
        stretches, improved by the root of dC/dt in the bracket of its neighbours if there is
        one, or the value reported at the window's start if that is as large (the earlier time)."""
        width = FRACTIONS.size
        stretches = np.where(np.isnan(scan[:, 1:]), -np.inf, scan[:, 1:])
        best = np.argmax(stretches, axis=1)
        value = stretches[self.rows, best]
        j, u = best // width, best % width
        # the end of a stretch and the start of the next are one time: where the curve goes on
        # improving past an input (a lag, or transits still emptying), look in the next stretch
        last = (u == width - 1) & (j + 1 < lengths.shape[1])
        nxt = np.minimum(j + 1, lengths.shape[1] - 1)
        onward = last & (lengths[self.rows, nxt] > 0) & (scan[self.rows, 1 + nxt * width] == value)
        j, u = np.where(onward, nxt, j), np.where(onward, 0, u)
        length = lengths[self.rows, j]
        x0 = np.stack(starts, axis=0)[j, :, self.rows].T  # (m, n)

        def slope(tau):
            g, dg = self._slope(self._advance(x0, tau))
            return sign * g, sign * dg

        # the root is on the side dC/dt points to from the best scan point: bracket that step
        here = FRACTIONS[u] * length
        at = bounds[self.rows, j] + here
        ahead = slope(here)[0] > 0
        lo = np.where(ahead, here, FRACTIONS[np.maximum(u - 1, 0)] * length)
        hi = np.where(ahead, FRACTIONS[np.minimum(u + 1, width - 1)] * length, here)
        todo = (slope(lo)[0] > 0) & (slope(hi)[0] < 0) & (length > 0)
        if todo.any():
            tau = np.where(todo, here, 0.0)  # from the best scan point
            active = todo.copy()  # a subject stops at its own convergence: batch-independent
            for _ in range(_ITERATIONS):  # Newton in a bracket, vectorised over subjects
                g, dg = slope(tau)
                lo, hi = np.where(g > 0, tau, lo), np.where(g > 0, hi, tau)
                with np.errstate(divide="ignore", invalid="ignore"):
                    newton = tau - g / dg
                new = np.where((newton >= lo) & (newton <= hi), newton, 0.5 * (lo + hi))
                done = np.abs(new - tau) <= 4 * np.finfo(float).eps * np.maximum(np.abs(tau), 1.0)
                tau = np.where(active, new, tau)
                active &= ~done
                if not active.any():
                    break
            peak = sign * self.conc(self._advance(x0, tau))
            better = todo & (peak > value)
            value, at = np.where(better, peak, value), np.where(better, bounds[self.rows, j] + tau, at)
        first = scan[:, 0] >= value
        return np.where(first, scan[:, 0], value), np.where(first, bounds[:, 0], at)


def _padded(inputs: SubjectInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each subject's inputs as rows: times, amounts (mg) and compartments, shape (n, k), in
    time order; padded after a subject's own with its last time (0 if none) and amount 0, so
    that the state after the padding is the state after its last input."""
    n, counts = inputs.n_subjects, np.diff(inputs.offsets)
    width = max(int(counts.max(initial=0)), 1)
    slot = np.arange(inputs.times_h.size) - np.repeat(inputs.offsets[:-1], counts)
    subject = inputs.subject
    last = np.zeros(n)
    has = counts > 0
    last[has] = inputs.times_h[inputs.offsets[1:][has] - 1]
    times = np.repeat(last[:, None], width, axis=1)
    amounts = np.zeros((n, width))
    into = np.zeros((n, width), dtype=np.int64)
    times[subject, slot] = inputs.times_h
    amounts[subject, slot] = inputs.amounts_mg
    into[subject, slot] = inputs.compartment
    return times, amounts, into


def _apply(phi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """phi @ x per subject: phi shape (r, m, n), x shape (m, n) -> (r, n), summed in a fixed order."""
    return sum_of_products((phi[:, j], x[j]) for j in range(x.shape[0]))
