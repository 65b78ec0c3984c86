"""Linear algebra of the engines: exact transitions and steady states, batched over subjects.

Stacked matrices are held along the first two axes, (m, m, ...). Every
subject's numbers are computed apart from the others it is batched with (the
same bits whatever the chunking): sums over compartments are written out in
a fixed order rather than left to einsum or BLAS, and the matrix exponential
scales each matrix by its own power of two.
"""

import math

import numpy as np

_TAYLOR_BLOCKS = np.array(
    [[1.0 / math.factorial(4 * k + i) if 4 * k + i <= 18 else 0.0 for i in range(4)] for k in range(5)]
)


def sum_of_products(pairs, out: np.ndarray | None = None) -> np.ndarray:
    """Sum of x * y over the (x, y) pairs, added in the order given (broadcasting).

    Written out so that each element's rounding is the same whatever the
    shape of the batch around it (einsum's and BLAS's are not).
    """
    pairs = iter(pairs)
    x0, y0 = next(pairs)
    out = np.multiply(x0, y0) if out is None else np.multiply(x0, y0, out=out)
    term: np.ndarray | None = None  # one buffer for every further term
    for x, y in pairs:
        term = np.multiply(x, y) if term is None else np.multiply(x, y, out=term)
        out += term
    return out


def matmul(a: np.ndarray, b: np.ndarray, pattern: np.ndarray | None = None) -> np.ndarray:
    """Products of stacked matrices held along the first two axes, (m, m, ...).

    pattern : bool (m, m), optional: where a, b and their product may be non-zero (both
    hold zeros elsewhere: `reachable`). Entries outside it are left 0 and terms a[i, k] b[k, j]
    outside it skipped: the same bits as the full product (each skipped term an exact 0).
    """
    if pattern is None or pattern.all():
        return sum_of_products((a[:, j, None], b[None, j]) for j in range(a.shape[1]))
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    for i, j in zip(*np.nonzero(pattern)):
        sum_of_products(
            ((a[i, k], b[k, j]) for k in np.flatnonzero(pattern[i] & pattern[:, j])), out=out[i, j]
        )
    return out


def reachable(a: np.ndarray) -> np.ndarray:
    """Where exp(a) of stacked (m, m, ...) matrices may be non-zero, bool (m, m): the
    transitive closure of their non-zero pattern (every matrix of the stack) and the diagonal.
    A compartment model's chains and one-way flows leave most of it False."""
    m = a.shape[0]
    reach = np.eye(m, dtype=bool) | (np.abs(a).reshape(m, m, -1).max(axis=2, initial=0.0) > 0)
    while True:
        grown = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        if np.array_equal(grown, reach):
            return reach
        reach = grown


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
    # every power of a, and exp(a), is zero outside the closure of a's pattern: only its
    # entries are held (packed along the first axis) and multiplied (the same bits: `matmul`)
    pattern = reachable(a) if a.size else np.ones((m, m), dtype=bool)
    rows, cols = np.nonzero(pattern)
    place = np.full((m, m), -1)
    place[rows, cols] = np.arange(rows.size)
    # for each entry (i, j), the packed (i, k) and (k, j) of every term of the product
    terms = [
        [(place[i, k], place[k, j]) for k in np.flatnonzero(pattern[i] & pattern[:, j])]
        for i, j in zip(rows, cols)
    ]

    def product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape)
        for p, pairs in enumerate(terms):
            sum_of_products(((x[u], y[v]) for u, v in pairs), out=out[p])
        return out

    powers = np.empty((4, rows.size) + a.shape[2:])
    powers[0] = (rows == cols).reshape((-1,) + (1,) * (a.ndim - 2))
    np.multiply(a[rows, cols], np.ldexp(1.0, -s), out=powers[1])  # exact: a power of two
    powers[2] = product(powers[1], powers[1])
    powers[3] = product(powers[2], powers[1])
    x4 = product(powers[2], powers[2])
    # blocks[k] = sum_i x^i / (4k + i)!, i = 0..3: the Taylor terms of degree 4k..4k+3
    blocks = [sum_of_products(zip(coefficients, powers)) for coefficients in _TAYLOR_BLOCKS]
    packed = blocks[4]
    for k in (3, 2, 1, 0):
        packed = blocks[k] + product(x4, packed)
    for j in range(int(s.max(initial=0))):
        packed = np.where(s > j, product(packed, packed), packed)
    result = np.zeros(a.shape)
    result[rows, cols] = packed
    return result


def steady_state(step: np.ndarray, amount_mg: np.ndarray, compartment) -> np.ndarray:
    """State just after a dose at steady state: x = (I - Phi(ii))^-1 dose.

    step : ndarray, shape (m, m, n_subjects), Phi over one dosing interval
    amount_mg : ndarray, shape (n_subjects,), the dose (into `compartment`: an
    int, or one per subject, shape (n_subjects,))

    Returns ndarray, shape (m, n_subjects), mg: the limit of x_{k+1} = Phi x_k + dose.
    """
    m, n = step.shape[0], step.shape[2]
    system = np.eye(m)[None, :, :] - step.transpose(2, 0, 1)  # (n, m, m)
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
        x = np.linalg.solve(-rates, unit)[:, :, 0]  # mg*h in each compartment per mg
    except np.linalg.LinAlgError:
        raise ValueError(
            "auc_per_dose: the rate matrix is singular (a compartment whose amount "
            "is never eliminated); expected every compartment to empty"
        ) from None
    return sum_of_products((row[:, j], x[:, j]) for j in range(m))


def expm_stacked(a: np.ndarray) -> np.ndarray:
    """`expm` of matrices stacked along the first axis, (n, m, m) -> (n, m, m)."""
    return np.ascontiguousarray(expm(np.moveaxis(a, 0, -1)).transpose(2, 0, 1))


def dataset_steady_state(
    rates: np.ndarray,
    amount_mg: np.ndarray,
    compartment: np.ndarray,
    ii_h: np.ndarray,
    lag_h: np.ndarray,
    rate_mg_per_h: np.ndarray,
    duration_h: np.ndarray,
    constant: np.ndarray,
    running: np.ndarray | None = None,
) -> np.ndarray:
    """Amounts and infusion rates at TIME of a NONMEM steady-state dose, exact (linear models).

    The dose is given every ii_h forever, each arriving lag_h after its time;
    at TIME the arrivals up to TIME are in (the last at TIME - ((-lag) mod II)),
    infusions of duration_h running as they would (ceil(D / II) at once when
    D > II). `constant`: SS=1 with AMT 0, II 0 (a constant infusion at its
    steady state, x = -K^-1 r; the infusion does not run on after TIME, as NONMEM 7.4/7.5 give it,
    mrgsolve/nmtests ID 29).

    Parameters
    ----------
    rates : ndarray, shape (n, m, m), 1/h: dx/dt = K x + r
    amount_mg, ii_h, lag_h, rate_mg_per_h (0: bolus), duration_h : shape (n,)
    compartment : ndarray of int, shape (n,), 0-based
    running : ndarray of int, shape (n,), optional
        How many infusions run at TIME, as the caller counts them (whose ends are its events:
        the two must agree where an end falls on TIME within rounding)

    Returns
    -------
    ndarray, shape (n, 2 m): amounts (mg), then the rates running into each compartment (mg/h).
    """
    _expm = expm_stacked
    n, m = rates.shape[0], rates.shape[1]
    rows = np.arange(n)
    aug = np.zeros((n, 2 * m, 2 * m))
    aug[:, :m, :m] = rates
    aug[:, :m, m:] = np.eye(m)

    def step(z, dt):  # z (n, 2m) after dt (n,) of the free system
        return np.einsum("nij,nj->ni", _expm(aug * dt[:, None, None]), z)

    unit = np.zeros((n, 2 * m))
    unit[rows, m + compartment] = rate_mg_per_h  # one infusion's rate
    ii = np.where(ii_h > 0, ii_h, 1.0)
    infusion = rate_mg_per_h > 0
    full = np.floor(duration_h / ii)
    rem = duration_h - full * ii
    count = np.where(rem > 0, full + 1, full)  # infusions running just after an arrival
    rem = np.where(rem > 0, rem, ii)  # when, in the interval, one of them ends
    z0 = np.zeros((n, 2 * m))
    z0[:, m:] = count[:, None] * unit[:, m:]
    # one interval from an arrival with nothing in the body: what it adds by the next arrival
    end = step(step(z0, np.where(infusion, rem, 0.0)) - unit, ii - np.where(infusion, rem, 0.0))
    end[:, m:] = 0.0
    end[rows, compartment] += np.where(infusion, 0.0, amount_mg)  # the next bolus
    # (boluses: x just after an arrival is Phi(II) x + AMT; infusions: Phi(II) x + what runs in)
    phi = _expm(aug * ii[:, None, None])[:, :m, :m]
    x0 = np.linalg.solve(np.eye(m) - phi, end[:, :m, None])[..., 0]  # just after an arrival
    z0[:, :m] = x0
    phase = np.where(lag_h > 0, ii - lag_h, 0.0)  # TIME - the last arrival (NONMEM: < 0 when lag > II)
    ended = infusion & (phase >= rem)
    before_end = np.where(ended, rem, phase)
    z = step(z0, before_end)
    z = step(z - ended[:, None] * unit, phase - before_end)
    if running is not None:
        z[:, m:] = running[:, None] * unit[:, m:]
    if np.any(constant):
        r = unit[constant, m:]
        xs = np.linalg.solve(rates[constant], -r[..., None])[..., 0]
        z[constant] = np.concatenate([xs, np.zeros_like(r)], axis=1)  # NONMEM: it does not run on
    return z
