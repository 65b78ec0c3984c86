"""Plan: a checked simulation without its children, run on any rows of a cohort.

`pk.simulate` checks its inputs once and makes a Plan; `Plan.run` simulates a cohort
(the whole one, or a chunk of it, `pkmodel.simulation.chunked`) through the plan's engine
(`pkmodel.engines.base`). A child's random effects and drawn doses depend only on the seed
and its position in the whole cohort (`pkmodel.population.variability`), so the cohort run
in pieces gives the same numbers as run at once.
"""

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .._checks import plain
from ..dosing.doses import Doses, SubjectDoses
from ..dosing.events import EventTable
from ..dosing.regimen import Regimen
from ..engines.base import Engine
from ..engines.common import Epochs
from ..model import validity
from ..model.model import Model
from ..model.structures import OPTIONAL, UNITS
from ..population import growth
from ..population import variability as _variability
from ..population.cohort import Cohort
from .result import Result, handed_over


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
    engine: Engine
    engine_options: Mapping[str, Any]
    variability: bool
    entropy: int | None
    occasion_starts: np.ndarray
    growth_starts: np.ndarray
    replicates: int | None
    dose_check: str | None = None  # "warn" | "strict": check each child's doses against validity
    in_chunks: bool = False  # run by chunked.simulate (dose warnings per chunk)

    @property
    def starts(self) -> np.ndarray:
        """Where parameters may change (occasions, weight updates), h."""
        return np.union1d(self.occasion_starts, self.growth_starts)

    def doses(self, cohort: Cohort, first: int = 0) -> Doses | SubjectDoses:
        """What the children at positions first, ... of the whole cohort are given."""
        if isinstance(self.regimen, EventTable):
            return self.regimen.doses(cohort)
        return self.regimen.doses(cohort, seed=self.entropy, first=first)

    def run(self, cohort: Cohort, first: int = 0, doses: Doses | SubjectDoses | None = None) -> Result:
        """The Result of `cohort`, as the children at positions first, ...; doses: theirs, if known."""
        model, engine, occasion_starts = self.model, self.engine, self.occasion_starts
        replicates, entropy, times_h = self.replicates, self.entropy, self.times_h
        starts = self.starts
        covariates = _grown(cohort, self.growth_starts, starts)
        n_replicates = replicates or 1
        n = len(cohort)
        doses = self.doses(cohort, first) if doses is None else doses
        reason = engine.supports(model, doses)
        if reason is not None:
            raise ValueError(f"engine {engine.name!r} cannot simulate this: {reason}")
        if self.dose_check:
            validity.check_doses(
                model,
                cohort,
                doses.largest_mg(),
                self.dose_check == "strict",
                first=first,
                chunk=self.in_chunks,
            )
        blocks, individual, etas, kappas = [], [], [], []
        params: Epochs | dict[str, np.ndarray]
        for r in range(n_replicates):  # over replicates, each vectorised over the cohort
            if replicates:
                assert entropy is not None  # replicates need variability, which draws it (simulate)
                replicate_model = _replicate_model(model, entropy, r)
            else:
                replicate_model = model
            eta, kappa = _random_effects(
                replicate_model,
                n,
                entropy if self.variability else None,
                first=first + r * n,
                occasions=occasion_starts.size,
            )
            own = replicate_model.individual_parameters(cohort, eta)
            if starts.size > 1:
                occasion = np.searchsorted(occasion_starts, starts, side="right") - 1
                params = Epochs(
                    start_h=starts,
                    params=tuple(
                        _with_kappas(
                            replicate_model.individual_parameters(c, eta), model.iov_names, kappa[:, o]
                        )
                        for c, o in zip(covariates, occasion)
                    ),
                )
                for p in params.params:
                    _check_individual(model, p, cohort, first)
                # the covariates the equations use (model language) go with the parameters
                params = Epochs(
                    start_h=starts,
                    params=tuple(
                        {**p, **model.covariate_values(c)} for p, c in zip(params.params, covariates)
                    ),
                )
            else:
                params = _with_kappas(own, model.iov_names, kappa[:, 0])
                _check_individual(model, params, cohort, first)
                params.update(model.covariate_values(cohort))
            block = engine.simulate(model, params, doses, times_h, **self.engine_options)
            if getattr(engine, "fresh_output", False):  # nobody else holds it: kept without a copy
                block = handed_over(block)
            blocks.append(_outputs(block, model))
            individual.append(own)
            etas.append(eta)
            kappas.append(kappa)
        outputs = {
            name: np.concatenate([b[name] for b in blocks]) if len(blocks) > 1 else blocks[0][name]
            for name in blocks[0]
        }
        return Result(
            times=times_h,
            concentrations=outputs.pop("conc"),
            outputs=outputs or None,
            individual={k: np.concatenate([p[k] for p in individual]) for k in individual[0]},
            etas=np.concatenate(etas),
            kappas=np.concatenate(kappas),
            occasions=starts,
            cohort=cohort,
            doses=doses,
            model=model,
            engine=engine.name,
            seed=entropy,
            regimen=self.regimen.label,
            variability=self.variability,
            replicate=np.repeat(np.arange(n_replicates), n) if replicates else None,
        )


def _outputs(block, model: Model) -> dict[str, np.ndarray]:
    """An engine's answer as {output: (n_subjects, n_times)}: an array is the concentration;
    a mapping must hold every output of the model."""
    if not isinstance(block, Mapping):
        return {"conc": block}
    missing = [n for n in model.outputs if n not in block]
    if missing:
        raise ValueError(
            f"engine returned outputs {sorted(block)}; model {model.name!r} has "
            f"{list(model.outputs)} ({missing[0]!r} missing)"
        )
    return {n: block[n] for n in model.outputs}


def _check_individual(model: Model, params: Mapping[str, np.ndarray], cohort: Cohort, first: int) -> None:
    """Refuse a child whose parameter is not a finite number > 0 (tlag >= 0), naming both;
    in the model language, not a finite number."""
    if model.structure is None:
        dimensions = {}
    else:
        dimensions = {**model.structure.parameters, **{n: d for n, (d, _) in OPTIONAL.items()}}
    for name, values in params.items():
        if name not in dimensions:  # the model language: any finite number, in its own unit
            ok = np.isfinite(values)
        else:
            ok = np.isfinite(values) & ((values >= 0) if name == "tlag" else (values > 0))
        bad = np.flatnonzero(~ok)
        if bad.size:
            i = int(bad[0])
            assert cohort.ids is not None  # Cohort.__post_init__ sets it
            unit = (
                UNITS[dimensions[name]][-1]
                if name in dimensions
                else model.parameters[name].unit.removesuffix("/kg")
            )
            raise ValueError(
                f"model {model.name!r}: child ID {plain(cohort.ids[i])} (position {first + i}) "
                f"has {name} = {plain(values[i])!r} {unit}; expected a finite number"
                f"{'' if name not in dimensions else ' >= 0' if name == 'tlag' else ' > 0'} "
                "(from the model's value "
                f"{model.parameters[name].value!r} {model.parameters[name].unit}, the child's "
                f"weight {plain(cohort.weight_kg[i])!r} kg, covariates and random effects)"
            )


def _with_kappas(params: dict, names, kappa: np.ndarray) -> dict:
    """One occasion's parameters: P * exp(kappa) for the parameters with IOV."""
    out = dict(params)
    for i, name in enumerate(names):
        out[name] = params[name] * np.exp(kappa[:, i])
    return out


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
    return model.with_typical_values(
        {
            name: p.value * math.exp(z[i] * math.sqrt(math.log1p(p.rse**2)))
            for i, (name, p) in enumerate(model.parameters.items())
        }
    )


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
    return [
        _Grown(cohort, weights[:, i], cohort.age_years + t / growth.HOURS_PER_YEAR)
        for i, t in enumerate(growth_starts[at])
    ]
