"""Model: its equations (a named structure, or the model language), parameters, covariate and
random effects.

Typical value of a parameter for a child:
    TV = value * (weight_kg if the unit is per kg) * product of covariate factors
Individual value: P = TV * exp(sum of the random effects on P).
Random effects (etas) are N(0, omega), omega = D R D with D the SDs and R the
correlations given in the file ("SD + correlation" is the one form).

A model has one representation of its equations, `Model.system` (a CompiledSystem of
`pkmodel.model.compiler`): written in the file (`equations`, the model language) or
expanded from the named structure (`System.from_structure`), so both forms are one thing
to every engine.
"""

import functools
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .. import _display
from . import checks
from .compiler import CompiledSystem, compile_system
from .expressions import System
from .linear import SystemStructure
from .parameters import (
    COHORT_COVARIATES,
    Covariate,
    CovariateEffect,
    ModelFileError,
    NegativeObservationWarning,
    Parameter,
    RandomEffect,
    ResidualError,
    _covariate_factor,
    cohort_covariate,
)
from .structures import OPTIONAL, Structure
from .validity import ValidRange

__all__ = [
    "Covariate",
    "CovariateEffect",
    "Model",
    "ModelFileError",
    "NegativeObservationWarning",
    "Parameter",
    "RandomEffect",
    "ResidualError",
    "cohort_covariate",
]

# Transit compartments at most: each one adds a state, and the analytic engine's matrix
# exponential costs O(m^3) per child (2 children over 14 days: 0.05 s at n = 50, 3.8 s at
# 200, minutes at 1000).
MAX_TRANSIT = 50
# Compartments of a model written in the language at most (the same cost as MAX_TRANSIT)
MAX_COMPARTMENTS = MAX_TRANSIT + 3


@dataclass(frozen=True)
class Model:
    """Equations and parameters, checked on construction.

    structure : a named structure (the short form), or None when `equations` (the model
        language: a System whose parameters are this model's) are given instead.
    covariates : covariates the model uses besides the cohort's own (COHORT_COVARIATES),
        declared with their units.

    random_effects holds the shared random effects only; `etas` lists all
    (a parameter's own iiv_sd first, in parameter order, then the shared).
    correlations : ((eta_a, eta_b, r), ...), each pair once.
    validity : the ranges of age, weight, weight-for-age z and dose the model
        states it was built on (`pkmodel.model.validity`); `simulate` warns outside.
    """

    name: str
    structure: Structure | None
    parameters: Mapping[str, Parameter]
    random_effects: tuple[RandomEffect, ...] = ()
    correlations: tuple[tuple[str, str, float], ...] = ()
    residual_error: ResidualError | None = None
    validity: tuple[ValidRange, ...] = ()
    description: str = ""
    concentration: str = ""
    source: str = ""
    path: str | None = field(default=None, compare=False)
    equations: System | None = None
    covariates: Mapping[str, Covariate] = field(default_factory=dict)

    def __repr__(self) -> str:
        return _display.text(_display.model(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.model(self))

    def __post_init__(self):
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "random_effects", tuple(self.random_effects))
        object.__setattr__(self, "correlations", tuple(self.correlations))
        object.__setattr__(self, "validity", tuple(self.validity))
        object.__setattr__(self, "covariates", MappingProxyType(dict(self.covariates)))
        where = self.path or self.name
        if (self.structure is None) == (self.equations is None):
            raise ModelFileError(
                f"{where}: give a structure or equations (the model language); "
                f"got {'both' if self.structure is not None else 'neither'}"
            )
        if self.equations is not None:
            self._check_equations(where)
        elif self.structure is not None and self.structure.n_transit > MAX_TRANSIT:
            raise ModelFileError(
                f"{where}: model.n_transit is {self.structure.n_transit!r}; expected at most "
                f"{MAX_TRANSIT} transit compartments (each adds a state: the cost per child grows "
                "with its cube)"
            )
        checks.check_parameters(self, where)
        checks.check_random_effects(self, where)
        checks.check_residual_error(self, where)
        checks.check_validity(self, where)

    # --- validation -----------------------------------------------------------

    def _check_equations(self, where: str) -> None:
        s = self.equations
        if not isinstance(s, System):
            raise ModelFileError(f"{where}: equations is a {type(s).__name__}; expected a System")
        if len(s.compartments) > MAX_COMPARTMENTS:
            raise ModelFileError(
                f"{where}: model.compartments has {len(s.compartments)} names; "
                f"expected at most {MAX_COMPARTMENTS} (the cost per child grows "
                "with the cube of the compartments)"
            )
        if tuple(s.parameters) != tuple(self.parameters):
            raise ModelFileError(
                f"{where}: the equations' parameters {list(s.parameters)} are "
                f"not the model's {list(self.parameters)}"
            )
        undeclared = sorted(set(s.covariates) - set(self.all_covariates))
        if undeclared:
            raise ModelFileError(
                f"{where}: covariate {undeclared[0]!r} is used but not declared; "
                f"expected [covariates.{undeclared[0]}] with its unit"
            )
        categorical = [c for c in s.covariates if self.all_covariates[c].categorical]
        if categorical:
            raise ModelFileError(
                f"{where}: covariate {categorical[0]!r} is categorical (levels); "
                "expected numbers in expressions (use it in a parameter's "
                "[parameters.NAME.covariates] table instead)"
            )
        compiled = _compiled(s)
        unused = [n for n in s.parameters if n not in compiled._uses]
        if unused:
            raise ModelFileError(
                f"{where}: parameters.{unused[0]} is not used by any expression; "
                "expected every parameter in [derived], [odes], [outputs] or "
                "[dosing]"
            )
        object.__setattr__(self, "_system", compiled)

    # --- equations ---------------------------------------------------------------

    @property
    def system(self) -> CompiledSystem:
        """The model's equations compiled (the language, or the structure written out)."""
        compiled = self.__dict__.get("_system")
        if compiled is None:
            compiled = (
                _compiled(self.equations)
                if self.equations is not None
                else _structure_systems(self.structure)
            )
            object.__setattr__(self, "_system", compiled)
        return compiled

    @property
    def is_linear(self) -> bool:
        """dx/dt = K x + b with K, b free of the amounts and t (named structures always are)."""
        return self.structure is not None or self.system.is_linear

    @property
    def nonlinear_reason(self) -> str | None:
        """None for a linear model; else the first equation and term that is not linear."""
        return None if self.structure is not None else self.system.nonlinear_reason

    @property
    def compartments(self) -> tuple[str, ...]:
        if self.structure is not None:  # without compiling (sympy) the short form
            return self.structure.compartments
        assert self.equations is not None  # one of the two, checked in __post_init__
        return tuple(self.equations.compartments)

    @property
    def dose_compartment(self) -> str:
        """Where a plain dose goes (NONMEM's default dose compartment)."""
        if self.structure is not None:
            return self.structure.compartments[self.structure.dose_index]
        assert self.equations is not None and self.equations.dose_compartment is not None  # System sets it
        return self.equations.dose_compartment

    @property
    def outputs(self) -> tuple[str, ...]:
        """The named outputs; "conc" (mg/L) is the concentration exposure reads."""
        if self.structure is not None:
            return ("conc",)
        assert self.equations is not None  # one of the two, checked in __post_init__
        return tuple(self.equations.outputs)

    @property
    def all_covariates(self) -> Mapping[str, Covariate]:
        """The cohort's own covariates and those the file declares, by name."""
        own = {n: Covariate(n, u) for n, u in COHORT_COVARIATES.items()}
        return MappingProxyType({**own, **self.covariates})

    @property
    def compartment_model(self):
        """The engines' view of the equations: the Structure, or a SystemStructure."""
        if self.structure is not None:
            return self.structure
        view = self.__dict__.get("_view")
        if view is None:
            view = SystemStructure(self.system, self.name)
            object.__setattr__(self, "_view", view)
        return view

    def covariate_values(self, cohort) -> dict[str, np.ndarray]:
        """The covariates the equations use, from `cohort`, each shape (n_subjects,), in the
        unit declared; refused when the cohort lacks one or it is not a finite number."""
        out: dict[str, np.ndarray] = {}
        if self.equations is None:
            return out
        uses = self.system._uses
        for name in (c for c in self.equations.covariates if c in uses):
            values = cohort_covariate(cohort, name)
            unit = self.all_covariates[name].unit
            if values is None:
                raise ValueError(
                    f"model {self.name!r} uses covariate {name!r} ({unit}), which "
                    "the cohort does not have; expected cohort.with_covariates("
                    f"{name}=...)"
                )
            try:
                x = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(
                    f"cohort covariate {name!r} is not numbers; model {self.name!r} expects {unit}"
                ) from None
            bad = np.flatnonzero(~np.isfinite(x))
            if bad.size:
                raise ValueError(
                    f"cohort covariate {name!r} is {values[bad[0]]!r} at position "
                    f"{int(bad[0])}; expected a finite number in {unit}"
                )
            out[name] = x
        return out

    # --- random effects ----------------------------------------------------------

    @property
    def etas(self) -> tuple[RandomEffect, ...]:
        """All inter-individual random effects, in the column order of `etas` arrays."""
        own = tuple(RandomEffect(n, p.iiv_sd, (n,)) for n, p in self.parameters.items() if p.iiv_sd > 0)
        return own + self.random_effects

    @property
    def eta_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.etas)

    @property
    def omega(self) -> np.ndarray:
        """Covariance of the random effects, shape (n_etas, n_etas)."""
        sd = np.array([e.sd for e in self.etas])
        corr = np.eye(sd.size)
        index = {n: i for i, n in enumerate(self.eta_names)}
        for a, b, r in self.correlations:
            if a in index and b in index:
                corr[index[a], index[b]] = corr[index[b], index[a]] = r
        return corr * np.outer(sd, sd)

    @property
    def iov_names(self) -> tuple[str, ...]:
        """Parameters with inter-occasion variability, in parameter order."""
        return tuple(n for n, p in self.parameters.items() if p.iov_sd > 0)

    # --- individual parameters ----------------------------------------------------

    def typical_values(self, cohort) -> dict[str, np.ndarray]:
        """Each child's typical parameters (no random effects), shape (n_subjects,).

        In L/h, L, 1/h, h, and F (fraction); F = 1 and tlag = 0 when the model
        does not give them. `cohort` supplies weight_kg and any covariate. A
        value that overflows is inf (`simulate` refuses it, naming the child).
        """
        weight = np.asarray(cohort.weight_kg, dtype=float)
        out = {}
        for name, p in self.parameters.items():
            with np.errstate(over="ignore"):
                tv = p.value * weight if p.per_kg else np.full(weight.shape, float(p.value))
            for effect in p.covariates:
                with np.errstate(over="ignore"):
                    tv = tv * _covariate_factor(effect, p, cohort, self.path or self.name)
            out[name] = tv
        for name, (_, default) in OPTIONAL.items() if self.structure is not None else ():
            out.setdefault(name, np.full(weight.shape, default))
        return out

    def individual_parameters(self, cohort, etas: np.ndarray) -> dict[str, np.ndarray]:
        """Typical values times exp(random effects).

        Parameters
        ----------
        etas : ndarray, shape (n_subjects, n_etas)
            Columns in the order of `eta_names`.

        Returns
        -------
        dict of ndarray, shape (n_subjects,)
        """
        out = self.typical_values(cohort)
        for i, effect in enumerate(self.etas):
            for name in effect.parameters:
                with np.errstate(over="ignore", invalid="ignore"):
                    out[name] = out[name] * np.exp(etas[:, i] * self._eta_scale(name, effect, cohort))
        return out

    def _eta_scale(self, name: str, effect: RandomEffect, cohort) -> float:
        """iiv_sd kept / iiv_sd for a parameter's own eta when the cohort gives a covariate
        that explains part of it (CovariateEffect.iiv_sd), else 1."""
        p = self.parameters[name]
        kept = [
            c.iiv_sd
            for c in p.covariates
            if c.iiv_sd is not None and cohort_covariate(cohort, c.covariate) is not None
        ]
        return min(kept) / p.iiv_sd if kept and effect.name == name else 1.0

    def with_typical_values(self, values: Mapping[str, float]) -> "Model":
        """The same model with other typical values (e.g. one uncertainty replicate)."""
        params = {n: replace(p, value=float(values.get(n, p.value))) for n, p in self.parameters.items()}
        return replace(self, parameters=params)


@functools.lru_cache(maxsize=64)
def _structure_systems(structure: Structure) -> CompiledSystem:
    """A named structure's equations compiled once per structure (sympy takes ~0.1 s)."""
    return compile_system(System.from_structure(structure, where=structure.label))


_COMPILED: dict[int, tuple[System, CompiledSystem]] = {}


def _compiled(system: System) -> CompiledSystem:
    """`system` compiled, once per System object (a model changed by `replace` keeps its
    equations: replicates do not compile again)."""
    hit = _COMPILED.get(id(system))
    if hit is not None and hit[0] is system:
        return hit[1]
    compiled = compile_system(system)
    if len(_COMPILED) >= 64:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[id(system)] = (system, compiled)
    return compiled
