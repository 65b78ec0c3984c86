"""The ode engine's compiled kernel: Rodas5P child by child in numba (the optional `fast` extra).

The same algorithm as `_stepping` (for method "rodas5p", dense outputs, no step bound),
child by child in one compiled loop instead of numpy calls over the cohort in lockstep:
Rodas5P's coefficients from `_rodas`, scipy's step-size rules (SAFETY 0.9, factors
0.2-10, the factor in float32 as `_stepping` computes it, no growth after a rejection),
the first step by select_initial_step, a repeated dose restarting from the step its
predecessor settled on (`h_event`), steps landing on events, outputs between steps from
the dense output and, at an event time, before the events unless `output_after`. Every
operation in the order `_rodas` and `_stepping` do it, so a child's numbers are its own
(no batch) and differ from the numpy path's only where numpy's float32 exp and log of
the step factor round otherwise (a step size changed by ~1e-7 relative now and then).

The model comes in as two first-class functions, rhs(t, A (m,), H (n_static,), out (m,))
and jac(..., out (m * m,)), compiled from `_codegen`'s scalar writer for each model (once
per process and source: `_MODELS`); the kernel itself is compiled once, with an explicit
signature, and cached on disk (numba's cache=True, beside this file in __pycache__).
The models' static parts (parameters, covariates) come per epoch, (n_epochs, n, n_static).
"""

import math
from typing import Any

import numpy as np
from numba import cfunc, njit, types
from numba.extending import intrinsic

from ._rodas import _A, _C, _D, _H, C_NODES, ERROR_ORDER, GAMMA
from ._stepping import _DT_DELTA, MAX_FACTOR, MIN_FACTOR, SAFETY

DOSE, RATE, EPOCH = 0, 1, 2  # `_cohort`'s event kinds the kernel applies (STEADY it refuses)
_F64, _I64, _B = types.float64, types.int64, types.boolean
_P = types.CPointer(_F64)
# raw pointers: an array argument is 7 fields to pass and a reference to count, per call
MODEL = types.FunctionType(types.void(_F64, _P, _P, _P))
_EXPONENT32 = np.float32(0.5 * (-1.0 / (ERROR_ORDER + 1)))  # of the squared error norm
_SAFETY32 = np.float32(SAFETY)
_INITIAL_POWER = 1 / (ERROR_ORDER + 1)
_A9 = np.ascontiguousarray(_A)
_C8 = np.ascontiguousarray(_C)
_D8 = np.ascontiguousarray(_D)
_H38 = np.ascontiguousarray(_H)
_NODES = np.ascontiguousarray(C_NODES)
_MODELS: dict[str, tuple] = {}  # generated source -> (rhs, jac), compiled once per process


def model_functions(rhs_source: str, jac_source: str) -> tuple:
    """The model's rhs and Jacobian as numba functions of type MODEL, compiled once per source."""
    key = rhs_source + "\n" + jac_source
    if key not in _MODELS:
        functions = []
        for source in (rhs_source, jac_source):
            namespace: dict = {"math": math, "np": np}
            exec(compile(source, "<pkmodel kernel model>", "exec"), namespace)  # _codegen's names only
            functions.append(cfunc(MODEL.signature, error_model="numpy")(namespace["run"]))
        _MODELS[key] = tuple(functions)
    return _MODELS[key]


def _pointer(typingctx, array):
    """The data pointer of a C-contiguous float64 array (no reference counted)."""

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return _P(array), codegen


_ptr: Any = intrinsic(_pointer)  # _ptr(array) in compiled code


@njit(cache=True, error_model="numpy", inline="always")
def _f(rhs, t, y, h, out, into, rate):
    rhs(t, _ptr(y), _ptr(h), _ptr(out))
    if into >= 0:
        out[into] += rate


@njit(cache=True, error_model="numpy", inline="always")
def _norm(x, scale):
    """Root-mean-square of x / scale over the states (`_stepping._norm`)."""
    s = 0.0
    for j in range(x.size):
        v = x[j] / scale[j]
        s += v * v
    return math.sqrt(s / x.size)


@njit(cache=True, error_model="numpy", inline="always")
def _nmin(a, b):
    return np.minimum(a, b)


@njit(cache=True, error_model="numpy", inline="always")
def _initial_step(rhs, t, y, span, rtol, atol, hr, into, rate, f0, f1, u, scale):
    """select_initial_step as `_stepping._reset_step` computes it."""
    m = y.size
    for j in range(m):
        scale[j] = atol[j] + abs(y[j]) * rtol
    _f(rhs, t, y, hr, f0, into, rate)
    d0 = _norm(y, scale)
    d1 = _norm(f0, scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    if span > 0:
        h0 = _nmin(h0, span)
    for j in range(m):
        u[j] = y[j] + h0 * f0[j]
    _f(rhs, t + h0, u, hr, f1, into, rate)
    for j in range(m):
        u[j] = f1[j] - f0[j]
    d2 = _norm(u, scale) / h0
    big = np.maximum(d1, d2)
    h1 = np.maximum(1e-6, h0 * 1e-3) if big <= 1e-15 else (0.01 / big) ** _INITIAL_POWER
    return _nmin(100 * h0, h1)


_SIGNATURE = _I64(
    MODEL,
    MODEL,
    _F64[:, :, ::1],
    _F64[:, :, ::1],
    _I64,
    _I64[::1],
    _F64[::1],
    _I64[::1],
    _F64[::1],
    _I64[::1],
    _I64[::1],
    _I64[::1],
    _F64[::1],
    _B[::1],
    _F64[::1],
    _F64,
    _F64[:, ::1],
    _B,
    _F64[:, ::1],
    _I64[::1],
    _I64[::1],
    _F64[::1],
)


@njit(_SIGNATURE, cache=True, error_model="numpy")
def _integrate(
    rhs,
    jac,
    h_rhs,
    h_jac,
    into,
    ev_off,
    ev_t,
    ev_kind,
    ev_value,
    ev_cmt,
    ev_epoch,
    out_off,
    out_t,
    out_after,
    t0,
    rtol,
    atol,
    autonomous,
    result,
    n_steps,
    n_rejected,
    failure,
):
    """Every child in turn; returns -1, or the child whose step fell below the spacing of
    floating-point numbers (failure: its t and h)."""
    n, m = atol.shape
    y, f0, f1, dfdt, scale = np.zeros(m), np.empty(m), np.empty(m), np.zeros(m), np.empty(m)
    stages, y_new, u, f, w = np.empty((8, m)), np.empty(m), np.empty(m), np.empty(m), np.empty((m, m))
    inverse, perm, scratch, jflat = np.empty(m), np.empty(m, dtype=np.int64), np.empty(m), np.empty(m * m)
    p_y, p_f0, p_f1, p_scale, p_u, p_f = _ptr(y), _ptr(f0), _ptr(f1), _ptr(scale), _ptr(u), _ptr(f)
    p_jflat = _ptr(jflat)
    for i in range(n):
        o, o_end, e, e_end = out_off[i], out_off[i + 1], ev_off[i], ev_off[i + 1]
        if o == o_end:
            continue
        tol = atol[i]
        t = t0[i]
        y[:] = 0.0
        rate = 0.0
        hr, hj = h_rhs[0, i], h_jac[0, i]
        p_hr, p_hj = _ptr(hr), _ptr(hj)
        last = out_t[o_end - 1]
        next_ev = ev_t[e] if e < e_end else np.inf
        next_out = out_t[o]
        rejected, fresh, h_event = False, False, np.nan
        h = _initial_step(rhs, t, y, min(next_ev, last) - t, rtol, tol, hr, into, rate, f0, f1, u, scale)
        while True:
            if t == next_out or t == next_ev:
                first_out, first_ev = o, e
                while o < o_end and out_t[o] == t:
                    if not out_after[o]:
                        for j in range(m):
                            result[o, j] = y[j]
                    o += 1
                while e < e_end and ev_t[e] == t:
                    kind = ev_kind[e]
                    if kind == DOSE:
                        y[ev_cmt[e]] += ev_value[e]
                    elif kind == RATE:
                        rate += ev_value[e]
                    elif kind == EPOCH:
                        hr, hj = h_rhs[ev_epoch[e], i], h_jac[ev_epoch[e], i]
                        p_hr, p_hj = _ptr(hr), _ptr(hj)
                    e += 1
                for p in range(first_out, o):
                    if out_after[p]:
                        for j in range(m):
                            result[p, j] = y[j]
                next_out = out_t[o] if o < o_end else np.inf
                next_ev = ev_t[e] if e < e_end else np.inf
                if e != first_ev:
                    if np.isfinite(h_event):
                        h = h_event
                    else:
                        h = _initial_step(
                            rhs, t, y, min(next_ev, last) - t, rtol, tol, hr, into, rate, f0, f1, u, scale
                        )
                    rejected = False
                    fresh = True
                if next_out == np.inf:
                    break
            target = min(next_ev, last)
            span = target - t
            land = span <= h
            hs = span if land else (0.5 * span if span < 2 * h else h)
            if hs < 10 * np.spacing(t):
                failure[0], failure[1] = t, hs
                return i
            rhs(t, p_y, p_hr, p_f0)
            if into >= 0:
                f0[into] += rate
            if not autonomous:
                delta = _DT_DELTA * max(1.0, abs(t))
                rhs(t + delta, p_y, p_hr, p_f1)
                rhs(t - delta, p_y, p_hr, p_scale)
                if into >= 0:
                    f1[into] += rate
                    scale[into] += rate
                for j in range(m):
                    dfdt[j] = (f1[j] - scale[j]) / (2 * delta)
            # --- one Rodas5P step (`_rodas.step`), written out: a helper taking arrays costs an
            # atomic incref and decref per array per call (numba's NRT), ~60 a step
            jac(t, p_y, p_hj, p_jflat)
            shift = 1.0 / (GAMMA * hs)
            for a in range(m):
                for b in range(m):
                    w[a, b] = -jflat[a * m + b]
                w[a, a] += shift
                perm[a] = a
            moved = False  # `_rodas.lu_factor`: partial pivoting, the first largest
            for p in range(m):
                if p < m - 1:
                    q, best = p, abs(w[p, p])
                    for r in range(p + 1, m):
                        if abs(w[r, p]) > best:
                            q, best = r, abs(w[r, p])
                    if q != p:
                        moved = True
                        for c in range(m):
                            w[p, c], w[q, c] = w[q, c], w[p, c]
                        perm[p], perm[q] = perm[q], perm[p]
                inverse[p] = 1.0 / w[p, p]
                if p < m - 1:
                    for r in range(p + 1, m):
                        w[r, p] *= inverse[p]
                    for r in range(p + 1, m):
                        if w[r, p] != 0.0:
                            for c in range(p + 1, m):
                                w[r, c] -= w[r, p] * w[p, c]
            inv_h = 1.0 / hs
            for i_ in range(8):
                if i_ == 0:
                    for j in range(m):
                        stages[0, j] = f0[j]
                else:
                    if i_ >= 6:  # stages 7 and 8 continue from the previous argument
                        for j in range(m):
                            u[j] += stages[i_ - 1, j]
                    else:
                        for j in range(m):
                            s = 0.0
                            for k in range(i_):
                                if _A9[i_, k] != 0.0:
                                    s += stages[k, j] * _A9[i_, k]
                            u[j] = s + y[j]
                    rhs(t + _NODES[i_] * hs, p_u, p_hr, p_f)
                    if into >= 0:
                        f[into] += rate
                    for j in range(m):
                        s = 0.0
                        for k in range(i_):
                            if _C8[i_, k] != 0.0:
                                s += stages[k, j] * _C8[i_, k]
                        stages[i_, j] = s * inv_h + f[j]
                if not autonomous and _D8[i_] != 0.0:
                    for j in range(m):
                        stages[i_, j] += dfdt[j] * (_D8[i_] * hs)
                if moved:  # `_rodas.lu_solve`, the terms of a zero factor skipped as there
                    for r in range(m):
                        scratch[r] = stages[i_, perm[r]]
                    for r in range(m):
                        stages[i_, r] = scratch[r]
                for p in range(m - 1):
                    for q in range(p + 1, m):
                        if w[q, p] != 0.0:
                            stages[i_, q] -= w[q, p] * stages[i_, p]
                for p in range(m - 1, -1, -1):
                    stages[i_, p] *= inverse[p]
                    for q in range(p):
                        if w[q, p] != 0.0:
                            stages[i_, q] -= w[q, p] * stages[i_, p]
            for j in range(m):
                y_new[j] = u[j] + stages[7, j]
            err = 0.0
            for j in range(m):
                v = stages[7, j] / (np.maximum(abs(y[j]), abs(y_new[j])) * rtol + tol[j])
                err += v * v
            err *= 1.0 / m
            ok = err <= 1.0
            factor = np.float64(_SAFETY32 * np.exp(np.log(np.float32(err)) * _EXPONENT32))
            if ok:
                h_next = hs * np.minimum(1.0 if rejected else MAX_FACTOR, factor)
                if land:
                    h_next = np.maximum(h_next, np.minimum(h, hs * factor))
                t_new = target if land else t + hs
                while o < o_end and out_t[o] < t_new:  # `_rodas.dense`, its coefficients in order
                    theta = (out_t[o] - t) / hs
                    rest = 1.0 - theta
                    for j in range(m):
                        h1, h2, h3 = 0.0, 0.0, 0.0
                        for k in range(8):
                            h1 += _H38[0, k] * stages[k, j]
                            h2 += _H38[1, k] * stages[k, j]
                            h3 += _H38[2, k] * stages[k, j]
                        value = h3 * theta
                        value += h2
                        value *= theta
                        value += h1
                        value *= rest
                        value += y_new[j]
                        value *= theta
                        value += rest * y[j]
                        result[o, j] = value
                    o += 1
                next_out = out_t[o] if o < o_end else np.inf
                n_steps[i] += 1
                for j in range(m):
                    y[j] = y_new[j]
                t = t_new
            else:
                h_next = hs * np.fmax(MIN_FACTOR, factor)
                n_rejected[i] += 1
            if fresh and ok:
                if hs == h:
                    h_event = h_next
                fresh = False
            h = h_next
            rejected = not ok
    return -1


def integrate(rhs, jac, h_rhs, h_jac, into, events, output_offsets, output_times, t0, rtol, atol, autonomous):
    """Each child's amounts at its outputs, shape (n_outputs, m), in the CSR order of output_times,
    with the accepted and rejected steps of each child, each (n,).

    rhs, jac : `model_functions`'; h_rhs, h_jac : each epoch's static parts, (n_epochs, n,
    n_static); into : the infusion compartment (-1: none); events : `_cohort._events`' (no
    STEADY); t0 : (n,), h; atol : (n, m), mg. A child's step below the spacing of
    floating-point numbers raises, as in `_stepping`.
    """
    n, m = atol.shape
    result = np.full((output_times.size, m), np.nan)
    n_steps, n_rejected, failure = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(2)
    # the signature's arrays: C-contiguous and writeable (a broadcast view is read-only)
    i64 = lambda a: np.require(a, dtype=np.int64, requirements=["C", "W"])  # noqa: E731
    f64 = lambda a: np.require(a, dtype=np.float64, requirements=["C", "W"])  # noqa: E731
    bad = _integrate(
        rhs,
        jac,
        f64(h_rhs),
        f64(h_jac),
        int(into),
        i64(events["offsets"]),
        f64(events["time"]),
        i64(events["kind"]),
        f64(events["value"]),
        i64(events["compartment"]),
        i64(events["epoch"]),
        i64(output_offsets),
        f64(output_times),
        np.zeros(output_times.size, dtype=np.bool_),
        f64(t0),
        float(rtol),
        f64(atol),
        bool(autonomous),
        result,
        n_steps,
        n_rejected,
        failure,
    )
    if bad >= 0:
        raise RuntimeError(
            f"integrate: subject {bad}'s step fell to {failure[1]:.3g} h at t = {float(failure[0])!r} h "
            "(below the spacing of floating-point numbers there)"
        )
    return result, n_steps, n_rejected
