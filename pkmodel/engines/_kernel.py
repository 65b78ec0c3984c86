"""The ode engine's compiled kernel: Rodas5P child by child in numba (the optional `fast` extra).

The same algorithm as `_stepping` (for method "rodas5p", dense outputs, no step bound),
each child on its own in one compiled loop instead of numpy calls over the cohort in
lockstep: Rodas5P's coefficients from `_rodas`, scipy's step-size rules (SAFETY 0.9,
factors 0.2-10, the factor in float32 as `_stepping` computes it, no growth after a
rejection), the first step by select_initial_step, a repeated dose restarting from the
step its predecessor settled on (`h_event`), steps landing on events, outputs between
steps from the dense output and, at an event time, before the events unless
`output_after`. Every operation in the order `_rodas` and `_stepping` do it, so a child's
numbers are its own (no batch) and differ from the numpy path's only where numpy's float32
exp and log of the step factor round otherwise (a step size changed by ~1e-7 relative now
and then).

Lanes: LANES children are stepped at once, lane-major (work arrays [..., lane]), each lane
with its own t, step, events and outputs; a lane whose child is done takes the next child.
The stage sums and the triangular solves run over the lanes as LLVM vectors (`_lanes`:
numba cannot tell its work arrays apart, so it leaves such loops scalar); the decisions
(events, outputs, accepting a step, pivoting) are each lane's own. Threads: `integrate`
splits the children into contiguous runs, one per thread (the compiled loop holds no GIL).

The model comes in as two first-class functions over the lanes, rhs(T (LANES,), A (m, LANES),
H (n_static, LANES), out (m, LANES)) and jac(..., out (m * m, LANES)), as raw pointers,
compiled from `_codegen`'s writer (`CompiledSystem.lane_sources`) for each model (once per
process and source: `_MODELS`); the kernel itself is compiled once, with an explicit
signature, and cached on disk (numba's cache=True, beside this file in __pycache__).
The models' static parts (parameters, covariates) come per epoch, (n_epochs, n, n_static).
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import cfunc, njit, types

from ._lanes import (
    LANES,
    MODEL,
    _initial_step,
    _ptr,
    v_acc,
    v_add,
    v_axpy,
    v_copy,
    v_eliminate,
    v_mul_add,
    v_scale,
)
from ._rodas import _A, _C, _D, _H, C_NODES, ERROR_ORDER, GAMMA
from ._stepping import _DT_DELTA, MAX_FACTOR, MIN_FACTOR, SAFETY

DOSE, RATE, EPOCH = 0, 1, 2  # `_cohort`'s event kinds the kernel applies (STEADY it refuses)
_F64, _I64, _B = types.float64, types.int64, types.boolean
_EXPONENT32 = np.float32(0.5 * (-1.0 / (ERROR_ORDER + 1)))  # of the squared error norm
_SAFETY32 = np.float32(SAFETY)
_TEN_EPS = 10 * np.finfo(float).eps
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


@njit(cache=True, error_model="numpy", inline="always")
def _combine(acc, zeros, stages, coefficients, i_, j):
    """acc = sum over k < i_ of coefficients[i_, k] * stages[k, j] over the lanes, the zero
    coefficients skipped and the terms added in order (`_rodas`'s stage sums)."""
    m = stages.shape[1]
    v_copy(acc, 0, zeros, 0)
    for k in range(i_):
        c = coefficients[i_, k]
        if c != 0.0:
            v_axpy(acc, 0, stages, k * m * LANES + j * LANES, c)


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
    _I64,
    _I64,
    _B,
)


@njit(_SIGNATURE, cache=True, error_model="numpy", nogil=True)
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
    lo,
    hi,
    shared,
):
    """The children lo to hi - 1, LANES at a time (a lane takes the next child when its own is done);
    returns -1, or the child whose step fell below the spacing of floating-point numbers
    (failure: its t and h). shared: out_t and out_after are every child's one grid (child i's
    output k at row out_off[i] + k), else CSR like the rows."""
    n, m = atol.shape
    L = LANES
    n_hr, n_hj = h_rhs.shape[2], h_jac.shape[2]
    # lane-major work arrays: [..., l] is lane l's
    y, f0, f1, dfdt, scale = (
        np.zeros((m, L)),
        np.zeros((m, L)),
        np.zeros((m, L)),
        np.zeros((m, L)),
        np.zeros((m, L)),
    )
    y_new, u, f, tol = np.zeros((m, L)), np.zeros((m, L)), np.zeros((m, L)), np.ones((m, L))
    i0, i1, iu, isc = np.zeros((m, L)), np.zeros((m, L)), np.zeros((m, L)), np.zeros((m, L))  # initial steps'
    stages, w, jflat = np.zeros((8, m, L)), np.zeros((m, m, L)), np.zeros((m * m, L))
    inverse, perm, scratch = np.ones((m, L)), np.zeros((m, L), dtype=np.int64), np.zeros(m)
    hr, hj = np.zeros((n_hr, L)), np.zeros((n_hj, L))
    tt, acc, inv_h, err = np.zeros(L), np.zeros(L), np.ones(L), np.zeros(L)
    zeros, dh = np.zeros(L), np.zeros(L)
    p_y, p_f0, p_f1, p_scale, p_u, p_f = _ptr(y), _ptr(f0), _ptr(f1), _ptr(scale), _ptr(u), _ptr(f)
    p_jflat, p_hr, p_hj, p_tt = _ptr(jflat), _ptr(hr), _ptr(hj), _ptr(tt)
    child, tb = np.full(L, -1, dtype=np.int64), np.zeros(L, dtype=np.int64)  # tb: o - tb indexes out_t
    o, o_end, e, e_end = (
        np.zeros(L, np.int64),
        np.zeros(L, np.int64),
        np.zeros(L, np.int64),
        np.zeros(L, np.int64),
    )
    t, h, hs, target, last = np.zeros(L), np.ones(L), np.ones(L), np.zeros(L), np.zeros(L)
    next_ev, next_out, rate, h_event = np.zeros(L), np.zeros(L), np.zeros(L), np.zeros(L)
    land, rejected = np.zeros(L, dtype=np.bool_), np.zeros(L, dtype=np.bool_)
    fresh, moved = np.zeros(L, dtype=np.bool_), np.zeros(L, dtype=np.bool_)
    taken, busy = lo, 0  # the next child to hand to a lane; lanes with a child
    while True:
        # --- each lane: its events and outputs at t, a new child where its own is done, its step
        for ln in range(L):
            while True:
                if child[ln] < 0:  # the lane takes the next child with outputs, or stays idle
                    while taken < hi and out_off[taken] == out_off[taken + 1]:
                        taken += 1
                    if taken == hi:
                        break
                    i = taken
                    taken += 1
                    busy += 1
                    child[ln] = i
                    o[ln], o_end[ln], e[ln], e_end[ln] = out_off[i], out_off[i + 1], ev_off[i], ev_off[i + 1]
                    tb[ln] = out_off[i] if shared else 0
                    t[ln] = t0[i]
                    rate[ln] = 0.0
                    for j in range(m):
                        y[j, ln] = 0.0
                        tol[j, ln] = atol[i, j]
                    for k in range(n_hr):
                        hr[k, ln] = h_rhs[0, i, k]
                    for k in range(n_hj):
                        hj[k, ln] = h_jac[0, i, k]
                    last[ln] = out_t[o_end[ln] - 1 - tb[ln]]
                    next_ev[ln] = ev_t[e[ln]] if e[ln] < e_end[ln] else np.inf
                    next_out[ln] = out_t[o[ln] - tb[ln]]
                    rejected[ln], fresh[ln], h_event[ln] = False, False, np.nan
                    h[ln] = _initial_step(
                        rhs,
                        ln,
                        t[ln],
                        y,
                        min(next_ev[ln], last[ln]) - t[ln],
                        rtol,
                        tol,
                        hr,
                        into,
                        0.0,
                        tt,
                        i0,
                        i1,
                        iu,
                        isc,
                    )
                i = child[ln]
                tl = t[ln]
                if tl == next_out[ln] or tl == next_ev[ln]:
                    first_out, first_ev = o[ln], e[ln]
                    while o[ln] < o_end[ln] and out_t[o[ln] - tb[ln]] == tl:
                        if not out_after[o[ln] - tb[ln]]:
                            for j in range(m):
                                result[o[ln], j] = y[j, ln]
                        o[ln] += 1
                    while e[ln] < e_end[ln] and ev_t[e[ln]] == tl:
                        q = e[ln]
                        kind = ev_kind[q]
                        if kind == DOSE:
                            y[ev_cmt[q], ln] += ev_value[q]
                        elif kind == RATE:
                            rate[ln] += ev_value[q]
                        elif kind == EPOCH:
                            for k in range(n_hr):
                                hr[k, ln] = h_rhs[ev_epoch[q], i, k]
                            for k in range(n_hj):
                                hj[k, ln] = h_jac[ev_epoch[q], i, k]
                        e[ln] += 1
                    for p in range(first_out, o[ln]):
                        if out_after[p - tb[ln]]:
                            for j in range(m):
                                result[p, j] = y[j, ln]
                    next_out[ln] = out_t[o[ln] - tb[ln]] if o[ln] < o_end[ln] else np.inf
                    next_ev[ln] = ev_t[e[ln]] if e[ln] < e_end[ln] else np.inf
                    if e[ln] != first_ev:
                        if np.isfinite(h_event[ln]):
                            h[ln] = h_event[ln]
                        else:
                            h[ln] = _initial_step(
                                rhs,
                                ln,
                                tl,
                                y,
                                min(next_ev[ln], last[ln]) - tl,
                                rtol,
                                tol,
                                hr,
                                into,
                                rate[ln],
                                tt,
                                i0,
                                i1,
                                iu,
                                isc,
                            )
                        rejected[ln] = False
                        fresh[ln] = True
                    if next_out[ln] == np.inf:
                        child[ln] = -1
                        busy -= 1
                        continue
                target[ln] = min(next_ev[ln], last[ln])
                span = target[ln] - tl
                land[ln] = span <= h[ln]
                hs[ln] = span if land[ln] else (0.5 * span if span < 2 * h[ln] else h[ln])
                # np.spacing (a call) only where the step is near it: spacing(t) <= eps |t|
                if (hs[ln] <= _TEN_EPS * abs(tl) or hs[ln] < 1e-300) and hs[ln] < 10 * np.spacing(tl):
                    failure[0], failure[1] = tl, hs[ln]
                    return i
                break
            if child[ln] < 0:  # idle: a harmless step of its stale numbers, never read
                t[ln], hs[ln] = 0.0, 1.0
        if busy == 0:
            break
        # --- one Rodas5P step (`_rodas.step`) of every lane, each with its own t and hs
        for ln in range(L):
            tt[ln] = t[ln]
        rhs(p_tt, p_y, p_hr, p_f0)
        if into >= 0:
            for ln in range(L):
                f0[into, ln] += rate[ln]
        if not autonomous:
            for ln in range(L):
                acc[ln] = _DT_DELTA * max(1.0, abs(t[ln]))
                tt[ln] = t[ln] + acc[ln]
            rhs(p_tt, p_y, p_hr, p_f1)
            for ln in range(L):
                tt[ln] = t[ln] - acc[ln]
            rhs(p_tt, p_y, p_hr, p_scale)
            for ln in range(L):
                if into >= 0:
                    f1[into, ln] += rate[ln]
                    scale[into, ln] += rate[ln]
                for j in range(m):
                    dfdt[j, ln] = (f1[j, ln] - scale[j, ln]) / (2 * acc[ln])
                tt[ln] = t[ln]
        jac(p_tt, p_y, p_hj, p_jflat)
        for ln in range(L):
            shift = 1.0 / (GAMMA * hs[ln])
            for a in range(m):
                for b in range(m):
                    w[a, b, ln] = -jflat[a * m + b, ln]
                w[a, a, ln] += shift
                perm[a, ln] = a
        for ln in range(L):  # `_rodas.lu_factor`: partial pivoting, the first largest
            moved[ln] = False
            for p in range(m):
                if p < m - 1:
                    q, best = p, abs(w[p, p, ln])
                    for r in range(p + 1, m):
                        if abs(w[r, p, ln]) > best:
                            q, best = r, abs(w[r, p, ln])
                    if q != p:
                        moved[ln] = True
                        for c in range(m):
                            w[p, c, ln], w[q, c, ln] = w[q, c, ln], w[p, c, ln]
                        perm[p, ln], perm[q, ln] = perm[q, ln], perm[p, ln]
                inverse[p, ln] = 1.0 / w[p, p, ln]
                if p < m - 1:
                    for r in range(p + 1, m):
                        w[r, p, ln] *= inverse[p, ln]
                    for r in range(p + 1, m):
                        if w[r, p, ln] != 0.0:
                            for c in range(p + 1, m):
                                w[r, c, ln] -= w[r, p, ln] * w[p, c, ln]
        any_moved = False
        for ln in range(L):
            inv_h[ln] = 1.0 / hs[ln]
            any_moved = any_moved or moved[ln]
        for i_ in range(8):
            row = i_ * m * L  # stages[i_] at row + j * L
            if i_ == 0:
                for j in range(m):
                    v_copy(stages, j * L, f0, j * L)
            else:
                if i_ >= 6:  # stages 7 and 8 continue from the previous argument
                    for j in range(m):
                        v_add(u, j * L, u, j * L, stages, (i_ - 1) * m * L + j * L)
                else:
                    for j in range(m):
                        _combine(acc, zeros, stages, _A9, i_, j)
                        v_add(u, j * L, acc, 0, y, j * L)
                node = _NODES[i_]
                for ln in range(L):
                    tt[ln] = t[ln] + node * hs[ln]
                rhs(p_tt, p_u, p_hr, p_f)
                if into >= 0:
                    for ln in range(L):
                        f[into, ln] += rate[ln]
                for j in range(m):
                    _combine(acc, zeros, stages, _C8, i_, j)
                    v_mul_add(stages, row + j * L, acc, 0, inv_h, 0, f, j * L)
            if not autonomous and _D8[i_] != 0.0:
                d = _D8[i_]
                for ln in range(L):
                    dh[ln] = d * hs[ln]
                for j in range(m):
                    v_acc(stages, row + j * L, dfdt, j * L, dh, 0)
            if any_moved:  # `_rodas.lu_solve`, the terms of a zero factor skipped as there
                for ln in range(L):
                    if moved[ln]:
                        for r in range(m):
                            scratch[r] = stages[i_, perm[r, ln], ln]
                        for r in range(m):
                            stages[i_, r, ln] = scratch[r]
            for p in range(m - 1):
                for q in range(p + 1, m):
                    v_eliminate(stages, row + q * L, w, (q * m + p) * L, stages, row + p * L)
            for p in range(m - 1, -1, -1):
                v_scale(stages, row + p * L, inverse, p * L)
                for q in range(p):
                    v_eliminate(stages, row + q * L, w, (q * m + p) * L, stages, row + p * L)
        for ln in range(L):
            err[ln] = 0.0
        for j in range(m):
            for ln in range(L):
                y_new[j, ln] = u[j, ln] + stages[7, j, ln]
                v = stages[7, j, ln] / (np.maximum(abs(y[j, ln]), abs(y_new[j, ln])) * rtol + tol[j, ln])
                err[ln] += v * v
        # --- each lane: accepted or rejected, its outputs inside the step, its next step size
        for ln in range(L):
            i = child[ln]
            if i < 0:
                continue
            er = err[ln] * (1.0 / m)
            ok = er <= 1.0
            factor = np.float64(_SAFETY32 * np.exp(np.log(np.float32(er)) * _EXPONENT32))
            hl, hsl, tl = h[ln], hs[ln], t[ln]
            if ok:
                h_next = hsl * np.minimum(1.0 if rejected[ln] else MAX_FACTOR, factor)
                if land[ln]:
                    h_next = np.maximum(h_next, np.minimum(hl, hsl * factor))
                t_new = target[ln] if land[ln] else tl + hsl
                while (
                    o[ln] < o_end[ln] and out_t[o[ln] - tb[ln]] < t_new
                ):  # `_rodas.dense`, its coefficients in order
                    theta = (out_t[o[ln] - tb[ln]] - tl) / hsl
                    rest = 1.0 - theta
                    for j in range(m):
                        h1, h2, h3 = 0.0, 0.0, 0.0
                        for k in range(8):
                            h1 += _H38[0, k] * stages[k, j, ln]
                            h2 += _H38[1, k] * stages[k, j, ln]
                            h3 += _H38[2, k] * stages[k, j, ln]
                        value = h3 * theta
                        value += h2
                        value *= theta
                        value += h1
                        value *= rest
                        value += y_new[j, ln]
                        value *= theta
                        value += rest * y[j, ln]
                        result[o[ln], j] = value
                    o[ln] += 1
                next_out[ln] = out_t[o[ln] - tb[ln]] if o[ln] < o_end[ln] else np.inf
                n_steps[i] += 1
                for j in range(m):
                    y[j, ln] = y_new[j, ln]
                t[ln] = t_new
            else:
                h_next = hsl * np.fmax(MIN_FACTOR, factor)
                n_rejected[i] += 1
            if fresh[ln] and ok:
                if hsl == hl:
                    h_event[ln] = h_next
                fresh[ln] = False
            h[ln] = h_next
            rejected[ln] = not ok
    return -1


def integrate(
    rhs,
    jac,
    h_rhs,
    h_jac,
    into,
    events,
    output_offsets,
    output_times,
    t0,
    rtol,
    atol,
    autonomous,
    threads=1,
    shared=False,
):
    """Each child's amounts at its outputs, shape (n_outputs, m), in the CSR order of
    output_offsets, with the accepted and rejected steps of each child, each (n,).

    rhs, jac : `model_functions`'; h_rhs, h_jac : each epoch's static parts, (n_epochs, n,
    n_static); into : the infusion compartment (-1: none); events : `_cohort._events`' (no
    STEADY); output_times : CSR by output_offsets, or, shared, the one grid (n_times,) of
    every child (output_offsets then the multiples of n_times); t0 : (n,), h; atol : (n, m),
    mg; threads : the children split into this many contiguous runs, stepped at once on as
    many threads (the kernel holds no GIL); a child's numbers are its own whatever the
    split. A child's step below the spacing of floating-point numbers raises, as in
    `_stepping`.
    """
    n, m = atol.shape
    result = np.full((int(output_offsets[-1]), m), np.nan)
    n_steps, n_rejected = np.zeros(n, np.int64), np.zeros(n, np.int64)
    # the signature's arrays: C-contiguous and writeable (a broadcast view is read-only)
    i64 = lambda a: np.require(a, dtype=np.int64, requirements=["C", "W"])  # noqa: E731
    f64 = lambda a: np.require(a, dtype=np.float64, requirements=["C", "W"])  # noqa: E731
    arguments = (
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
    )
    bounds = np.linspace(0, n, max(1, min(int(threads), n)) + 1).round().astype(int)
    runs = list(zip(bounds[:-1], bounds[1:]))
    failures = [np.zeros(2) for _ in runs]
    run = lambda k: _integrate(*arguments, failures[k], int(runs[k][0]), int(runs[k][1]), bool(shared))  # noqa: E731
    if len(runs) == 1:
        bad = [run(0)]
    else:
        with ThreadPoolExecutor(len(runs)) as pool:
            bad = list(pool.map(run, range(len(runs))))
    for k, child in enumerate(bad):
        if child >= 0:
            raise RuntimeError(
                f"integrate: subject {child}'s step fell to {failures[k][1]:.3g} h at t = "
                f"{float(failures[k][0])!r} h (below the spacing of floating-point numbers there)"
            )
    return result, n_steps, n_rejected
