"""simulate(): model + cohort + regimen + engine -> Result (or ExposureResult, in chunks)."""

import dataclasses
import math
from typing import Any, Literal, overload

import numpy as np

from .._checks import is_number, numbers, refuse_first
from ..dosing.doses import Doses, SubjectDoses
from ..dosing.events import EventTable
from ..dosing.regimen import Regimen
from ..engines.base import get_engine
from ..model import validity
from ..model.model import Model
from ..population import variability as _variability
from ..population.cohort import Cohort, cohort_rows
from . import chunked
from .plan import Plan
from .result import ExposureResult, Result

# children whose doses are drawn at a time to check them (bounded memory in chunked runs)
_DOSE_CHECK_CHILDREN = 4 * _variability.BLOCK


# what keep= asks for decides the type returned: typed here so that callers need not ask
@overload
def simulate(
    model: Model,
    cohort: Cohort,
    regimen: Regimen | EventTable,
    times,
    *,
    keep: Literal["concentrations"] = ...,
    **options: Any,
) -> Result: ...
@overload
def simulate(
    model: Model,
    cohort: Cohort,
    regimen: Regimen | EventTable,
    times,
    *,
    keep: Literal["exposure"],
    **options: Any,
) -> ExposureResult: ...
@overload
def simulate(
    model: Model, cohort: Cohort, regimen: Regimen | EventTable, times, *, keep: str, **options: Any
) -> Result | ExposureResult: ...
def simulate(
    model: Model,
    cohort: Cohort,
    regimen: Regimen | EventTable,
    times,
    *,
    engine: str = "auto",
    variability: bool = True,
    seed: int | None = None,
    occasions=None,
    replicates: int | None = None,
    weight_update_h: float | None = None,
    chunk_size: int | None = None,
    keep: str = "concentrations",
    window=None,
    out=None,
    client=None,
    backend: str | None = None,
    target_range=None,
    strict: bool = False,
    **engine_options,
) -> Result | ExposureResult:
    """Concentration-time curves of every child in `cohort` on `regimen`.

    Parameters
    ----------
    regimen : Regimen, or EventTable (`read_events`)
        An event table gives each child, joined by ID, the doses in its rows.
    times : array_like, shape (n_times,)
        Output times, h: finite, >= 0, strictly increasing. At a dose time the
        pre-dose concentration is reported.
    engine : "auto" (default: analytic for linear models, else ode), "analytic" (exact,
        fast), "ode" (scipy solve_ivp) or the name of an engine of your own
        (`pk.register_engine`, the contract in `pkmodel.engines.base`)
    variability : bool
        True: random effects (IIV, IOV) and residual error drawn from `seed`;
        False: every child is the typical child for its covariates.
    seed : int, optional
        Reproducible randomness (random effects, residual error, missed doses);
        None draws fresh entropy (kept in `Result.seed`).
    occasions : array_like, optional
        Start times of the occasions for inter-occasion variability, h,
        increasing from 0; each occasion draws new kappas. Without it a model
        with IOV has one occasion.
    replicates : int, optional
        Parameter uncertainty: draw the typical values `replicates` times from
        their relative standard errors (log-normal), then the cohort within each
        replicate (fresh random effects). Result rows are replicate-major.
    weight_update_h : float, optional
        Growing children: every `weight_update_h` hours each child's weight
        moves along its own weight-for-age z-score on the CDC 2000 chart (and
        its age advances); parameters that scale with weight follow. Needs a
        cohort with sex and weight_z (e.g. `Cohort.from_growth_charts`).
        Default off: covariates stay as they are at time 0.
    chunk_size, keep, window, out, client, backend
        Many children: simulate `chunk_size` children at a time, keep only
        their exposure (keep="exposure": an `ExposureResult`, never the whole
        concentration matrix), stream the concentrations to a Parquet dataset
        in the directory `out`, or run the chunks on a Dask cluster
        (client=distributed.Client, or backend="dask" for the current one).
        Same numbers whatever the chunking; see `pkmodel.simulation.chunked.simulate`.
    target_range : (low, high), mg/L, optional
        With keep="exposure": each child's time below, in and above the range
        too (as `pk.exposure(..., target_range=...)`).
    strict : bool
        The model's validity ranges (`Model.validity`: age, weight,
        weight-for-age z, mg/kg per dose) are checked before simulating: a
        child outside gives a `ValidityWarning` naming the child and the bound,
        or with strict=True a `ValidityError`.
    **engine_options
        For engine="ode": rtol (>= 100 eps), atol (mg, >= 100 eps x the
        largest dose; default 1e-12, raised to that floor for larger doses),
        method (a solve_ivp method).

    Examples
    --------
    >>> import numpy as np, pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> cohort = pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 7, 11])
    >>> regimen = pk.Regimen.parse("2 mg/kg/day TID for 14 days")
    >>> res = pk.simulate(model, cohort, regimen, times=np.arange(0, 336.5, 0.5), variability=False)
    >>> res.concentrations.shape, res.engine
    ((3, 673), 'analytic')
    >>> res.concentrations[:, -1].round(4)  # mg/L: per kg the same for every weight
    array([0.1647, 0.1647, 0.1647])
    """
    _expect(model, Model, "model", "a Model (pk.load_model)")
    _expect(cohort, Cohort, "cohort", "a Cohort")
    _expect(regimen, (Regimen, EventTable), "regimen", "a Regimen or an event table (pk.read_events)")
    engine_ = get_engine(engine, model)
    reason = engine_.supports(model, None)
    if reason is not None:  # before anything is drawn: e.g. "analytic" on a nonlinear model
        raise ValueError(f"engine {engine_.name!r} cannot simulate model {model.name!r}: {reason}")
    options = engine_.options(**engine_options)
    for name, flag in (("variability", variability), ("strict", strict)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name} is {flag!r}; expected True or False")
    times_h = check_times(times)
    occasion_starts = _occasions(occasions, model)
    growth_starts = _growth_starts(weight_update_h, times_h, cohort)
    n_replicates = _replicates(replicates, model, variability)
    drawn_doses = isinstance(regimen, Regimen) and regimen.random
    entropy = _variability.seed_entropy(seed) if variability or drawn_doses else None

    if isinstance(regimen, EventTable):
        regimen.check_compartments(model.compartment_model)
    validity.check_cohort(model, cohort, bool(strict))
    plan = Plan(
        model=model,
        regimen=regimen,
        times_h=times_h,
        engine=engine_,
        engine_options=options,
        variability=bool(variability),
        entropy=entropy,
        occasion_starts=occasion_starts,
        growth_starts=growth_starts,
        replicates=n_replicates if replicates else None,
    )
    whole = (chunk_size, keep, window, out, client, backend, target_range) == (
        None,
        "concentrations",
        None,
        None,
        None,
        None,
        None,
    )
    if not whole and len(model.outputs) > 1:
        raise ValueError(
            f"model {model.name!r} has outputs {list(model.outputs)}; a chunked run "
            "(chunk_size, keep, window, out, client, backend, target_range) carries "
            "conc only: expected a whole run for its other outputs"
        )
    doses = None
    for_doses = getattr(engine_, "for_doses", None)
    if for_doses is not None:  # options that follow the doses need them first (ode: atol's floor)
        doses = plan.doses(cohort) if whole else None
        largest = _largest_doses(plan, cohort, doses)
        validity.check_doses(model, cohort, largest, bool(strict))
        plan = dataclasses.replace(plan, engine_options=for_doses(options, largest))
    else:  # checked as each chunk's doses are drawn, not drawn twice
        plan = dataclasses.replace(plan, dose_check="strict" if strict else "warn", in_chunks=not whole)
    if whole:
        return plan.run(cohort, doses=doses)
    return chunked.simulate(
        plan,
        cohort,
        chunk_size=chunk_size,
        keep=keep,
        window=window,
        out=out,
        client=client,
        backend=backend,
        target_range=target_range,
    )


def _largest_doses(plan: Plan, cohort: Cohort, doses: Doses | SubjectDoses | None) -> np.ndarray:
    """Each child's largest single dose, mg, shape (n_subjects,): from `doses`, or drawn a block
    of children at a time (memory bounded as in chunked runs)."""
    if doses is None and isinstance(plan.regimen, EventTable):
        doses = plan.doses(cohort)
    if doses is not None:
        return doses.largest_mg()
    n = len(cohort)
    return np.concatenate(
        [
            plan.doses(cohort_rows(cohort, a, min(a + _DOSE_CHECK_CHILDREN, n)), first=a).largest_mg()
            for a in range(0, n, _DOSE_CHECK_CHILDREN)
        ]
    )


def check_times(times) -> np.ndarray:
    """Output times as a read-only float array; refused unless finite, >= 0, increasing."""
    t = numbers("times", times, "a number of hours")
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times has shape {t.shape}; expected a non-empty 1-D array of hours")
    refuse_first(~(np.isfinite(t) & (t >= 0)), "times", t, "a finite time >= 0 h")
    refuse_first(
        np.r_[False, np.diff(t) <= 0],
        "times",
        t,
        "strictly increasing times (each later than the one before)",
    )
    t.flags.writeable = False
    return t


def _growth_starts(weight_update_h, times_h: np.ndarray, cohort: Cohort) -> np.ndarray:
    if weight_update_h is None:
        return np.zeros(1)
    if not (is_number(weight_update_h) and math.isfinite(weight_update_h) and weight_update_h > 0):
        raise ValueError(
            f"weight_update_h is {weight_update_h!r}; expected a finite number of "
            "hours > 0 (or None: weights stay as at time 0)"
        )
    if cohort.sex is None or cohort.weight_z is None:
        raise ValueError(
            f"weight_update_h is {weight_update_h!r} but the cohort has no "
            f"{'sex' if cohort.sex is None else 'weight_z'}; expected a cohort that "
            "can grow (Cohort.from_growth_charts, or from_frame with sex)"
        )
    return np.arange(0.0, times_h[-1], float(weight_update_h))


def _occasions(occasions, model: Model) -> np.ndarray:
    if occasions is None:
        return np.zeros(1)
    if not model.iov_names:
        raise ValueError(
            f"occasions given, but model {model.name!r} has no inter-occasion "
            "variability (no parameter has iov_sd)"
        )
    starts = np.array(occasions, dtype=float, ndmin=1)
    if starts.ndim != 1 or starts.size == 0 or starts[0] != 0:
        raise ValueError(f"occasions is {occasions!r}; expected start times (h) beginning with 0")
    refuse_first(~np.isfinite(starts), "occasions", starts, "a finite time (h)")
    refuse_first(np.r_[False, np.diff(starts) <= 0], "occasions", starts, "increasing start times")
    return starts


def _replicates(replicates, model: Model, variability: bool) -> int:
    if replicates is None:
        return 1
    if not (is_number(replicates) and float(replicates).is_integer() and replicates >= 1):
        raise ValueError(f"replicates is {replicates!r}; expected a whole number >= 1")
    if not variability:
        raise ValueError(
            "replicates needs variability=True (typical values are drawn from their uncertainty)"
        )
    if not any(p.rse > 0 for p in model.parameters.values()):
        raise ValueError(
            f"replicates given, but model {model.name!r} states no uncertainty (no parameter has rse)"
        )
    return int(replicates)


def _expect(value, kind: type | tuple[type, ...], name: str, what: str) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} is a {type(value).__name__}; expected {what}")
