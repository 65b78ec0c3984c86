"""One step of the Rosenbrock method Rodas5P for many small systems at once.

Rodas5P (Steinebach G., Construction of Rosenbrock-Wanner method Rodas5P and
numerical benchmarks within the Julia Differential Equations package, BIT
Numer Math 2023;63:27): 8 stages, order 5 with an embedded order-4 solution
(the error estimate is the last stage), L-stable and stiffly accurate, a
dense output of order 4. The coefficients below are those of the paper in
the transformed form of Hairer & Wanner (Solving ODEs II, 2nd ed., 1996,
Sec. IV.7, eq. 7.25), as tabulated in OrdinaryDiffEq.jl; the stage structure
(stages 7 and 8 add to the previous stage's argument) is the paper's.

A step from (t, y) with step h solves, for i = 1..8,

    (I / (h gamma) - J) k_i = f(t + c_i h, y + sum_j A_ij k_j)
                              + sum_j C_ij k_j / h + h d_i df/dt

with J = df/dy at (t, y), then y_new = y + sum_j A_9j k_j (A's last row: the
stiffly accurate end), error estimate k_8.

States are held subjects last, (m, k) for m states of k subjects, so that
each state is one contiguous row; every operation is elementwise over
subjects, so a subject's numbers do not depend on the others in the batch.
"""

import numpy as np

GAMMA = 0.21193756319429014
# A[i, j]: argument of stage i (0-based) from stage j; row 8 gives y_new
_A = np.zeros((9, 8))
_A[1, 0] = 3.0
_A[2, :2] = [2.849394379747939, 0.45842242204463923]
_A[3, :3] = [-6.954028509809101, 2.489845061869568, -10.358996098473584]
_A[4, :4] = [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641]
_A[5, :5] = [
    -7.502846399306121,
    2.561846144803919,
    -11.627539656261098,
    -0.18268767659942256,
    0.030198172008377946,
]
_A[6] = _A[5] + np.eye(8)[5]
_A[7] = _A[6] + np.eye(8)[6]
_A[8] = _A[7] + np.eye(8)[7]
_C = np.zeros((8, 8))
_C[1, 0] = -14.155112264123755
_C[2, :2] = [-17.97296035885952, -2.859693295451294]
_C[3, :3] = [147.12150275711716, -1.41221402718213, 71.68940251302358]
_C[4, :4] = [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306]
_C[5, :5] = [
    24.854864614690072,
    -3.0009227002832186,
    47.4931110020768,
    5.5814197821558125,
    -0.6610691825249471,
]
_C[6, :6] = [
    30.91273214028599,
    -3.1208243349937974,
    77.79954646070892,
    34.28646028294783,
    -19.097331116725623,
    -28.087943162872662,
]
_C[7, :7] = [
    37.80277123390563,
    -3.2571969029072276,
    112.26918849496327,
    66.9347231244047,
    -40.06618937091002,
    -54.66780262877968,
    -9.48861652309627,
]
C_NODES = np.array(
    [0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1.0, 1.0, 1.0]
)
_D = np.array(
    [
        0.21193756319429014,
        -0.42387512638858027,
        -0.3384627126235924,
        1.8046452872882734,
        2.325825639765069,
        0.0,
        0.0,
        0.0,
    ]
)
# dense output y(t + theta h) = (1 - theta) y + theta (y_new + (1 - theta) (H1 + theta (H2 + theta H3))),
# H_r = sum_j _H[r, j] k_j
_H = np.array(
    [
        [
            25.948786856663858,
            -2.5579724845846235,
            10.433815404888879,
            -2.3679251022685204,
            0.524948541321073,
            1.1241088310450404,
            0.4272876194431874,
            -0.17202221070155493,
        ],
        [
            -9.91568850695171,
            -0.9689944594115154,
            3.0438037242978453,
            -24.495224566215796,
            20.176138334709044,
            15.98066361424651,
            -6.789040303419874,
            -6.710236069923372,
        ],
        [
            11.419903575922262,
            2.8879645146136994,
            72.92137995996029,
            80.12511834622643,
            -52.072871366152654,
            -59.78993625266729,
            -0.15582684282751913,
            4.883087185713722,
        ],
    ]
)
ERROR_ORDER = 4  # the embedded solution's order: its error is O(h**5)
for _a in (_A, _C, C_NODES, _D, _H):
    _a.flags.writeable = False


def lu_factor(w):
    """LU factors of w, shape (m, m, k) (k matrices, subjects last), partial pivoting, in place.

    Returns (w, inverse diagonal (m, k), perm, lower, upper): perm, shape (m, k),
    the row order, or None when no row moved (partial pivoting never moves a row
    of a column diagonally dominant matrix, such as I/(h gamma) - J for a
    compartmental J); lower[p] and upper[p] the rows below and above the
    diagonal where column p of the factors is not zero for every subject (a
    compartmental system is sparse: a transit chain's factors are bidiagonal),
    the only ones `lu_solve` updates (x - 0 * y is x for a finite y).
    """
    m, _, k = w.shape
    inverse = np.empty((m, k))
    perm = None
    for p in range(m):
        if p < m - 1:
            below = np.argmax(np.abs(w[p:, p]), axis=0)
            moved = np.flatnonzero(below)
            if moved.size:
                if perm is None:
                    perm = np.broadcast_to(np.arange(m)[:, None], (m, k)).copy()
                q = p + below[moved]
                w[p, :, moved], w[q, :, moved] = w[q, :, moved], w[p, :, moved]
                perm[p, moved], perm[q, moved] = perm[q, moved], perm[p, moved]
        np.divide(1.0, w[p, p], out=inverse[p])
        if p < m - 1:
            w[p + 1 :, p] *= inverse[p]
            w[p + 1 :, p + 1 :] -= w[p + 1 :, p, None] * w[p, None, p + 1 :]
    lower = [[q for q in range(p + 1, m) if w[q, p].any()] for p in range(m)]
    upper = [[q for q in range(p) if w[q, p].any()] for p in range(m)]
    return w, inverse, perm, lower, upper


def lu_solve(factors, x):
    """Solve w z = x for z in place, x shape (m, k), from `lu_factor`'s factors; returns x."""
    lu, inverse, perm, lower, upper = factors
    m = x.shape[0]
    if perm is not None:
        x[:] = np.take_along_axis(x, perm, axis=0)
    term = np.empty(x.shape[1:])
    for p in range(m - 1):
        for q in lower[p]:
            x[q] -= np.multiply(lu[q, p], x[p], out=term)
    for p in range(m - 1, -1, -1):
        x[p] *= inverse[p]
        for q in upper[p]:
            x[q] -= np.multiply(lu[q, p], x[p], out=term)
    return x


def _combine(coefficients, stages, out, term):
    """out = sum_j coefficients[j] * stages[j] over the nonzero coefficients, added in order
    (not BLAS: each subject's rounding stays its own whatever the batch); term: scratch."""
    first = True
    for c, s in zip(coefficients, stages):
        if not c:
            continue
        if first:
            np.multiply(s, c, out=out)
            first = False
        else:
            out += np.multiply(s, c, out=term)
    return out


def step(rhs, t, y, h, jac, f0, subjects, dfdt=None):
    """One Rodas5P step for each subject with its own h.

    States are subjects last here: y, f0 (rhs at (t, y)) and dfdt (d rhs/dt
    at (t, y), None when autonomous) have shape (m, k); jac is (k, m, m), d rhs
    / dy at (t, y), as the callback gives it. rhs(t (k,), y (k, m), subjects)
    -> (k, m) is called with y a transposed view.

    Returns y_new (m, k) and the work of the step, (stages (8, m, k),), for
    `error_norm2` (the error estimate is the last stage) and `dense_coefficients`.
    """
    m, k = y.shape
    sums = _Sums(m, k) if k <= BLOCK_BELOW else None
    w = np.negative(np.transpose(jac, (1, 2, 0)), out=np.empty((m, m, k)))
    shift = 1.0 / (GAMMA * h)
    for i in range(m):
        w[i, i] += shift
    factors = lu_factor(w)
    inv_h = 1.0 / h
    stages = np.empty((8, m, k))
    term = np.empty((m, k))
    u = np.empty((m, k))  # each stage's argument, y + sum_j A_ij k_j
    for i in range(8):
        g = stages[i]
        if i == 0:
            g[:] = f0
        else:
            if i >= 6:  # stages 7 and 8 continue from the previous argument
                u += stages[i - 1]
            elif sums is not None:
                np.add(sums.a(i), y, out=u)
            else:
                _combine(_A[i, :i], stages, u, term)
                u += y
            f = np.transpose(rhs(t + C_NODES[i] * h, u.T, subjects))
            if sums is not None:
                np.multiply(sums.c(i), inv_h, out=g)
            else:
                _combine(_C[i, :i], stages, g, term)
                g *= inv_h
            g += f
        if dfdt is not None and _D[i]:
            g += np.multiply(dfdt, _D[i] * h, out=term)
        lu_solve(factors, g)
        if sums is not None:
            sums.add(i, g)
    return u + stages[7], (stages,)


# below this many subjects a step's overhead (numpy calls) outweighs its memory traffic: the
# stage sums are kept as one block, each stage added into every later sum by one multiply and
# one add (`_Sums`), instead of a multiply and an add per term (`_combine`); the same
# additions in the same order, so the same bits (a subject's numbers never depend on k)
BLOCK_BELOW = 4096
# the block's rows, in the order the stages need them: (A_s, C_s) for s = 1..5, then C_6, C_7
_ROWS = np.array([c[s] for s in range(1, 8) for c in ((_A, _C) if s <= 5 else (_C,))])
_FIRST_ROW = [2 * j if j <= 5 else 10 + (j - 5) for j in range(8)]  # stage j's first later row
_ROWS.flags.writeable = False


class _Sums:
    """sum_j A_ij k_j and sum_j C_ij k_j of every stage i, accumulated as the stages come."""

    def __init__(self, m, k):
        self.block = np.zeros((_ROWS.shape[0], m, k))
        self.scratch = np.empty_like(self.block)

    def a(self, i):
        return self.block[2 * (i - 1)]

    def c(self, i):
        return self.block[2 * (i - 1) + 1 if i <= 5 else 10 + (i - 6)]

    def add(self, j, stage):
        first = _FIRST_ROW[j]
        if first < _ROWS.shape[0]:
            scratch = self.scratch[first:]
            np.multiply(_ROWS[first:, j, None, None], stage, out=scratch)
            self.block[first:] += scratch


def error_norm2(work, h, scale):
    """The squared RMS norm over each subject's states of the error estimate (the last
    stage) over scale (m, k), shape (k,)."""
    (stages,) = work
    error = np.divide(stages[7], scale)
    err = np.add.reduce(np.square(error, out=error), axis=0)
    err *= 1.0 / error.shape[0]
    return err


def dense_coefficients(rhs, t, y, y_new, h, work, subjects):
    """The dense output's coefficients for these subjects, shape (4, m, r): y_new and
    H_r = sum_j _H[r, j] k_j (r = 1..3), from `step`'s stages (work, taken for them)."""
    (stages,) = work
    out = np.zeros((4, *y.shape))
    out[0] = y_new
    term = np.empty((3, *y.shape))
    for j in range(8):  # in a fixed order: each subject's rounding is its own, whatever the batch
        out[1:] += np.multiply(_H[:, j, None, None], stages[j], out=term)
    return out


def dense(theta, y, coefficients):
    """y(t + theta h) = (1 - theta) y + theta (y_new + (1 - theta) (H1 + theta (H2 + theta H3)))
    for theta (r,) in [0, 1], from y (m, r) and `dense_coefficients` (4, m, r) taken for each
    output."""
    y_new, h1, h2, h3 = coefficients
    rest = 1.0 - theta
    out = h3 * theta
    out += h2
    out *= theta
    out += h1
    out *= rest
    out += y_new
    out *= theta
    out += rest * y
    return out
