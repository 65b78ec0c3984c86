"""simulate(): model + cohort + regimen + engine -> Result."""

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.integrate import OdeSolver

from . import chunked
from ..population import growth
from ..model import validity
from ..population import variability as _variability
from .._checks import is_number, numbers, plain, refuse_first
from ..population.cohort import Cohort
from ..dosing.regimen import Doses, Regimen
from ..engines import analytic, ode
from ..engines.common import Epochs
from ..dosing.events import EventTable
from ..model.model import Model
from .result import ExposureResult, Result
from ..model.structures import OPTIONAL, UNITS

ENGINES = {"analytic": analytic.simulate, "ode": ode.simulate}
_ENGINE_OPTIONS = {"analytic": analytic.OPTIONS, "ode": ode.OPTIONS}
_ODE_METHODS = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")
_RTOL_FLOOR = 100 * np.finfo(float).eps
# atol (mg) at least this times the largest dose: an absolute error below it is below the
# rounding of the amounts at the solver's own relative floor (rtol >= 100 eps), and solve_ivp
# then fails ("step size less than spacing", measured for BDF at 4 eps x the dose) or, at
# 1e-300, overflows its error norm. The default 1e-12 mg is raised to it above 45 mg.
_ATOL_FLOOR_PER_MG = _RTOL_FLOOR
# children whose doses are drawn at a time to check them (bounded memory in chunked runs)
_DOSE_CHECK_CHILDREN = 4 * _variability.BLOCK


def simulate(model: Model, cohort: Cohort, regimen: Regimen | EventTable, times, *,
             engine: str = "analytic", variability: bool = True, seed: int | None = None,
             occasions=None, replicates: int | None = None, weight_update_h: float | None = None,
             chunk_size: int | None = None, keep: str = "concentrations", window=None,
             out=None, client=None, backend: str | None = None, target_range=None,
             strict: bool = False,
             **engine_options) -> Result | ExposureResult:
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
    """
    _expect(model, Model, "model", "a Model (pk.load_model)")
    _expect(cohort, Cohort, "cohort", "a Cohort")
    _expect(regimen, (Regimen, EventTable), "regimen", "a Regimen or an event table (pk.read_events)")
    if not (isinstance(engine, str) and engine in ENGINES):
        raise ValueError(f"engine is {engine!r}; expected one of {sorted(ENGINES)} (a name)")
    unknown = sorted(set(engine_options) - set(_ENGINE_OPTIONS[engine]))
    if unknown:
        raise ValueError(f"engine {engine!r} has no option {unknown[0]!r}; expected "
                         f"{sorted(_ENGINE_OPTIONS[engine]) or 'none'}")
    _check_ode_options(engine_options)
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
        regimen.check_compartments(model.structure)
    validity.check_cohort(model, cohort, bool(strict))
    plan = Plan(model=model, regimen=regimen, times_h=times_h, engine=engine,
                engine_options=engine_options, variability=bool(variability), entropy=entropy,
                occasion_starts=occasion_starts, growth_starts=growth_starts,
                replicates=n_replicates if replicates else None)
    whole = (chunk_size, keep, window, out, client, backend, target_range) == (
        None, "concentrations", None, None, None, None, None)
    doses = None
    if engine == "ode":  # atol's floor needs the doses first (cheap beside solving)
        doses = plan.doses(cohort) if whole else None
        largest = _largest_doses(plan, cohort, doses)
        validity.check_doses(model, cohort, largest, bool(strict))
        plan = dataclasses.replace(plan, engine_options=_atol_for_doses(engine_options, largest))
    else:  # checked as each chunk's doses are drawn, not drawn twice
        plan = dataclasses.replace(plan, dose_check="strict" if strict else "warn",
                                   in_chunks=not whole)
    if whole:
        return plan.run(cohort, doses=doses)
    return chunked.simulate(plan, cohort, chunk_size=chunk_size, keep=keep, window=window,
                            out=out, client=client, backend=backend, target_range=target_range)


@dataclass(frozen=True, eq=False)
class Plan:
    """A checked simulation without its children: runs on any rows of a cohort.

    `run(cohort, first)` simulates `cohort` as the children at positions
    first, first + 1, ... of a larger cohort: their random effects and drawn
    doses are those of these positions (`pkmodel.population.variability`), so the whole
    cohort run in pieces gives the same numbers as run at once.
    """

    model: Model
    regimen: Regimen | EventTable
    times_h: np.ndarray
    engine: str
    engine_options: Mapping
    variability: bool
    entropy: int | None
    occasion_starts: np.ndarray
    growth_starts: np.ndarray
    replicates: int | None
    dose_check: str | None = None  # "warn" | "strict": check each child's doses against validity
    in_chunks: bool = False        # run by chunked.simulate (dose warnings per chunk)

    @property
    def starts(self) -> np.ndarray:
        """Where parameters may change (occasions, weight updates), h."""
        return np.union1d(self.occasion_starts, self.growth_starts)

    def doses(self, cohort: Cohort, first: int = 0) -> Doses:
        """What the children at positions first, ... of the whole cohort are given."""
        if isinstance(self.regimen, EventTable):
            return self.regimen.doses(cohort)
        return self.regimen.doses(cohort, seed=self.entropy, first=first)

    def run(self, cohort: Cohort, first: int = 0, doses: Doses | None = None) -> Result:
        """The Result of `cohort`, as the children at positions first, ...; doses: theirs, if known."""
        model, engine, occasion_starts = self.model, self.engine, self.occasion_starts
        replicates, entropy, times_h = self.replicates, self.entropy, self.times_h
        starts = self.starts
        covariates = _grown(cohort, self.growth_starts, starts)
        n_replicates = replicates or 1
        n = len(cohort)
        doses = self.doses(cohort, first) if doses is None else doses
        if self.dose_check:
            validity.check_doses(model, cohort, doses.largest_mg(),
                                 self.dose_check == "strict", first=first, chunk=self.in_chunks)
        blocks, individual, etas, kappas = [], [], [], []
        for r in range(n_replicates):  # over replicates, each vectorised over the cohort
            replicate_model = _replicate_model(model, entropy, r) if replicates else model
            eta, kappa = _random_effects(replicate_model, n, entropy if self.variability else None,
                                         first=first + r * n, occasions=occasion_starts.size)
            own = replicate_model.individual_parameters(cohort, eta)
            if starts.size > 1:
                occasion = np.searchsorted(occasion_starts, starts, side="right") - 1
                params = Epochs(start_h=starts, params=tuple(
                    _with_kappas(replicate_model.individual_parameters(c, eta), model.iov_names,
                                 kappa[:, o]) for c, o in zip(covariates, occasion)))
                for p in params.params:
                    _check_individual(model, p, cohort, first)
            else:
                params = _with_kappas(own, model.iov_names, kappa[:, 0])
                _check_individual(model, params, cohort, first)
            blocks.append(ENGINES[engine](model.structure, params, doses, times_h,
                                          **self.engine_options))
            individual.append(own)
            etas.append(eta)
            kappas.append(kappa)
        return Result(times=times_h, concentrations=np.concatenate(blocks) if replicates else blocks[0],
                      individual={k: np.concatenate([p[k] for p in individual]) for k in individual[0]},
                      etas=np.concatenate(etas), kappas=np.concatenate(kappas), occasions=starts,
                      cohort=cohort, doses=doses, model=model, engine=engine, seed=entropy,
                      regimen=self.regimen.label, variability=self.variability,
                      replicate=np.repeat(np.arange(n_replicates), n) if replicates else None)


def _check_individual(model: Model, params: Mapping[str, np.ndarray], cohort: Cohort,
                      first: int) -> None:
    """Refuse a child whose parameter is not a finite number > 0 (tlag >= 0), naming both."""
    dimensions = {**model.structure.parameters, **{n: d for n, (d, _) in OPTIONAL.items()}}
    for name, values in params.items():
        ok = np.isfinite(values) & ((values >= 0) if name == "tlag" else (values > 0))
        bad = np.flatnonzero(~ok)
        if bad.size:
            i = int(bad[0])
            unit = UNITS[dimensions[name]][-1]
            raise ValueError(
                f"model {model.name!r}: child ID {plain(cohort.ids[i])} (position {first + i}) "
                f"has {name} = {plain(values[i])!r} {unit}; expected a finite number "
                f"{'>= 0' if name == 'tlag' else '> 0'} (from the model's value "
                f"{model.parameters[name].value!r} {model.parameters[name].unit}, the child's "
                f"weight {plain(cohort.weight_kg[i])!r} kg, covariates and random effects)")


def _largest_doses(plan: "Plan", cohort: Cohort, doses: Doses | None) -> np.ndarray:
    """Each child's largest single dose, mg, shape (n_subjects,): from `doses`, or drawn a block
    of children at a time (memory bounded as in chunked runs)."""
    if doses is None and isinstance(plan.regimen, EventTable):
        doses = plan.doses(cohort)
    if doses is not None:
        return doses.largest_mg()
    n = len(cohort)
    return np.concatenate([
        plan.doses(chunked.cohort_rows(cohort, a, min(a + _DOSE_CHECK_CHILDREN, n)), first=a)
        .largest_mg() for a in range(0, n, _DOSE_CHECK_CHILDREN)])


def _atol_for_doses(options: Mapping, largest_dose_mg: np.ndarray) -> dict:
    """The ode engine's options with atol at or above its floor for these doses (mg)."""
    floor = _ATOL_FLOOR_PER_MG * float(largest_dose_mg.max(initial=0.0))
    if "atol" not in options:
        return {**options, "atol": max(ode.OPTIONS["atol"], floor)}
    if options["atol"] < floor:
        raise ValueError(f"engine option atol is {options['atol']!r} mg; expected >= {floor:.3g} "
                         f"mg, 100 eps x the largest dose ({float(largest_dose_mg.max()):g} mg): "
                         "a smaller absolute error is below the rounding of the amounts")
    return dict(options)


def _with_kappas(params: dict, names, kappa: np.ndarray) -> dict:
    """One occasion's parameters: P * exp(kappa) for the parameters with IOV."""
    out = dict(params)
    for i, name in enumerate(names):
        out[name] = params[name] * np.exp(kappa[:, i])
    return out


def check_times(times) -> np.ndarray:
    """Output times as a read-only float array; refused unless finite, >= 0, increasing."""
    t = numbers("times", times, "a number of hours")
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times has shape {t.shape}; expected a non-empty 1-D array of hours")
    refuse_first(~(np.isfinite(t) & (t >= 0)), "times", t, "a finite time >= 0 h")
    refuse_first(np.r_[False, np.diff(t) <= 0], "times", t,
                 "strictly increasing times (each later than the one before)")
    t.flags.writeable = False
    return t


def _random_effects(model: Model, n: int, entropy: int | None, first: int, occasions: int):
    """etas (n, n_etas) and kappas (n, occasions, n_iov); zeros without variability."""
    n_iov = len(model.iov_names)
    if entropy is None:
        return np.zeros((n, len(model.etas))), np.zeros((n, occasions, n_iov))
    etas = _variability.sample_etas(model.omega, n, entropy, first)
    z = _variability.standard_normals(entropy, _variability.STREAM_IOV, first, n, occasions * n_iov)
    sd = np.array([model.parameters[name].iov_sd for name in model.iov_names])
    return etas, z.reshape(n, occasions, n_iov) * sd


def _replicate_model(model: Model, entropy: int, r: int) -> Model:
    """Typical values of replicate r: value * exp(N(0, ln(1 + rse^2))), log-normal with CV rse."""
    names = list(model.parameters)
    z = _variability.standard_normals(entropy, _variability.STREAM_UNCERTAINTY, r, 1, len(names))[0]
    return model.with_typical_values({
        name: p.value * math.exp(z[i] * math.sqrt(math.log1p(p.rse ** 2)))
        for i, (name, p) in enumerate(model.parameters.items())})


class _Grown:
    """The cohort some hours later: weight along its z-score and age moved on."""

    def __init__(self, cohort: Cohort, weight_kg: np.ndarray, age_years: np.ndarray):
        self._cohort, self.weight_kg, self.age_years = cohort, weight_kg, age_years

    def __getattr__(self, name):
        return getattr(self._cohort, name)


def _grown(cohort: Cohort, growth_starts: np.ndarray, starts: np.ndarray) -> list:
    """The cohort's covariates in effect from each epoch start."""
    if growth_starts.size <= 1:
        return [cohort] * starts.size
    at = np.searchsorted(growth_starts, starts, side="right") - 1
    weights = growth.weight_trajectory(cohort, growth_starts[at])
    return [_Grown(cohort, weights[:, i], cohort.age_years + t / growth.HOURS_PER_YEAR)
            for i, t in enumerate(growth_starts[at])]


def _growth_starts(weight_update_h, times_h: np.ndarray, cohort: Cohort) -> np.ndarray:
    if weight_update_h is None:
        return np.zeros(1)
    if not (is_number(weight_update_h) and math.isfinite(weight_update_h) and weight_update_h > 0):
        raise ValueError(f"weight_update_h is {weight_update_h!r}; expected a finite number of "
                         "hours > 0 (or None: weights stay as at time 0)")
    if cohort.sex is None or cohort.weight_z is None:
        raise ValueError(f"weight_update_h is {weight_update_h!r} but the cohort has no "
                         f"{'sex' if cohort.sex is None else 'weight_z'}; expected a cohort that "
                         "can grow (Cohort.from_growth_charts, or from_frame with sex)")
    return np.arange(0.0, times_h[-1], float(weight_update_h))


def _check_ode_options(options: dict) -> None:
    """rtol, atol and method as solve_ivp can use them: it raises a smaller rtol to its floor
    without a word, and never finishes a step with a NaN atol."""
    for name, ok, expected in (("rtol", lambda v: v >= _RTOL_FLOOR,
                                f">= {_RTOL_FLOOR:.3g} (solve_ivp's smallest)"),
                               ("atol", lambda v: v > 0, "> 0 mg")):
        value = options.get(name)
        if name in options and not (is_number(value) and math.isfinite(value) and ok(value)):
            raise ValueError(f"engine option {name} is {value!r}; expected a finite number "
                             f"{expected}")
    method = options.get("method", ode.OPTIONS["method"])
    if not (method in _ODE_METHODS or (isinstance(method, type) and issubclass(method, OdeSolver))):
        raise ValueError(f"engine option method is {method!r}; expected one of "
                         f"{list(_ODE_METHODS)} (scipy.integrate.solve_ivp) or an OdeSolver")


def _occasions(occasions, model: Model) -> np.ndarray:
    if occasions is None:
        return np.zeros(1)
    if not model.iov_names:
        raise ValueError(f"occasions given, but model {model.name!r} has no inter-occasion "
                         "variability (no parameter has iov_sd)")
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
        raise ValueError("replicates needs variability=True (typical values are drawn from "
                         "their uncertainty)")
    if not any(p.rse > 0 for p in model.parameters.values()):
        raise ValueError(f"replicates given, but model {model.name!r} states no uncertainty "
                         "(no parameter has rse)")
    return int(replicates)


def _expect(value, kind: type, name: str, what: str) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} is a {type(value).__name__}; expected {what}")
