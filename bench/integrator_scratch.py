"""Scratch benchmark of the batched integrator (pkmodel/engines/_integrator.py), not a test.

    .venv/bin/python -m bench.integrator_scratch W1 W2 W6 W4c --n 10000 --repeats 3

Each workload: N children (weights uniform 10-50 kg, numpy.random.default_rng(1)),
log-normal IIV, 2 mg/kg/day TID (0.667 mg/kg every 8 h, 42 doses) for 14 days,
output every 0.5 h from 0 to 336 h (673 times), a concentration per output.

- W1: one compartment, first-order absorption: CL 0.273 L/h/kg, V 1.7723508577 L/kg,
  ka 2.5706940874 /h, IIV omega 0.334 / 0.439 / 0.837.
- W2: two compartments, depot + 3 transit compartments (6 states, linear), rate
  matrices from pkmodel.structures.Structure('two_compartment_oral', 'transit', 3):
  CL 0.273 L/h/kg, V1 0.4552 L/kg, V2 0.7048 L/kg, Q 0.2335 L/h/kg, MTT 0.389 h;
  IIV omega 0.334 on CL, 0.439 on V1 and V2 (one eta), 0.837 on MTT.
- W6: W1 with CL replaced by Michaelis-Menten elimination Vmax C / (Km + C), the numbers of
  bench/models/w6_mm_oral.toml: Vmax 0.16653 mg/h/kg (IIV 0.334), Km 0.305 mg/L (no IIV):
  Vmax / (Km + C) is W1's CL at C = Km, about the steady-state Cavg: strongly nonlinear.
  Assumed numbers, for the benchmark only.
- W4c: W1 with the doses at 08:00, 14:00, 20:00 (t = 0 at midnight) each shifted by
  N(0, 0.5^2) h, 10 % of doses missed (numpy.random.default_rng(2)).

Reference answers: W1 and W4c closed form (superposition), W2 the matrix
exponential over each 0.5 h interval (scipy.linalg.expm), W6 the integrator at
rtol 1e-12 landing on every output. Ratio = median run / median floor, the floor
one np.exp over a float64 (N, 673) array into a preallocated one, timed before
each run in the same process.
"""

import argparse
import cProfile
import pstats
import resource
import sys
import time

import numpy as np
from scipy.linalg import expm

from pkmodel.engines._integrator import integrate
from pkmodel.model.structures import Structure

TIMES = np.arange(0, 336.5, 0.5)
MG_PER_KG_DOSE = 2.0 / 3
ATOL_PER_DOSE = 1e-9


def cohort(n, workload):
    rng = np.random.default_rng(1)
    wt = rng.uniform(10, 50, n)
    eta = rng.standard_normal((3, n))
    p = {"WT": wt}
    if workload == "W2":
        p["CL"] = 0.273 * wt * np.exp(0.334 * eta[0])
        p["V1"] = 0.4552 * wt * np.exp(0.439 * eta[1])
        p["V2"] = 0.7048 * wt * np.exp(0.439 * eta[1])
        p["Q"] = 0.2335 * wt
        p["MTT"] = 0.389 * np.exp(0.837 * eta[2])
    else:
        p["V"] = 1.7723508577 * wt * np.exp(0.439 * eta[1])
        p["ka"] = 2.5706940874 * np.exp(0.837 * eta[2])
        if workload == "W6":
            p["VM"] = 0.16653 * wt * np.exp(0.334 * eta[0])
            p["KM"] = np.full(n, 0.305)
        else:
            p["CL"] = 0.273 * wt * np.exp(0.334 * eta[0])
    return p


def doses(n, workload, p):
    """Per-child dose times (CSR) and amounts, mg."""
    if workload == "W4c":
        rng = np.random.default_rng(2)
        clock = (np.arange(14)[:, None] * 24 + np.array([8.0, 14.0, 20.0])).ravel()
        times = clock + rng.normal(0, 0.5, (n, clock.size))
        given = rng.uniform(size=(n, clock.size)) >= 0.1
        counts = given.sum(1)
        flat = times[given]
    else:
        counts = np.full(n, 42)
        flat = np.tile(np.arange(42) * 8.0, n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    amounts = np.repeat(MG_PER_KG_DOSE * p["WT"], counts)
    return offsets, flat, amounts


def system(workload, p):
    """rhs, jac, m, observe for the workload; amounts in mg, the depot first."""
    if workload == "W2":
        k = Structure("two_compartment_oral", "transit", 3).rate_matrix(p)
        m = k.shape[1]
        v = p["V1"]

        kt = np.ascontiguousarray(np.transpose(k, (1, 2, 0)))  # (m, m, n)
        nonzero = [(i, j) for i in range(m) for j in range(m) if np.any(kt[i, j])]

        def rhs(t, y, s):
            out = np.zeros((m, s.size))
            for i, j in nonzero:
                out[i] += kt[i, j, s] * y[:, j]
            return out.T

        def jac(t, y, s):
            return np.take(k, s, axis=0)

        return rhs, jac, m, lambda t, y, s: y[:, 4:5] / v[s, None]
    ka, v = p["ka"], p["V"]
    if workload == "W6":
        vm, km = p["VM"], p["KM"]

        def rhs(t, y, s):
            out = np.empty((2, s.size))  # returned transposed: (k, m), each state contiguous
            a = np.multiply(ka[s], y[:, 0], out=out[1])
            np.negative(a, out=out[0])
            c = y[:, 1] / v[s]
            out[1] -= vm[s] * c / (km[s] + c)
            return out.T

        def jac(t, y, s):
            j = np.zeros((s.size, 2, 2))
            c = y[:, 1] / v[s]
            j[:, 0, 0] = -ka[s]
            j[:, 1, 0] = ka[s]
            j[:, 1, 1] = -vm[s] * km[s] / (km[s] + c) ** 2 / v[s]
            return j
    else:
        ke = p["CL"] / v

        def rhs(t, y, s):
            out = np.empty((2, s.size))
            a = np.multiply(ka[s], y[:, 0], out=out[1])
            np.negative(a, out=out[0])
            out[1] -= ke[s] * y[:, 1]
            return out.T

        jac_all = np.zeros((v.size, 2, 2))
        jac_all[:, 0, 0] = -ka
        jac_all[:, 1, 0] = ka
        jac_all[:, 1, 1] = -ke

        def jac(t, y, s):
            return np.take(jac_all, s, axis=0)

    return rhs, jac, 2, lambda t, y, s: y[:, 1:2] / v[s, None]


def run(workload, n, rtol, dense, atol_per_dose=ATOL_PER_DOSE):
    p = cohort(n, workload)
    ev_off, ev_t, amount = doses(n, workload, p)
    rhs, jac, m, observe = system(workload, p)

    def on_event(t, y, s, e):
        y = y.copy()
        y[:, 0] += amount[e]
        return y

    out_off = np.arange(n + 1) * TIMES.size
    atol = atol_per_dose * MG_PER_KG_DOSE * p["WT"]
    return integrate(
        rhs,
        jac,
        np.zeros((n, m)),
        event_offsets=ev_off,
        event_times=ev_t,
        on_event=on_event,
        output_offsets=out_off,
        output_times=np.tile(TIMES, n),
        observe=observe,
        rtol=rtol,
        atol=atol,
        autonomous=True,
        dense=dense,
    )


def reference(workload, n):
    p = cohort(n, workload)
    ev_off, ev_t, amount = doses(n, workload, p)
    if workload == "W6":
        return run(workload, n, 1e-12, False, 1e-14).outputs[:, 0].reshape(n, TIMES.size)
    if workload == "W2":
        k = Structure("two_compartment_oral", "transit", 3).rate_matrix(p)
        step = expm(k * 0.5)
        y = np.zeros((n, k.shape[1]))
        out = np.empty((n, TIMES.size))
        dose_index = np.rint(np.arange(42) * 8.0 / 0.5).astype(int)
        for j in range(TIMES.size):
            out[:, j] = y[:, 4] / p["V1"]  # before the dose at this time
            if j in dose_index:
                y[:, 0] += MG_PER_KG_DOSE * p["WT"]
            y = np.einsum("kij,kj->ki", step, y)
        return out
    ke, ka, v = p["CL"] / p["V"], p["ka"], p["V"]
    out = np.zeros((n, TIMES.size))
    owner = np.repeat(np.arange(n), np.diff(ev_off))
    for lo in range(0, n, 250):
        sel = (owner >= lo) & (owner < lo + 250)
        s, td, d = owner[sel], ev_t[sel], amount[sel]
        tau = TIMES[None, :] - td[:, None]
        given = tau > 0
        tau = np.where(given, tau, 0.0)
        c = (d * ka[s] / (ka[s] - ke[s]) / v[s])[:, None] * (
            np.exp(-ke[s, None] * tau) - np.exp(-ka[s, None] * tau)
        )
        np.add.at(out, s, np.where(given, c, 0.0))
    return out


def error(c, ref):
    cmax = ref.max(1, keepdims=True)
    big = ref > 1e-3 * cmax
    rel = np.where(big, np.abs(c - ref) / np.where(big, ref, 1), 0).max(1)
    absolute = np.where(~big, np.abs(c - ref) / cmax, 0).max(1)
    return rel.max(), absolute.max()


def floor(a, b):
    start = time.perf_counter()
    np.exp(a, out=b)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("workloads", nargs="+")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rtol", type=float, default=None)
    parser.add_argument("--landing", action="store_true", help="land on every output (no dense output)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    n = args.n
    a = np.random.default_rng(0).uniform(-5, 0, (n, TIMES.size))
    b = np.empty_like(a)
    np.exp(a, out=b)
    for w in args.workloads:
        kwargs = {} if args.rtol is None else {"rtol": args.rtol}
        rtol = kwargs.get("rtol", integrate.__kwdefaults__["rtol"])
        dense = not args.landing
        if args.profile:
            cProfile.runctx("run(w, n, rtol, dense)", globals(), locals(), "/tmp/integrator.prof")
            pstats.Stats("/tmp/integrator.prof").sort_stats("tottime").print_stats(18)
            continue
        times, floors = [], []
        for _ in range(args.repeats):
            floors.append(floor(a, b))
            start = time.perf_counter()
            result = run(w, n, rtol, dense)
            times.append(time.perf_counter() - start)
        rel, absolute = error(result.outputs[:, 0].reshape(n, TIMES.size), reference(w, n))
        t, f = np.median(times), np.median(floors)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{w} N={n} rtol={rtol:g} {'dense' if dense else 'landing'}: {t:.3f} s, floor "
            f"{f * 1e3:.2f} ms, ratio {t / f:.0f}x; steps mean {result.n_steps.mean():.0f} max "
            f"{result.n_steps.max()}, rejected mean {result.n_rejected.mean():.2f}; max rel error "
            f"{rel:.2e} (C > 1e-3 Cmax), abs/Cmax {absolute:.2e}; peak RSS {peak:.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
