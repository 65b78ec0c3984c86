"""ODE engine: the model's compiled right-hand side, each child integrated on its own.

The per-child methods are the batched integrator's (`_integrator`): every child
with its own step size and its own error norm (rtol x |amount| + atol scaled to
the child's largest dose), its own events and outputs, vectorised over the
children still integrating. The default, "rodas5p", steps every child by
Rodas5P (`_rodas`: order 5, L-stable, the model's exact Jacobian).
"dop853_rodas5p" steps each child by the explicit DOP853 (order 8, no Jacobian:
`_dop853`) unless the spectral radius rho of its Jacobian at its start makes it
stiff (rho > 10 /h, e.g. ka above 10 /h), then by Rodas5P; DOP853's steps are
held under 3 / rho. The choice is each child's own, so its numbers do not depend
on the others. It is not the default: at rtol 1e-8 it misses two of the suite's
bounds that Rodas5P meets (Michaelis-Menten after an IV bolus vs Lambert W, 7e-6
relative at 18 % of a child's peak for a bound of 1e-6; three compartments vs the
analytic engine, 2.1e-8 for 1e-8). Each child's doses stay its own records
(`_cohort`: CSR, like SubjectDoses), so memory is linear in the doses given;
children sharing a timeline are in the same batch. The system is `model.system`
(a CompiledSystem) when the model has one, else the equations of its named
structure (`System.from_structure`, compiled once per structure). Steady-state
doses (SS = 1, 2) of a linear model are set exactly by the matrix exponential
(`linalg`).

The solve_ivp methods (`method="DOP853"`, "Radau", "BDF", ...) stay as an
independent cross-check for linear models: the whole cohort one stacked state
(`K @ y`) on the union of everyone's dose times, with solve_ivp's error norm
over the stacked state (the worst child's error grows with the cohort).
"""

import math
from typing import Any, Mapping

import numpy as np
from scipy.integrate import OdeSolver

from .._checks import is_number
from ..dosing.doses import Doses, SubjectDoses
from ._cohort import INSTALL, KERNELS, integrate_cohort, kernel_missing, per_subject
from ._stacked import (  # noqa: F401 (the stacked path's names, re-exported)
    MAX_UNION_AMOUNTS,
    SCIPY_OPTIONS,
    SS_MAX_INTERVALS,
    SS_RTOL,
    SteadyStateWarning,
    simulate,
    simulate_stacked_system,
    stacked_rate_matrix,
)
from .base import refuse_unknown, register_engine
from .common import (
    Epochs,
    as_epochs,
    dose_input,
)

RODAS, SWITCH = "rodas5p", "dop853_rodas5p"
PER_CHILD = (RODAS, SWITCH)  # `_integrator`'s, each child on its own
# kernel: "auto" steps rodas5p child by child in compiled code (`_kernel`, numba) where numba
# is installed and the case is the kernel's (no SS doses), else by numpy; the same numbers
# threads: the kernel's children stepped on this many threads at once (the same numbers)
OPTIONS: dict[str, Any] = {"rtol": 1e-8, "atol": None, "method": RODAS, "kernel": "auto", "threads": 1}
METHODS = (*PER_CHILD, "RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")
# rodas5p's default atol: each child's own, this times its largest dose (mg); measured: W1-W2,
# W4c and Michaelis-Menten W6 within 6e-7 of the exact or rtol-1e-12 answer at rtol 1e-8
ATOL_PER_DOSE = 1e-10
RTOL_FLOOR = 100 * np.finfo(float).eps
# atol (mg) at least this times the largest dose: an absolute error below it is below the
# rounding of the amounts at the solver's own relative floor (rtol >= 100 eps), and solve_ivp
# then fails ("step size less than spacing", measured for BDF at 4 eps x the dose) or, at
# 1e-300, overflows its error norm. The default 1e-12 mg is raised to it above 45 mg.
ATOL_FLOOR_PER_MG = RTOL_FLOOR


def simulate_system(
    compiled,
    structure,
    params: Mapping[str, np.ndarray] | Epochs,
    doses: Doses | SubjectDoses,
    times_h: np.ndarray,
    rtol: float = OPTIONS["rtol"],
    atol: float | None = None,
    outputs: tuple[str, ...] = ("conc",),
    method: str = OPTIONS["method"],
    kernel: str = OPTIONS["kernel"],
    threads: int = OPTIONS["threads"],
) -> dict:
    """The compiled system's outputs per child by name, each (n_subjects, n_times) (rodas5p).

    structure : the engines' view of it (a Structure, or a SystemStructure: F, lag, where
    doses go); rtol; atol : mg for every child, or None: ATOL_PER_DOSE x each child's
    largest dose; kernel : `_cohort.KERNELS`; threads : the compiled kernel's.
    """
    epochs = as_epochs(params)
    inputs = per_subject(dose_input(structure, epochs, doses))
    if inputs.ss.any() and not compiled.is_linear:
        raise ValueError(
            f"engine 'ode': steady-state doses (SS) of a nonlinear model "
            f"({compiled.nonlinear_reason}) need the stacked fixed-point path "
            "(OdeEngine.simulate)"
        )
    if atol is None:
        atol_mg = ATOL_PER_DOSE * largest_at_one_time(inputs, len(structure.compartments))
    else:
        atol_mg = np.full(inputs.n_subjects, float(atol))
    times_h = np.asarray(times_h, dtype=float)
    return integrate_cohort(
        compiled, epochs, inputs, times_h, outputs, rtol, atol_mg, method, kernel, threads
    )


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


class OdeEngine:
    """The ode engine under the Engine contract (`pkmodel.engines.base`): any model."""

    name = "ode"

    def options(self, **given: Any) -> dict[str, Any]:
        """rtol (>= 100 eps), atol (mg, > 0) and method (a per-child one, a solve_ivp method or an
        OdeSolver), checked here: solve_ivp raises a smaller rtol to its floor without a
        word, and never finishes a step with a NaN atol. An atol not given stays out: it
        follows the doses (`for_doses`; rodas5p: each child's own)."""
        refuse_unknown(self.name, given, OPTIONS)
        for name, ok, expected in (
            ("rtol", lambda v: v >= RTOL_FLOOR, f">= {RTOL_FLOOR:.3g} (solve_ivp's smallest)"),
            ("atol", lambda v: v > 0, "> 0 mg"),
        ):
            value: Any = given.get(name)
            if name in given and not (is_number(value) and math.isfinite(value) and ok(value)):
                raise ValueError(f"engine option {name} is {value!r}; expected a finite number {expected}")
        method = given.get("method", OPTIONS["method"])
        if not (_is_name(method) or (isinstance(method, type) and issubclass(method, OdeSolver))):
            raise ValueError(
                f"engine option method is {method!r}; expected one of "
                f"{list(METHODS)} (scipy.integrate.solve_ivp's but the first two) or an "
                "OdeSolver"
            )
        kernel = given.get("kernel", OPTIONS["kernel"])
        if not (isinstance(kernel, str) and kernel in KERNELS):
            raise ValueError(
                f"engine option kernel is {kernel!r}; expected one of {list(KERNELS)} "
                "('numba': the compiled Rodas5P kernel, 'numpy': never it, 'auto': it where it can)"
            )
        if kernel == "numba":
            if method != RODAS:
                raise ValueError(
                    f"engine option kernel is 'numba', but method is {method!r}: the compiled "
                    f"kernel steps by {RODAS!r} only; use kernel='auto' or 'numpy'"
                )
            missing = kernel_missing()
            if missing:
                raise ValueError(f"engine option kernel is 'numba', but {missing}; {INSTALL}")
        threads = given.get("threads", OPTIONS["threads"])
        if not (isinstance(threads, (int, np.integer)) and not isinstance(threads, bool) and threads >= 1):
            raise ValueError(f"engine option threads is {threads!r}; expected a whole number >= 1")
        if threads > 1:
            why = (
                "kernel is 'numpy'"
                if kernel == "numpy"
                else f"method is {method!r}"
                if method != RODAS
                else kernel_missing()
            )
            if why:
                raise ValueError(
                    f"engine option threads is {threads}, but {why}: threads are the compiled "
                    f"Rodas5P kernel's; {INSTALL if method == RODAS and kernel != 'numpy' else 'use threads=1'}"
                )
        return dict(given)

    def for_doses(self, options: Mapping[str, Any], largest_dose_mg: np.ndarray) -> dict[str, Any]:
        """The options with atol at or above its floor for these doses (mg, shape (n_subjects,))."""
        floor = ATOL_FLOOR_PER_MG * float(largest_dose_mg.max(initial=0.0))
        if "atol" not in options:
            if options.get("method", OPTIONS["method"]) in PER_CHILD:
                return dict(options)  # each child's own, from its doses (simulate_system)
            return {**options, "atol": max(SCIPY_OPTIONS["atol"], floor)}
        if options["atol"] < floor:
            raise ValueError(
                f"engine option atol is {options['atol']!r} mg; expected >= {floor:.3g} "
                f"mg, 100 eps x the largest dose ({float(largest_dose_mg.max()):g} mg): "
                "a smaller absolute error is below the rounding of the amounts"
            )
        return dict(options)

    def supports(self, model, doses) -> str | None:
        """Every model of a named structure, and of the language unless its doses cannot be
        stepped (`SystemStructure.dosing_reason`)."""
        if getattr(model, "equations", None) is None:  # a named structure (or no model yet)
            return None
        return model.compartment_model.dosing_reason

    def simulate(self, model, params, doses, times_h: np.ndarray, **options: Any):
        """Concentrations, shape (n_subjects, n_times), mg/L; a model of the language with
        outputs beside conc: every output by name (a dict).

        The per-child methods (default rodas5p): `simulate_system`, each child on its own, except the steady-state
        doses of a nonlinear model, which only the stacked fixed-point path finds
        (`simulate_stacked_system`, DOP853). Another method: solve_ivp on the stacked cohort.
        """
        method = options.pop("method", OPTIONS["method"])
        kernel = options.pop("kernel", OPTIONS["kernel"])
        threads = options.pop("threads", OPTIONS["threads"])
        language = model.structure is None
        stacked = language and not model.is_linear and _has_steady_state(doses)
        if kernel == "numba" and stacked:
            raise ValueError(
                "engine option kernel is 'numba', but steady-state doses (SS) of a nonlinear model "
                "are found by the stacked fixed-point path (numpy); use kernel='auto' or 'numpy'"
            )
        if method in PER_CHILD and not stacked:
            out = simulate_system(
                model.system,
                model.compartment_model,
                params,
                doses,
                times_h,
                outputs=model.outputs,
                method=method,
                kernel=kernel,
                threads=threads,
                **options,
            )
        elif language:
            scipy_method = "DOP853" if method in PER_CHILD else method
            given = {k: v for k, v in options.items() if v is not None}
            out = simulate_stacked_system(
                model, params, doses, times_h, method=scipy_method, **{**SCIPY_OPTIONS, **given}
            )
        else:
            return simulate(
                model.structure, params, doses, times_h, method=method, **{**SCIPY_OPTIONS, **options}
            )
        return out["conc"] if len(out) == 1 else out


def _has_steady_state(doses) -> bool:
    ss = getattr(doses, "ss", None)
    return ss is not None and bool(np.any(np.asarray(ss) > 0))


def _is_name(method) -> bool:
    return isinstance(method, str) and method in METHODS


register_engine(OdeEngine())
