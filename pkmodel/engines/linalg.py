"""Linear algebra of the engines: exact transitions and steady states, batched over subjects.

Stacked matrices are held along the first two axes, (m, m, ...). Every
subject's numbers are computed apart from the others it is batched with (the
same bits whatever the chunking): sums over compartments are written out in
a fixed order rather than left to einsum or BLAS, and the matrix exponential
scales each matrix by its own power of two.
"""

import math

import numpy as np

_TAYLOR_BLOCKS = np.array([[1.0 / math.factorial(4 * k + i) if 4 * k + i <= 18 else 0.0
                            for i in range(4)] for k in range(5)])


def sum_of_products(pairs, out: np.ndarray | None = None) -> np.ndarray:
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


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Products of stacked matrices held along the first two axes, (m, m, ...)."""
    return sum_of_products((a[:, j, None], b[None, j]) for j in range(a.shape[1]))


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
    powers[2] = matmul(powers[1], powers[1])
    powers[3] = matmul(powers[2], powers[1])
    x4 = matmul(powers[2], powers[2])
    # blocks[k] = sum_i x^i / (4k + i)!, i = 0..3: the Taylor terms of degree 4k..4k+3
    blocks = [sum_of_products(zip(coefficients, powers)) for coefficients in _TAYLOR_BLOCKS]
    result = blocks[4]
    for k in (3, 2, 1, 0):
        result = blocks[k] + matmul(x4, result)
    for j in range(int(s.max(initial=0))):
        result = np.where(s > j, matmul(result, result), result)
    return result


def steady_state(step: np.ndarray, amount_mg: np.ndarray, compartment) -> np.ndarray:
    """State just after a dose at steady state: x = (I - Phi(ii))^-1 dose.

    step : ndarray, shape (m, m, n_subjects), Phi over one dosing interval
    amount_mg : ndarray, shape (n_subjects,), the dose (into `compartment`: an
    int, or one per subject, shape (n_subjects,))

    Returns ndarray, shape (m, n_subjects), mg: the limit of x_{k+1} = Phi x_k + dose.
    """
    m, n = step.shape[0], step.shape[2]
    system = np.eye(m)[None, :, :] - step.transpose(2, 0, 1)   # (n, m, m)
    dose = np.zeros((n, m, 1))
    dose[np.arange(n), compartment, 0] = amount_mg
    return np.linalg.solve(system, dose)[:, :, 0].T


def auc_per_dose(rates: np.ndarray, row: np.ndarray, compartment: int) -> np.ndarray:
    """AUC over all time of the read-out row . x after 1 mg into `compartment`: row (-K)^-1 e.

    The integral of exp(K t) from 0 to infinity is (-K)^-1 when every amount is eventually
    eliminated; at steady state the AUC over one dosing interval is this times the dose
    (superposition: exact for a linear model only).

    rates : ndarray, shape (n_subjects, m, m), K in 1/h
    row : ndarray, shape (n_subjects, m), the output per mg in each compartment, 1/L

    Returns ndarray, shape (n_subjects,), mg*h/L per mg.
    """
    n, m = row.shape
    unit = np.zeros((n, m, 1))
    unit[:, compartment, 0] = 1.0
    try:
        x = np.linalg.solve(-rates, unit)[:, :, 0]   # mg*h in each compartment per mg
    except np.linalg.LinAlgError:
        raise ValueError("auc_per_dose: the rate matrix is singular (a compartment whose amount "
                         "is never eliminated); expected every compartment to empty") from None
    return sum_of_products((row[:, j], x[:, j]) for j in range(m))
