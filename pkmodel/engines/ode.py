"""ODE engine: scipy.integrate.solve_ivp on the model's right-hand side.

The whole cohort is one state vector, shape (n_subjects * n_compartments,),
subject-major (index i * m + c, i.e. an (n_subjects, m) array raveled), so
one solver call advances every subject. Integration runs piecewise from event
to event (doses, occasion starts); doses are added to the state between
pieces. Subjects with doses at their own times (a per-subject absorption lag,
jitter, an event table's own times) are integrated over the union of
everyone's dose times: (n_subjects, all distinct times) amounts, which the
analytic engine never builds.

scipy's default tolerances (rtol 1e-3) err by about 1e-3; the defaults here
hold the ode engine to the analytic one within 1e-6 relative. solve_ivp's
error norm is a root-mean-square over the whole stacked state, so the error
of the worst subject grows with cohort size: with the defaults, measured
1.3e-10 relative for 200 children and 4.4e-8 for 10,000 (W1).
"""

import math
from typing import Any, Mapping

import numpy as np
from scipy import sparse
from scipy.integrate import OdeSolver, solve_ivp

from .._checks import is_number
from ..dosing.doses import Doses, SubjectDoses
from ..model.structures import Structure
from .solutions import MatrixExponential
from .base import refuse_unknown, register_engine
from .common import Epochs, as_epochs, dose_input, last_event_before, shared_timeline, union_of_times
from .linalg import steady_state

OPTIONS = {"rtol": 1e-10, "atol": 1e-12, "method": "DOP853"}
METHODS = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")
RTOL_FLOOR = 100 * np.finfo(float).eps
# atol (mg) at least this times the largest dose: an absolute error below it is below the
# rounding of the amounts at the solver's own relative floor (rtol >= 100 eps), and solve_ivp
# then fails ("step size less than spacing", measured for BDF at 4 eps x the dose) or, at
# 1e-300, overflows its error norm. The default 1e-12 mg is raised to it above 45 mg.
ATOL_FLOOR_PER_MG = RTOL_FLOOR
# the union of per-child dose times, (n_subjects, n_times) amounts, holds at most this many
# (1 GiB); beyond it the engine refuses before allocating
MAX_UNION_AMOUNTS = 2 ** 27
_SPARSE_JACOBIAN = {"Radau", "BDF"}  # LSODA gets the band instead


def simulate(structure: Structure, params: Mapping[str, np.ndarray] | Epochs, doses: Doses | SubjectDoses,
             times_h: np.ndarray, rtol: float = OPTIONS["rtol"], atol: float = OPTIONS["atol"],
             method: str = OPTIONS["method"]) -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L.

    rtol, atol : solver tolerances (atol in mg); method : a solve_ivp method.
    """
    epochs = as_epochs(params)
    inputs = dose_input(structure, epochs, doses)
    if not inputs.shared:
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
            exact = MatrixExponential(structure, epochs.params[timeline.epoch[e]],
                                               rates=rates[timeline.epoch[e]])
            at_steady_state = steady_state(exact.step(timeline.ii_h[e]), given, timeline.compartment[e]).T
            if timeline.since_h[e] > 0:   # the last lagged dose arrived since_h before
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
            sol = solve_ivp(lambda t, y: system @ y, (start, t_stop), y, method=method, rtol=rtol,
                            atol=atol, first_step=step, **extra[epoch])
            if sol.status != 0:
                raise RuntimeError(f"ode engine: solver {method} failed on [{start}, {t_stop}] h: "
                                   f"{sol.message}")
            y = sol.y[:, -1].copy()
            if sol.t.size > 2:  # the last full step (the final one may be cut short)
                first_step = min(sol.t[-2] - sol.t[-3], t1 - t_stop) or None
            if j < here.size:
                out[here[j]] = y.reshape(n_subjects, m)[:, structure.central_index] / volumes[epoch]
    return out.T


class OdeEngine:
    """The ode engine under the Engine contract (`pkmodel.engines.base`): any model, solve_ivp."""

    name = "ode"

    def options(self, **given: Any) -> dict[str, Any]:
        """rtol (>= 100 eps), atol (mg, > 0) and method (a solve_ivp method or an OdeSolver),
        checked as solve_ivp can use them: it raises a smaller rtol to its floor without a
        word, and never finishes a step with a NaN atol. An atol not given stays out: it
        follows the doses (`for_doses`)."""
        refuse_unknown(self.name, given, OPTIONS)
        for name, ok, expected in (("rtol", lambda v: v >= RTOL_FLOOR,
                                    f">= {RTOL_FLOOR:.3g} (solve_ivp's smallest)"),
                                   ("atol", lambda v: v > 0, "> 0 mg")):
            value = given.get(name)
            if name in given and not (is_number(value) and math.isfinite(value) and ok(value)):
                raise ValueError(f"engine option {name} is {value!r}; expected a finite number "
                                 f"{expected}")
        method = given.get("method", OPTIONS["method"])
        if not (method in METHODS or (isinstance(method, type) and issubclass(method, OdeSolver))):
            raise ValueError(f"engine option method is {method!r}; expected one of "
                             f"{list(METHODS)} (scipy.integrate.solve_ivp) or an OdeSolver")
        return dict(given)

    def for_doses(self, options: Mapping[str, Any], largest_dose_mg: np.ndarray) -> dict[str, Any]:
        """The options with atol at or above its floor for these doses (mg, shape (n_subjects,))."""
        floor = ATOL_FLOOR_PER_MG * float(largest_dose_mg.max(initial=0.0))
        if "atol" not in options:
            return {**options, "atol": max(OPTIONS["atol"], floor)}
        if options["atol"] < floor:
            raise ValueError(f"engine option atol is {options['atol']!r} mg; expected >= {floor:.3g} "
                             f"mg, 100 eps x the largest dose ({float(largest_dose_mg.max()):g} mg): "
                             "a smaller absolute error is below the rounding of the amounts")
        return dict(options)

    def supports(self, model, doses) -> str | None:
        """Every model (its structure's equations): None."""
        return None

    def simulate(self, model, params, doses, times_h: np.ndarray, **options: Any) -> np.ndarray:
        """Concentrations, shape (n_subjects, n_times), mg/L (`simulate` below)."""
        return simulate(model.structure, params, doses, times_h, **options)


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


register_engine(OdeEngine())
