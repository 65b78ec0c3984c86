"""ODE engine: the model's compiled right-hand side, each child integrated on its own.

The default method, "rodas5p", is the batched per-subject Rosenbrock
integrator (`_integrator`, `_rodas`): Rodas5P (order 5, L-stable) with the
model's exact Jacobian, every child with its own step size and its own error
norm (rtol x |amount| + atol scaled to the child's largest dose), its own
events and outputs, vectorised over the children still integrating. Each
child's doses stay its own records (`_cohort`: CSR, like SubjectDoses), so
memory is linear in the doses given; children sharing a timeline are in the
same batch. The system is `model.system` (a CompiledSystem) when the model
has one, else the equations of its named structure (`System.from_structure`,
compiled once per structure). Steady-state doses (SS = 1, 2) of a linear
model are set exactly by the matrix exponential (`linalg`).

The solve_ivp methods (`method="DOP853"`, "Radau", "BDF", ...) stay as an
independent cross-check for linear models: the whole cohort one stacked state
(`K @ y`) on the union of everyone's dose times, with solve_ivp's error norm
over the stacked state (the worst child's error grows with the cohort).
"""

import functools
import math
from typing import Any, Mapping

import numpy as np
from scipy import sparse
from scipy.integrate import OdeSolver, solve_ivp

from .._checks import is_number
from ..dosing.doses import Doses, SubjectDoses
from ..model.compiler import compile_system
from ..model.expressions import System
from ..model.structures import Structure
from ._cohort import integrate_cohort, per_subject
from .solutions import MatrixExponential
from .base import refuse_unknown, register_engine
from .common import Epochs, as_epochs, dose_input, last_event_before, shared_timeline, union_of_times
from .linalg import steady_state

RODAS = "rodas5p"
OPTIONS = {"rtol": 1e-8, "atol": None, "method": RODAS}
METHODS = (RODAS, "RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")
# solve_ivp's defaults here: DOP853's stacked error norm needs a tighter rtol for 1e-6 per child
SCIPY_OPTIONS = {"rtol": 1e-10, "atol": 1e-12}
# rodas5p's default atol: each child's own, this times its largest dose (mg); measured: W1-W2,
# W4c and Michaelis-Menten W6 within 6e-7 of the exact or rtol-1e-12 answer at rtol 1e-8
ATOL_PER_DOSE = 1e-10
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


def simulate_system(compiled, structure: Structure, params: Mapping[str, np.ndarray] | Epochs,
                    doses: Doses | SubjectDoses, times_h: np.ndarray, rtol: float = OPTIONS["rtol"],
                    atol: float | None = None) -> np.ndarray:
    """The compiled system's "conc" per child, shape (n_subjects, n_times), mg/L (rodas5p).

    rtol; atol : mg for every child, or None: ATOL_PER_DOSE x each child's largest dose.
    """
    epochs = as_epochs(params)
    inputs = per_subject(dose_input(structure, epochs, doses))
    if inputs.ss.any() and not compiled.is_linear:
        raise ValueError(f"engine 'ode': steady-state doses (SS) need a linear model; this one "
                         f"is nonlinear ({compiled.nonlinear_reason})")
    if atol is None:
        atol = ATOL_PER_DOSE * largest_at_one_time(inputs, len(structure.compartments))
    names = compiled.system.covariates
    first = epochs.params[0]
    covariates = {c: first[c] for c in names if c in first} or None
    return integrate_cohort(compiled, epochs, inputs, np.asarray(times_h, dtype=float), "conc",
                            rtol, atol, covariates)


def largest_at_one_time(inputs, m: int) -> np.ndarray:
    """Each child's largest amount given at one time (its doses at one time added), mg, shape
    (n_subjects,); 1 where it has none. Infusion rates (compartment m) are not amounts."""
    dose = inputs.compartment < m
    subject, time, amount = inputs.subject[dose], inputs.times_h[dose], inputs.amounts_mg[dose]
    largest = np.ones(inputs.n_subjects)
    if amount.size:
        start = np.r_[True, (subject[1:] != subject[:-1]) | (time[1:] != time[:-1])]
        at_once = np.add.reduceat(amount, np.flatnonzero(start))
        owner = subject[start]
        largest[np.unique(owner)] = 0.0
        np.maximum.at(largest, owner, at_once)
        largest[largest == 0] = 1.0
    return largest


@functools.lru_cache(maxsize=16)
def structure_system(structure: Structure):
    """The named structure's equations, compiled (once per structure: sympy is slow)."""
    return compile_system(System.from_structure(structure))


def simulate(structure: Structure, params: Mapping[str, np.ndarray] | Epochs, doses: Doses | SubjectDoses,
             times_h: np.ndarray, rtol: float = SCIPY_OPTIONS["rtol"],
             atol: float = SCIPY_OPTIONS["atol"], method: str = "DOP853") -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L, by solve_ivp on the stacked K @ y.

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
            sol = solve_ivp(lambda t, y: system @ y, (start, t_stop), y, method=method, rtol=rtol,  # noqa: B023 (solved here)
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
    """The ode engine under the Engine contract (`pkmodel.engines.base`): any model."""

    name = "ode"

    def options(self, **given: Any) -> dict[str, Any]:
        """rtol (>= 100 eps), atol (mg, > 0) and method ("rodas5p", a solve_ivp method or an
        OdeSolver), checked here: solve_ivp raises a smaller rtol to its floor without a
        word, and never finishes a step with a NaN atol. An atol not given stays out: it
        follows the doses (`for_doses`; rodas5p: each child's own)."""
        refuse_unknown(self.name, given, OPTIONS)
        for name, ok, expected in (("rtol", lambda v: v >= RTOL_FLOOR,
                                    f">= {RTOL_FLOOR:.3g} (solve_ivp's smallest)"),
                                   ("atol", lambda v: v > 0, "> 0 mg")):
            value = given.get(name)
            if name in given and not (is_number(value) and math.isfinite(value) and ok(value)):
                raise ValueError(f"engine option {name} is {value!r}; expected a finite number "
                                 f"{expected}")
        method = given.get("method", OPTIONS["method"])
        if not (_is_name(method) or (isinstance(method, type) and issubclass(method, OdeSolver))):
            raise ValueError(f"engine option method is {method!r}; expected one of "
                             f"{list(METHODS)} (scipy.integrate.solve_ivp's but the first) or an "
                             "OdeSolver")
        return dict(given)

    def for_doses(self, options: Mapping[str, Any], largest_dose_mg: np.ndarray) -> dict[str, Any]:
        """The options with atol at or above its floor for these doses (mg, shape (n_subjects,))."""
        floor = ATOL_FLOOR_PER_MG * float(largest_dose_mg.max(initial=0.0))
        if "atol" not in options:
            if options.get("method", RODAS) == RODAS:
                return dict(options)   # each child's own, from its doses (simulate_system)
            return {**options, "atol": max(SCIPY_OPTIONS["atol"], floor)}
        if options["atol"] < floor:
            raise ValueError(f"engine option atol is {options['atol']!r} mg; expected >= {floor:.3g} "
                             f"mg, 100 eps x the largest dose ({float(largest_dose_mg.max()):g} mg): "
                             "a smaller absolute error is below the rounding of the amounts")
        return dict(options)

    def supports(self, model, doses) -> str | None:
        """Every model (its system, or its structure's equations): None."""
        return None

    def simulate(self, model, params, doses, times_h: np.ndarray, **options: Any) -> np.ndarray:
        """Concentrations, shape (n_subjects, n_times), mg/L."""
        method = options.pop("method", RODAS)
        compiled = getattr(model, "system", None)
        if method == RODAS:
            compiled = compiled if compiled is not None else structure_system(model.structure)
            return simulate_system(compiled, model.structure, params, doses, times_h, **options)
        if compiled is not None and not compiled.is_linear:
            raise ValueError(f"engine 'ode': method {method!r} integrates a linear model's rate "
                             f"matrix only; model {model.name!r} is nonlinear "
                             f"({compiled.nonlinear_reason}): use method={RODAS!r}")
        return simulate(model.structure, params, doses, times_h, method=method,
                        **{**SCIPY_OPTIONS, **options})


def _is_name(method) -> bool:
    return isinstance(method, str) and method in METHODS


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
