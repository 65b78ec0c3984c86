"""The ode engine's stacked path: scipy's solve_ivp on the whole cohort as one state.

`simulate` integrates a linear model's K @ y (a named structure, block-diagonal sparse K),
`simulate_stacked_system` any model of the language through its compiled right-hand side
(nonlinear ones too, with the steady state of a nonlinear model found as the dosing
interval's fixed point). One error norm over the stacked state, and children at their own
dose times on the union of everyone's times: an independent cross-check of the per-child
default (`ode.simulate_system`, rodas5p), and the one path for a nonlinear model's SS doses.
"""

from typing import Mapping

import numpy as np
from scipy import sparse
from scipy.integrate import solve_ivp

from ..dosing.doses import Doses, SubjectDoses
from ..model.structures import Structure
from .common import (
    Epochs,
    SubjectInputs,
    as_epochs,
    dose_input,
    last_event_before,
    shared_timeline,
    union_of_times,
)
from .linalg import steady_state
from .solutions import MatrixExponential

# solve_ivp's defaults here: DOP853's stacked error norm needs a tighter rtol for 1e-6 per child
SCIPY_OPTIONS = {"rtol": 1e-10, "atol": 1e-12}
# the union of per-child dose times, (n_subjects, n_times) amounts, holds at most this many
# (1 GiB); beyond it the engine refuses before allocating
MAX_UNION_AMOUNTS = 2**27
_SPARSE_JACOBIAN = {"Radau", "BDF"}  # LSODA gets the band instead


def simulate(
    structure: Structure,
    params: Mapping[str, np.ndarray] | Epochs,
    doses: Doses | SubjectDoses,
    times_h: np.ndarray,
    rtol: float = SCIPY_OPTIONS["rtol"],
    atol: float = SCIPY_OPTIONS["atol"],
    method: str = "DOP853",
) -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L, by solve_ivp on the stacked K @ y.

    rtol, atol : solver tolerances (atol in mg); method : a solve_ivp method.
    """
    epochs = as_epochs(params)
    inputs = dose_input(structure, epochs, doses)
    if isinstance(inputs, SubjectInputs):
        inputs = union_of_times(inputs, MAX_UNION_AMOUNTS, "engine 'ode'")
    timeline = shared_timeline(epochs, inputs)
    rates = [structure.rate_matrix(p, infusion_into=inputs.infusion_into) for p in epochs.params]
    systems = [stacked_rate_matrix(k) for k in rates]
    volumes = [p[structure.volume] for p in epochs.params]
    n_subjects, m = inputs.amounts_mg.shape[0], rates[0].shape[1]
    if method in _SPARSE_JACOBIAN:
        extra = [{"jac": a} for a in systems]
    elif method == "LSODA":
        extra = [{"lband": m - 1, "uband": m - 1}] * len(systems)  # blocks m x m on the diagonal
    else:
        extra = [{}] * len(systems)

    event_times = timeline.times_h
    follows = last_event_before(event_times, times_h)
    out = np.zeros((times_h.size, n_subjects))
    y = np.zeros(m * n_subjects)
    first_step = None
    for e, t0 in enumerate(event_times):
        if t0 >= times_h[-1]:
            break  # later events cannot change any output
        state = y.reshape(n_subjects, m)  # a view: doses go into y
        given = timeline.amounts_mg[:, e]
        if timeline.ss[e]:  # exactly, from the matrix exponential over one interval
            exact = MatrixExponential(
                structure, epochs.params[timeline.epoch[e]], rates=rates[timeline.epoch[e]]
            )
            at_steady_state = steady_state(exact.step(timeline.ii_h[e]), given, timeline.compartment[e]).T
            if timeline.since_h[e] > 0:  # the last lagged dose arrived since_h before
                at_steady_state = np.einsum("ijn,nj->ni", exact.step(timeline.since_h[e]), at_steady_state)
            if timeline.ss[e] == 2:
                at_steady_state += state
            state[:] = np.where(given[:, None] > 0, at_steady_state, state)
        else:
            state[:, timeline.compartment[e]] += given
        t1 = min(event_times[e + 1] if e + 1 < event_times.size else times_h[-1], times_h[-1])
        if t1 == t0:
            continue  # another event at the same time comes next
        here = np.flatnonzero(follows == e)
        stops = times_h[here]
        if stops.size == 0 or stops[-1] != t1:
            stops = np.append(stops, t1)
        epoch = timeline.epoch[e]
        system = systems[epoch]
        # integrate to each output time rather than read outputs off the dense
        # interpolant: DOP853's interpolant errs by up to ~1e-6 when fast
        # absorbers make the steps stability-limited; step ends stay at ~1e-13
        for j, t_stop in enumerate(stops):
            start = t0 if j == 0 else stops[j - 1]
            # the step carried over may be longer than this interval (outputs closer together)
            step = None if first_step is None else min(first_step, t_stop - start)
            sol = solve_ivp(
                lambda t, y: system @ y,  # noqa: B023 (solved here, before system changes)
                (start, t_stop),
                y,
                method=method,
                rtol=rtol,
                atol=atol,
                first_step=step,
                **extra[epoch],
            )
            if sol.status != 0:
                raise RuntimeError(
                    f"ode engine: solver {method} failed on [{start}, {t_stop}] h: {sol.message}"
                )
            y = sol.y[:, -1].copy()
            if sol.t.size > 2:  # the last full step (the final one may be cut short)
                first_step = min(sol.t[-2] - sol.t[-3], t1 - t_stop) or None
            if j < here.size:
                out[here[j]] = y.reshape(n_subjects, m)[:, structure.central_index] / volumes[epoch]
    return out.T


def stacked_rate_matrix(rates: np.ndarray) -> sparse.csr_array:
    """The cohort's K as one block-diagonal sparse matrix on the stacked state.

    rates : ndarray, shape (n_subjects, m, m); returns shape (n*m, n*m).
    """
    n, m, _ = rates.shape
    i, j = np.nonzero(np.any(rates != 0, axis=0))
    first = np.arange(n)[:, None] * m
    rows = (first + i).ravel()
    cols = (first + j).ravel()
    values = rates[:, i, j].ravel()
    return sparse.csr_array((values, (rows, cols)), shape=(m * n, m * n))


# --- the model's compiled equations (model.system), for models without a named structure ---
# The stacked path: BoundSystem.rhs on the whole cohort as one state, by a solve_ivp method.
# It serves method="DOP853" etc. for models of the language, and the one case rodas5p does not
# take: the steady-state doses of a nonlinear model, found as the interval's fixed point.

# Steady state of a nonlinear model: the dosing interval iterated to its fixed point until
# each child's estimated distance from it, |change| rho / (1 - rho) with rho the contraction
# of the last interval, is below SS_RTOL times its largest amount (plus atol), as mrgsolve
# iterates (and warns when it does not converge); at most SS_MAX_INTERVALS intervals.
SS_RTOL = 1e-9
SS_MAX_INTERVALS = 5000


class SteadyStateWarning(UserWarning):
    """A nonlinear model's steady state did not converge within SS_MAX_INTERVALS intervals."""


def simulate_stacked_system(
    model,
    params,
    doses,
    times_h: np.ndarray,
    rtol: float = SCIPY_OPTIONS["rtol"],
    atol: float = SCIPY_OPTIONS["atol"],
    method: str = "DOP853",
) -> dict:
    """Every output of `model` (conc, mg/L, and the rest), each shape (n_subjects, n_times).

    The state is (n_subjects, m) amounts raveled; the right-hand side and, for Radau and BDF,
    the block-diagonal sparse Jacobian (exact, from the expressions) come from model.system
    bound to each child's parameters and covariates. Steady-state doses: exact for a linear
    model, `(I - exp(K ii))^-1 dose`; for a nonlinear one the interval iterated to its fixed
    point (SS_RTOL; a SteadyStateWarning when a child does not converge).
    """
    import warnings

    from .linalg import expm

    view = model.compartment_model
    if view.dosing_reason:
        raise ValueError(f"engine 'ode': {view.dosing_reason}")
    epochs = as_epochs(params)
    inputs = dose_input(view, epochs, doses)
    if isinstance(inputs, SubjectInputs):
        inputs = union_of_times(inputs, MAX_UNION_AMOUNTS, "engine 'ode'")
    timeline = shared_timeline(epochs, inputs)
    n, m = inputs.amounts_mg.shape[0], len(view.compartments)
    into = inputs.infusion_into
    width = m + (into is not None)  # an infusion's current rate, mg/h, last
    bounds = [view.bind(p) for p in epochs.params]
    names = model.outputs
    blocks = np.arange(n)[:, None, None] * width + np.zeros((1, width, width), dtype=np.int64)
    rows = (blocks + np.arange(width)[None, :, None]).ravel()
    cols = (blocks + np.arange(width)[None, None, :]).ravel()

    def rhs(bound):
        def f(t, y):
            x = y.reshape(n, width)
            dx = np.zeros((n, width))
            dx[:, :m] = bound.rhs(t, x[:, :m])
            if into is not None:
                dx[:, into] += x[:, m]
            return dx.ravel()

        return f

    def jac(bound):
        def f(t, y):
            x = y.reshape(n, width)
            block = np.zeros((n, width, width))
            block[:, :m, :m] = bound.jacobian(t, x[:, :m])
            if into is not None:
                block[:, into, m] = 1.0
            return sparse.csr_array((block.ravel(), (rows, cols)), shape=(n * width, n * width))

        return f

    carried = [None]  # the last full step, carried into the next piece (as `simulate` does)

    def advance(y, t0, t1, bound):
        extra = (
            {"jac": jac(bound)}
            if method in _SPARSE_JACOBIAN
            else ({"lband": width - 1, "uband": width - 1} if method == "LSODA" else {})
        )
        step = None if carried[0] is None else min(carried[0], t1 - t0)
        sol = solve_ivp(
            rhs(bound), (t0, t1), y, method=method, rtol=rtol, atol=atol, first_step=step, **extra
        )
        if sol.status != 0:
            raise RuntimeError(f"ode engine: solver {method} failed on [{t0}, {t1}] h: {sol.message}")
        if sol.t.size > 2:
            carried[0] = sol.t[-2] - sol.t[-3]
        return sol.y[:, -1].copy()

    def steady(state, e):
        """The state a steady-state dose sets (just after it), shape (n, width)."""
        bound, given, c = bounds[timeline.epoch[e]], timeline.amounts_mg[:, e], timeline.compartment[e]
        ii, t0 = timeline.ii_h[e], timeline.times_h[e]
        if model.is_linear and view.analytic_reason is None:
            k = view.rate_matrix(epochs.params[timeline.epoch[e]]).transpose(1, 2, 0)
            at = steady_state(expm(k * ii), given, c).T
            if timeline.since_h[e] > 0:
                at = np.einsum("ijn,nj->ni", expm(k * timeline.since_h[e]), at)
        else:
            if any(model.system._exprs[f"odes.{x}"].has(model.system._sym["t"]) for x in view.compartments):
                raise ValueError(
                    f"model {model.name!r}: a steady-state dose (SS) needs equations "
                    "free of t (a time-varying system has no steady state)"
                )
            y = np.zeros((n, width))
            y[:, c] = given
            change_before = None
            for _ in range(SS_MAX_INTERVALS):
                new = advance(y.ravel(), t0, t0 + ii, bound).reshape(n, width)
                new[:, c] += given
                change = np.abs(new - y).max(axis=1)
                y = new
                if change_before is not None:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        rho = np.where(change_before > 0, change / change_before, 0.0)
                        distance = np.where(rho < 1, change * rho / (1 - rho), np.inf)
                    if np.all(distance <= SS_RTOL * np.abs(y).max(axis=1) + atol):
                        break
                change_before = change
            else:
                warnings.warn(
                    SteadyStateWarning(
                        f"ode engine: the steady state of model {model.name!r} did not converge in "
                        f"{SS_MAX_INTERVALS} dosing intervals of {ii:g} h (largest change in the last "
                        f"interval {float(change.max()):.3g} mg); the state reached is used"
                    ),
                    stacklevel=4,
                )
            at = y
            if timeline.since_h[e] > 0:
                at = advance(at.ravel(), t0, t0 + timeline.since_h[e], bound).reshape(n, width)
        if timeline.ss[e] == 2:
            at = at + state
        return np.where(given[:, None] > 0, at, state)

    out = {name: np.zeros((times_h.size, n)) for name in names}
    event_times = timeline.times_h
    follows = last_event_before(event_times, times_h)
    before = np.flatnonzero(follows < 0)  # outputs before the first event: of no amounts
    if before.size:
        first = bounds[timeline.epoch[0]] if event_times.size else bounds[0]
        read = first.outputs(times_h[before], np.zeros((n, before.size, m)))
        for name in names:
            out[name][before] = np.broadcast_to(read[name], (n, before.size)).T
    y = np.zeros(n * width)
    for e, t0 in enumerate(event_times):
        if t0 >= times_h[-1]:
            break
        state = y.reshape(n, width)
        if timeline.ss[e]:
            state[:] = steady(state.copy(), e)
        else:
            state[:, timeline.compartment[e]] += timeline.amounts_mg[:, e]
        t1 = min(event_times[e + 1] if e + 1 < event_times.size else times_h[-1], times_h[-1])
        if t1 == t0:
            continue
        bound = bounds[timeline.epoch[e]]
        here = np.flatnonzero(follows == e)
        start = t0
        for j in here:
            y = advance(y, start, times_h[j], bound)
            read = bound.outputs(times_h[j], y.reshape(n, width)[:, :m])
            for name in names:
                out[name][j] = read[name]
            start = times_h[j]
        if start < t1:
            y = advance(y, start, t1, bound)
    return {name: v.T for name, v in out.items()}
