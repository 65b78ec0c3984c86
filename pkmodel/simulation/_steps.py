"""The two ways `simulate_dataset` steps every subject's k-th event at once (z = (amounts,
infusion rates), dz/dt = (K x + r, 0)): the exact exp(M dt) of engine "analytic", or the
equations integrated by scipy's DOP853 for engine "ode"."""

import numpy as np
from scipy.integrate import solve_ivp

from .._checks import plain
from ..engines.linalg import expm_stacked

_EXPM_BATCH = 50_000  # transitions computed at once (bounded memory)
_ODE_RTOL, _ODE_ATOL = 1e-11, 1e-13  # mg: far below NONMEM's printed 5-6 digits


def _transitions(K, p, dt, m):
    """exp(M dt) of every event, M = [[K, I], [0, 0]], computed in batches; a function of events."""
    n = dt.size
    phi = np.empty((n, 2 * m, 2 * m))
    for a in range(0, n, _EXPM_BATCH):
        b = min(n, a + _EXPM_BATCH)
        M = np.zeros((b - a, 2 * m, 2 * m))
        M[:, :m, :m] = K[p[a:b]]
        M[:, :m, m:] = np.eye(m)
        phi[a:b] = expm_stacked(M * dt[a:b, None, None])
    return lambda e: phi[e]


def _ode_step(K, dt, z, m):
    """z after dt of dx/dt = K x + r (r constant), each subject its own dt: DOP853, time scaled to 1."""
    moving = np.flatnonzero(dt > 0)
    if moving.size == 0:
        return z
    Km, dtm, r = K[moving], dt[moving], z[moving, m:]
    x0 = z[moving, :m].ravel()

    def rhs(_, y):
        x = y.reshape(-1, m)
        return (dtm[:, None] * (np.einsum("nij,nj->ni", Km, x) + r)).ravel()

    sol = solve_ivp(rhs, (0.0, 1.0), x0, method="DOP853", rtol=_ODE_RTOL, atol=_ODE_ATOL)
    if not sol.success:
        raise RuntimeError(
            f"simulate_dataset (engine 'ode'): the solver failed over steps up to "
            f"{plain(float(dtm.max()))} h: {sol.message}"
        )
    out = z.copy()
    out[moving, :m] = sol.y[:, -1].reshape(-1, m)
    return out
