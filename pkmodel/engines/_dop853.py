"""One step of the explicit Runge-Kutta method DOP853 for many small systems at once.

DOP853 (Hairer, Norsett & Wanner, Solving ODEs I, 2nd ed., 1993, Sec. II.10; the
coefficients of scipy.integrate._ivp.dop853_coefficients, as scipy's DOP853 uses them):
12 stages, order 8, the error estimated from an order-5 and an order-3 embedded
solution combined as in scipy (`error_norm2`), a dense output of order 7 from 3 more
stages. Explicit: no Jacobian, but stable only for h times the Jacobian's spectral
radius under about 6 on the negative real axis, so a stiff subject belongs to Rodas5P
(`_integrator`'s switch).

States are held subjects last, (m, k) for m states of k subjects; every operation is
elementwise over subjects, the stage sums term by term in a fixed order (no BLAS), so a
subject's numbers do not depend on the others in the batch.
"""

import numpy as np
from scipy.integrate._ivp import dop853_coefficients as _dop

from ._rodas import _combine

ERROR_ORDER = 7  # the embedded estimate's order (scipy: error_estimator_order)
STABILITY = 6.0  # about where the stability region crosses the negative real axis
_S = _dop.N_STAGES  # 12
_C = np.array(_dop.C, dtype=float)  # (16,): nodes, the 3 dense-output stages last
_A = np.array(_dop.A, dtype=float)  # (16, 16): rows 13-15 the dense-output stages'
_B, _E5, _E3, _D = (np.array(a, dtype=float) for a in (_dop.B, _dop.E5, _dop.E3, _dop.D))
for _a in (_C, _A, _B, _E5, _E3, _D):
    _a.flags.writeable = False


def step(rhs, t, y, h, f0, subjects):
    """One DOP853 step for each subject with its own h.

    y and f0 (rhs at (t, y)), shape (m, k); rhs(t (k,), y (k, m), subjects) -> (k, m),
    called with y a transposed view. Returns y_new (m, k) and the work of the step,
    (stages (16, m, k), h), for `error_norm2` and `dense_coefficients`; stage 12 is rhs
    at the new state.
    """
    m, k = y.shape
    stages = np.empty((16, m, k))
    stages[0] = f0
    term = np.empty((m, k))
    u = np.empty((m, k))
    for s in range(1, _S + 1):
        _argument(_A[s, :s] if s < _S else _B, stages, y, h, u, term)
        stages[s] = np.transpose(rhs(t + _C[s] * h, u.T, subjects))
    return u, (stages, h)


def _argument(coefficients, stages, y, h, out, term):
    """out = y + h sum_j coefficients[j] stages[j]: a stage's argument (B: the new state)."""
    _combine(coefficients, stages, out, term)
    out *= h
    out += y
    return out


def error_norm2(work, h, scale):
    """The squared error norm of each subject, shape (k,), scale (m, k): scipy's DOP853
    estimate, h |e5|^2 / sqrt((|e5|^2 + 0.01 |e3|^2) m), with |.| the 2-norm over the
    subject's states of the estimate over scale."""
    stages, _ = work
    m, k = scale.shape
    term = np.empty((m, k))
    e5 = _combine(_E5, stages, np.empty((m, k)), term)
    e5 /= scale
    e5 = np.add.reduce(np.square(e5, out=e5), axis=0)
    e3 = _combine(_E3, stages, np.empty((m, k)), term)
    e3 /= scale
    e3 = np.add.reduce(np.square(e3, out=e3), axis=0)
    denominator = (e5 + 0.01 * e3) * m
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(denominator > 0, np.abs(h) * e5 / np.sqrt(denominator), 0.0)
    return np.square(norm, out=norm)


def dense_coefficients(rhs, t, y, y_new, h, work, subjects):
    """The dense output's coefficients for these subjects, shape (7, m, r): the 3 more
    stages (rhs at the subjects' own times), then scipy's Dop853DenseOutput F; work:
    `step`'s, taken for these subjects."""
    stages, _ = work
    term = np.empty(y.shape)
    u = np.empty(y.shape)
    for s in range(_S + 1, 16):
        _argument(_A[s, :s], stages, y, h, u, term)
        stages[s] = np.transpose(rhs(t + _C[s] * h, u.T, subjects))
    f_old, f_new = stages[0], stages[_S]
    delta = y_new - y
    out = np.empty((7, *y.shape))
    out[0] = delta
    out[1] = h * f_old - delta
    out[2] = 2 * delta - h * (f_new + f_old)
    for r in range(4):
        _combine(_D[r], stages, out[3 + r], term)
        out[3 + r] *= h
    return out


def dense(theta, y, coefficients):
    """y(t + theta h) for theta (r,) in [0, 1], from y (m, r) and `dense_coefficients`
    (7, m, r) taken for each output (scipy's Dop853DenseOutput)."""
    out = np.zeros(y.shape)
    rest = 1.0 - theta
    for i, f in enumerate(coefficients[::-1]):
        out += f
        out *= theta if i % 2 == 0 else rest
    out += y
    return out
