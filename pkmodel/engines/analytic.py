"""Analytic engine: exact solution of linear compartment models, vectorised.

The state x (amounts, mg) is carried from dose event to dose event with the
exact transition matrix Phi(dt) = exp(K dt); between events the concentration
at offset tau after the last event is Phi(tau)[central, :] x / V. Output grids
repeat their offsets (a 0.5 h grid after every 8 h dose sees the same 16
offsets), so Phi is computed once per distinct set of offsets and each output
costs a few multiply-adds rather than exponentials.

Internally subjects run along the last axis: states (n_compartments,
n_subjects), Phi (m, m, n_offsets, n_subjects); concentrations are built as
(n_times, n_subjects) and returned transposed, shape (n_subjects, n_times).
"""

from typing import Callable, Mapping

import numpy as np
from scipy.linalg import expm

from ..dosing import Doses
from ..structures import Structure
from .common import segments

OPTIONS: dict = {}

Transition = Callable[[np.ndarray], np.ndarray]


def simulate(structure: Structure, params: Mapping[str, np.ndarray], doses: Doses,
             times_h: np.ndarray) -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L."""
    closed_form = CLOSED_FORMS.get(structure.name)
    transition = closed_form(params) if closed_form else expm_transition(structure.rate_matrix(params))
    return propagate(transition, structure, params[structure.volume], doses, times_h)


def propagate(transition: Transition, structure: Structure, volume_l: np.ndarray, doses: Doses,
              times_h: np.ndarray) -> np.ndarray:
    """Carry the state from event to event; read concentrations between events.

    Parameters
    ----------
    transition : callable
        dt (ndarray, shape (n_dt,), h) -> Phi, shape (m, m, n_dt, n_subjects).
    volume_l : ndarray, shape (n_subjects,)
        Volume of the central compartment, L.

    Returns
    -------
    ndarray, shape (n_subjects, n_times)
        mg/L.
    """
    event_times, amounts = doses.merged()
    n_subjects = amounts.shape[0]
    m = len(structure.compartments)
    dose, central = structure.dose_index, structure.central_index

    states = np.empty((event_times.size, m, n_subjects))  # just after each event
    x = np.zeros((m, n_subjects))
    steps: dict[float, np.ndarray] = {}
    for e, t in enumerate(event_times):  # over dose events, vectorised over subjects
        if e:
            dt = t - event_times[e - 1]
            if dt not in steps:
                steps[dt] = transition(np.array([dt]))[:, :, 0, :]
            x = np.einsum("ijn,jn->in", steps[dt], x)
        x[dose] += amounts[:, e]
        states[e] = x

    out = np.zeros((times_h.size, n_subjects))
    runs = segments(event_times, times_h)
    scratch = np.empty((max(j1 - j0 for _, j0, j1 in runs), n_subjects))
    weights: dict[bytes, np.ndarray] = {}
    for e, j0, j1 in runs:
        if e < 0:
            continue  # before the first dose nothing has been given
        tau = times_h[j0:j1] - event_times[e]
        key = tau.tobytes()
        if key not in weights:
            weights[key] = transition(tau)[central] / volume_l  # (m, n_tau, n_subjects)
        w = weights[key]
        block, tmp = out[j0:j1], scratch[:j1 - j0]
        np.multiply(w[0], states[e, 0], out=block)
        for c in range(1, m):
            np.multiply(w[c], states[e, c], out=tmp)
            block += tmp
    return out.T


def one_compartment_oral(params: Mapping[str, np.ndarray]) -> Transition:
    """Closed-form Phi for depot -> central -> out (compartments depot, central).

    Phi = [[e^{-ka t}, 0], [h(t), e^{-k t}]] with
    h(t) = ka e^{-min(ka,k) t} (1 - e^{-|ka-k| t}) / |ka-k|, the textbook
    ka/(ka-k) (e^{-kt} - e^{-ka t}) written with expm1 so that nothing
    cancels when ka is close to k, and h(t) = ka t e^{-kt}, its limit, when
    ka == k (no 0/0).
    """
    ka = params["ka"]
    k = params["CL"] / params["V"]
    gap = np.abs(ka - k)
    distinct = gap > 0
    coef = ka / np.where(distinct, gap, 1.0)
    ka_slower = ka < k

    def transition(dt: np.ndarray) -> np.ndarray:
        t = dt[:, None]
        phi = np.empty((2, 2, dt.size, ka.size))
        np.exp(-ka * t, out=phi[0, 0])
        phi[0, 1] = 0.0
        np.exp(-k * t, out=phi[1, 1])
        h = np.expm1(-gap * t)
        h *= -coef                          # ka (1 - e^{-gap t}) / gap
        if not distinct.all():
            h[:, ~distinct] = ka[~distinct] * t  # its limit, ka t, where ka == k
        h *= np.where(ka_slower, phi[0, 0], phi[1, 1])
        phi[1, 0] = h
        return phi

    return transition


def expm_transition(rates: np.ndarray) -> Transition:
    """Phi = exp(K dt) by scaling and squaring (exact for defective K too).

    rates : ndarray, shape (n_subjects, m, m), 1/h.
    """
    def transition(dt: np.ndarray) -> np.ndarray:
        phi = expm(rates[None, :, :, :] * dt[:, None, None, None])  # (n_dt, N, m, m)
        return phi.transpose(2, 3, 0, 1)

    return transition


CLOSED_FORMS: dict[str, Callable[[Mapping[str, np.ndarray]], Transition]] = {
    "one_compartment_oral": one_compartment_oral,
}
