"""simulate(): model + cohort + regimen + engine -> Result."""

import numpy as np

from . import variability as _variability
from ._checks import refuse_first
from .cohort import Cohort
from .dosing import Regimen
from .engines import analytic, ode
from .events import EventTable
from .model import Model
from .result import Result

ENGINES = {"analytic": analytic.simulate, "ode": ode.simulate}
_ENGINE_OPTIONS = {"analytic": analytic.OPTIONS, "ode": ode.OPTIONS}


def simulate(model: Model, cohort: Cohort, regimen: Regimen | EventTable, times, *,
             engine: str = "analytic", variability: bool = True, seed: int | None = None,
             **engine_options) -> Result:
    """Concentration-time curves of every child in `cohort` on `regimen`.

    Parameters
    ----------
    regimen : Regimen, or EventTable (`read_events`)
        An event table gives each child, joined by ID, the doses in its rows.
    times : array_like, shape (n_times,)
        Output times, h: finite, >= 0, strictly increasing. At a dose time the
        pre-dose concentration is reported.
    engine : "analytic" (exact, fast) or "ode" (scipy solve_ivp)
    variability : bool
        True: log-normal random effects drawn from `seed`; False: every child
        is the typical child for its covariates.
    seed : int, optional
        Reproducible random effects and missed doses; None draws fresh
        entropy (kept in `Result.seed`).
    **engine_options
        For engine="ode": rtol, atol (mg), method (a solve_ivp method).
    """
    _expect(model, Model, "model", "a Model (pk.load_model)")
    _expect(cohort, Cohort, "cohort", "a Cohort")
    _expect(regimen, (Regimen, EventTable), "regimen", "a Regimen or an event table (pk.read_events)")
    if engine not in ENGINES:
        raise ValueError(f"engine is {engine!r}; expected one of {sorted(ENGINES)}")
    unknown = sorted(set(engine_options) - set(_ENGINE_OPTIONS[engine]))
    if unknown:
        raise ValueError(f"engine {engine!r} has no option {unknown[0]!r}; expected "
                         f"{sorted(_ENGINE_OPTIONS[engine]) or 'none'}")
    if not isinstance(variability, (bool, np.bool_)):
        raise ValueError(f"variability is {variability!r}; expected True or False")
    times_h = check_times(times)

    n = len(cohort)
    if variability:
        entropy = _variability.seed_entropy(seed)
        etas = _variability.sample_etas(model.omega_sd, n, entropy)
    else:
        missed_doses = isinstance(regimen, Regimen) and regimen.missed_dose_probability > 0
        entropy = _variability.seed_entropy(seed) if missed_doses else None
        etas = np.zeros((n, len(model.iiv_names)))
    params = model.individual_parameters(cohort.weight_kg, etas)
    if isinstance(regimen, EventTable):
        regimen.check_compartments(model.structure)
        doses = regimen.doses(cohort)
    else:
        doses = regimen.doses(cohort, seed=entropy)
    conc = ENGINES[engine](model.structure, params, doses, times_h, **engine_options)
    return Result(times=times_h, concentrations=conc, individual=params, etas=etas, cohort=cohort, doses=doses, model=model, engine=engine, seed=entropy,
                  regimen=regimen.label)


def check_times(times) -> np.ndarray:
    """Output times as a read-only float array; refused unless finite, >= 0, increasing."""
    try:
        t = np.array(times, dtype=float, ndmin=1)
    except (TypeError, ValueError):
        raise ValueError(f"times is {times!r}; expected numbers (h)") from None
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times has shape {t.shape}; expected a non-empty 1-D array of hours")
    refuse_first(~(np.isfinite(t) & (t >= 0)), "times", t, "a finite time >= 0 h")
    refuse_first(np.r_[False, np.diff(t) <= 0], "times", t,
                 "strictly increasing times (each later than the one before)")
    t.flags.writeable = False
    return t


def _expect(value, kind: type | tuple[type, ...], name: str, what: str) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} is a {type(value).__name__}; expected {what}")
