"""The compiled kernel's primitives (`_kernel`): raw pointers, operations over the lanes as
LLVM vectors, and each lane's right-hand side, norm and first step.

Lane-major arrays: [..., lane], LANES lanes; a model function is MODEL, rhs(T, A, H, out) on
raw pointers (an array argument is 7 fields to pass and a reference to count, per call).
"""

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._rodas import ERROR_ORDER

_F64 = types.float64
_P = types.CPointer(_F64)
MODEL = types.FunctionType(types.void(_P, _P, _P, _P))
LANES = 8  # children stepped together, lane-major: one compiled loop over them per operation
_INITIAL_POWER = 1 / (ERROR_ORDER + 1)


def _pointer(typingctx, array):
    """The data pointer of a C-contiguous float64 array (no reference counted)."""

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return _P(array), codegen


_ptr: Any = intrinsic(_pointer)  # _ptr(array) in compiled code

# Operations over the LANES lanes of lane-major arrays, as LLVM vectors: numba cannot tell that
# two work arrays do not overlap, so it leaves loops over lanes scalar. Each takes (array, flat
# offset) pairs, the first the destination, and rounds lane by lane as the scalar loop would.
_VECTOR = ir.VectorType(ir.DoubleType(), LANES)


def _lanes(n_arrays: int, n_scalars: int, op):
    """An intrinsic f(d, do, a1, o1, ..., s1, ...): d[do:do + LANES] = op(builder, d's lanes,
    [a1's lanes, ...], [s1, ...] as splat vectors)."""

    def codegen(context, builder, signature, values):
        pointers = []
        for k in range(n_arrays):
            array = context.make_array(signature.args[2 * k])(context, builder, values[2 * k])
            pointers.append(
                builder.bitcast(builder.gep(array.data, [values[2 * k + 1]]), _VECTOR.as_pointer())
            )
        lanes = [builder.load(q, align=8) for q in pointers]
        splats = []
        for x in values[2 * n_arrays :]:
            one = builder.insert_element(
                ir.Constant(_VECTOR, ir.Undefined), x, ir.Constant(ir.IntType(32), 0)
            )
            zeros = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
            splats.append(builder.shuffle_vector(one, ir.Constant(_VECTOR, ir.Undefined), zeros))
        builder.store(op(builder, lanes[0], lanes[1:], splats), pointers[0], align=8)
        return context.get_dummy_value()

    # numba's intrinsics take named arguments only (no *args): one typer per arity
    names = ", ".join(f"x{k}" for k in range(2 * n_arrays + n_scalars))
    namespace: dict[str, Any] = {"types": types, "codegen": codegen}
    exec(f"def typer(typingctx, {names}):\n    return types.void({names}), codegen", namespace)
    typer = namespace["typer"]
    typer.__name__ = op.__name__
    return intrinsic(typer)


def _axpy(b, d, xs, cs):  # d + x * c, c a number
    return b.fadd(d, b.fmul(xs[0], cs[0]))


def _add(b, d, xs, cs):  # x + y
    return b.fadd(xs[0], xs[1])


def _mul_add(b, d, xs, cs):  # x * s + y
    return b.fadd(b.fmul(xs[0], xs[1]), xs[2])


def _acc(b, d, xs, cs):  # d + x * s
    return b.fadd(d, b.fmul(xs[0], xs[1]))


def _eliminate(b, d, xs, cs):  # d - w * x where w != 0, else d (the terms of a zero factor skipped)
    return b.select(
        b.fcmp_unordered("!=", xs[0], ir.Constant(_VECTOR, 0.0)), b.fsub(d, b.fmul(xs[0], xs[1])), d
    )


def _scale(b, d, xs, cs):  # d * x
    return b.fmul(d, xs[0])


def _copy(b, d, xs, cs):  # x
    return xs[0]


v_axpy, v_add, v_mul_add, v_acc = (
    _lanes(2, 1, _axpy),
    _lanes(3, 0, _add),
    _lanes(4, 0, _mul_add),
    _lanes(3, 0, _acc),
)
v_eliminate, v_scale, v_copy = _lanes(3, 0, _eliminate), _lanes(2, 0, _scale), _lanes(2, 0, _copy)


@njit(cache=True, error_model="numpy", inline="always")
def _call(rhs, ln, t, y, h, out, into, rate, tt):
    """rhs of lane ln at (t, y[:, ln]) into out[:, ln] (the other lanes' columns are scratch)."""
    tt[ln] = t
    rhs(_ptr(tt), _ptr(y), _ptr(h), _ptr(out))
    if into >= 0:
        out[into, ln] += rate


@njit(cache=True, error_model="numpy", inline="always")
def _norm(x, ln, scale):
    """Root-mean-square of x[:, ln] / scale[:, ln] over the states (`_stepping._norm`)."""
    m = x.shape[0]
    s = 0.0
    for j in range(m):
        v = x[j, ln] / scale[j, ln]
        s += v * v
    return math.sqrt(s / m)


@njit(cache=True, error_model="numpy", inline="always")
def _nmin(a, b):
    return np.minimum(a, b)


@njit(cache=True, error_model="numpy", inline="always")
def _initial_step(rhs, ln, t, y, span, rtol, atol, hr, into, rate, tt, f0, f1, u, scale):
    """select_initial_step for lane ln as `_stepping._reset_step` computes it (its own buffers:
    f0, f1, u, scale are scratch, y[:, ln] and atol[:, ln] the lane's)."""
    m = y.shape[0]
    for j in range(m):
        scale[j, ln] = atol[j, ln] + abs(y[j, ln]) * rtol
    _call(rhs, ln, t, y, hr, f0, into, rate, tt)
    d0 = _norm(y, ln, scale)
    d1 = _norm(f0, ln, scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    if span > 0:
        h0 = _nmin(h0, span)
    for j in range(m):
        u[j, ln] = y[j, ln] + h0 * f0[j, ln]
    _call(rhs, ln, t + h0, u, hr, f1, into, rate, tt)
    for j in range(m):
        u[j, ln] = f1[j, ln] - f0[j, ln]
    d2 = _norm(u, ln, scale) / h0
    big = np.maximum(d1, d2)
    h1 = np.maximum(1e-6, h0 * 1e-3) if big <= 1e-15 else (0.01 / big) ** _INITIAL_POWER
    return _nmin(100 * h0, h1)
