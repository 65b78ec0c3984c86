"""Each observation's share of −2 log posterior, and its first two derivatives in the prediction.

For an observation y and a prediction f (mg/L) the model's residual error
gives a mean m(f) and a variance v(f) on the scale it is observed on:
proportional, additive, combined: m = f, v = (σp f)² + σa² (mg/L)²;
exponential: m = log f, v = σp² (y read as log DV). Then

    t(f) = (y − m)² / v + log v                      (observed, NONMEM's FOCE-I term)
    t(f) = −2 log Φ((L − m) / √v)                    (censored below L: NONMEM's M3)

and −2 log posterior = Σ_obs t + ηᵀ Ω⁻¹ η. `terms` gives t, dt/df, d²t/df² and
the expected (Fisher) curvature w ≥ 0 that Gauss–Newton steps use: 2 m'²/v +
v'²/v² for an observed value, 2 λ (z + λ) z'² for a censored one (λ = φ/Φ
at z, the curvature of −2 log Φ, which is convex).
"""

from dataclasses import dataclass

import numpy as np
from scipy import special

_LOG_2PI = np.log(2 * np.pi)


@dataclass(frozen=True)
class Terms:
    """Per observation, shape (n_obs,): t, dt/df, d²t/df² (per mg/L, per (mg/L)²), Fisher weight."""

    t: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    fisher: np.ndarray


def observed_scale(kind: str, dv: np.ndarray) -> np.ndarray:
    """DV (or a limit) on the scale the error is on: log for exponential error, else as is."""
    if kind == "exponential":
        with np.errstate(divide="ignore"):
            return np.log(dv)
    return np.asarray(dv, dtype=float)


def terms(
    kind: str, proportional_sd: float, additive_sd: float, y: np.ndarray, censored: np.ndarray, f: np.ndarray
) -> Terms:
    """t and its derivatives for predictions f (mg/L), all shape (n_obs,).

    y : the observation, or the limit where censored, on `observed_scale`.
    censored : bool, the observation is below its limit y (M3).
    """
    out = Terms(*(np.empty(f.shape) for _ in range(4)))
    for part, branch in ((~censored, _observed), (censored, _censored)):
        if part.any():
            mean_var = _mean_and_variance(kind, proportional_sd, additive_sd, f[part])
            with np.errstate(divide="ignore", invalid="ignore"):
                for name, values in zip(("t", "d1", "d2", "fisher"), branch(y[part], *mean_var)):
                    getattr(out, name)[part] = values
    # a censored value whose prediction is exactly 0 with no spread (proportional or exponential
    # error, before any dose) is certain to be below any limit: it adds nothing, for every eta
    certain = censored & (f == 0) if kind in ("proportional", "exponential") else censored & False
    for name in ("t", "d1", "d2", "fisher"):
        getattr(out, name)[certain] = 0.0
    return out


def _mean_and_variance(kind, proportional_sd, additive_sd, f):
    """m, m', m'', v, v', v'' (derivatives in f) on the scale of the observation."""
    if kind == "exponential":
        with np.errstate(divide="ignore", invalid="ignore"):
            m, m1, m2 = np.log(f), 1.0 / f, -1.0 / f**2
        zero = np.zeros(f.shape)
        return m, m1, m2, np.full(f.shape, proportional_sd**2), zero, zero
    v = (proportional_sd * f) ** 2 + additive_sd**2
    return (
        f,
        np.ones(f.shape),
        np.zeros(f.shape),
        v,
        2 * proportional_sd**2 * f,
        np.full(f.shape, 2 * proportional_sd**2),
    )


def _observed(y, m, m1, m2, v, v1, v2):
    """t = (y - m)²/v + log v through (m, v) to f: t, t', t'', Fisher weight."""
    r = y - m
    tm, tv = -2 * r / v, 1 / v - r**2 / v**2
    tmm, tmv, tvv = 2 / v, 2 * r / v**2, -1 / v**2 + 2 * r**2 / v**3
    return (
        r**2 / v + np.log(v),
        tm * m1 + tv * v1,
        tmm * m1**2 + 2 * tmv * m1 * v1 + tvv * v1**2 + tm * m2 + tv * v2,
        2 * m1**2 / v + v1**2 / v**2,
    )


def _censored(y, m, m1, m2, v, v1, v2):
    """t = -2 log Phi(z), z = (L - m)/sqrt(v), through (m, v) to f: t, t', t'', weight."""
    sd = np.sqrt(v)
    z = (y - m) / sd
    log_cdf = special.log_ndtr(z)
    lam = np.exp(-0.5 * z**2 - 0.5 * _LOG_2PI - log_cdf)  # phi(z) / Phi(z)
    zm, zv = -1 / sd, -z / (2 * v)
    zmv, zvv = 1 / (2 * v * sd), 3 * z / (4 * v**2)
    z1 = zm * m1 + zv * v1
    z2 = 2 * zmv * m1 * v1 + zvv * v1**2 + zm * m2 + zv * v2
    curvature = 2 * lam * (z + lam)  # d²(-2 log Phi)/dz², > 0
    return -2 * log_cdf, -2 * lam * z1, curvature * z1**2 - 2 * lam * z2, curvature * z1**2
