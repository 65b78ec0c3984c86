"""Random effects and residual error: reproducible per subject, whatever the chunking.

Subject i's draws come from a fixed block of subjects (BLOCK ids per block)
with its own `numpy.random.SeedSequence` (entropy = seed, spawn key = (stream,
block)). So subject i gets the same random numbers whether the cohort is
simulated whole, in chunks of any size or on several workers. Each kind of
randomness has its own stream, so adding residual error or occasions never
changes the random effects.
"""

import numpy as np
from scipy import special

BLOCK = 4096
STREAM_IIV = 0  # inter-individual random effects (etas)
STREAM_IOV = 1  # inter-occasion random effects (kappas)
STREAM_RESIDUAL = 2  # residual error of observations
STREAM_UNCERTAINTY = 3  # typical values, one draw per replicate
STREAM_ADHERENCE = 4  # missed doses (dosing.Regimen)
STREAM_TIMING = 5  # when each dose is taken (dosing.Regimen timing jitter)


def seed_entropy(seed) -> int:
    """The entropy a run is reproducible from: `seed`, or fresh entropy if None."""
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)  # fresh entropy is one int (a sequence only when given one)
        return entropy
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed is {seed!r}; expected a whole number >= 0 or None")
    return int(seed)


def standard_normals(entropy: int, stream: int, first: int, n: int, k: int) -> np.ndarray:
    """N(0, 1) draws for subjects first..first+n-1 (0-based positions), shape (n, k)."""
    out = np.empty((n, k))
    if k == 0 or n == 0:
        return out
    last = first + n
    for block in range(first // BLOCK, (last - 1) // BLOCK + 1):  # over blocks, not subjects
        start = block * BLOCK
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(stream, block)))
        draws = rng.standard_normal((BLOCK, k))
        lo, hi = max(first, start), min(last, start + BLOCK)
        out[lo - first : hi - first] = draws[lo - start : hi - start]
    return out


def correlated(z: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Draws with covariance omega from standard normals z, shape (n, k).

    eta = z L' with L the Cholesky factor of omega (so a diagonal omega gives
    z * sd); a singular (positive semi-definite) omega, e.g. a correlation of
    1, uses its eigen-decomposition instead.
    """
    if omega.size == 0:
        return z
    try:
        factor = np.linalg.cholesky(omega)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(omega)
        factor = vectors * np.sqrt(np.clip(values, 0.0, None))  # clip rounding below 0 only
    return z @ factor.T


def sample_etas(omega: np.ndarray, n: int, entropy: int, first: int = 0) -> np.ndarray:
    """Random effects eta ~ N(0, omega), shape (n, n_etas)."""
    return correlated(standard_normals(entropy, STREAM_IIV, first, n, omega.shape[0]), omega)


def uniforms(entropy: int, stream: int, first: int, n: int, k: int) -> np.ndarray:
    """U(0, 1) draws for subjects first..first+n-1, shape (n, k).

    The normal CDF of `standard_normals`: the same blocks, so the same
    independence from chunking.
    """
    return special.ndtr(standard_normals(entropy, stream, first, n, k))
