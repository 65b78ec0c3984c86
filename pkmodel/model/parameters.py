"""Parameters, covariates, random effects and residual error of a model: values, checked.

Typical value of a parameter for a child:
    TV = value * (weight_kg if the unit is per kg) * product of covariate factors
Individual value: P = TV * exp(sum of the random effects on P).
"""

import math
import re
import warnings
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np
from scipy import special

from .._checks import is_number, plain


class ModelFileError(ValueError):
    """A model (file) that cannot be used as written; the message names the field."""


class NegativeObservationWarning(UserWarning):
    """Observations drawn below 0 by an additive, proportional or combined residual error."""


# The cohort's own covariates, always available with these units (a file need not declare
# them); any other covariate the cohort carries (`Cohort.with_covariates`) is declared in the
# model file, [covariates.NAME] with its unit, or type = "categorical" for levels.
COHORT_COVARIATES = MappingProxyType(
    {
        "weight_kg": "kg",
        "age_years": "years",
        "height_cm": "cm",
        "bmi_kg_m2": "kg/m2",
        "sex": "categorical",
        "gmfcs": "categorical",
        # issue 18's renal function (pkmodel.population.renal.with_egfr, on main): bedside Schwartz
        "egfr_ml_min_1_73m2": "mL/min/1.73m2",
    }
)
_COVARIATE_KINDS = {"power": "exponent", "linear": "slope", "exponential": "slope", "categorical": None}
_RESIDUAL_KINDS = {
    "proportional": ("proportional_sd",),
    "additive": ("additive_sd",),
    "combined": ("proportional_sd", "additive_sd"),
    "exponential": ("proportional_sd",),
}
# Largest SD (log scale), relative SE or proportional error accepted: 3 is a CV of ~9,000 %;
# above it the number is a percentage written where a fraction belongs (33.4 for 0.334).
_MAX_SPREAD = 3.0
# A unit of the model language: products and quotients of these, e.g. mg/h/kg, L/h, 1/h, 1
UNIT_WORDS = ("mg", "L", "h", "kg", "years", "cm", "m2", "1")
_UNIT = re.compile(r"^(?:{w})(?:[*/](?:{w}))*$".format(w="|".join(UNIT_WORDS)))


def check_unit(unit, field_: str, where: str) -> str:
    """`unit` if it is a unit of the model language (UNIT_WORDS joined by * and /)."""
    if not (isinstance(unit, str) and _UNIT.match(unit)):
        raise ModelFileError(
            f"{where}: {field_} is {unit!r}; expected a unit made of "
            f"{', '.join(UNIT_WORDS)} joined by * and / (e.g. 'mg/h/kg', "
            "'1/h', '1' for a number without unit)"
        )
    return unit


@dataclass(frozen=True)
class Covariate:
    """A covariate the model uses: its name in the cohort, its unit, or "categorical" (levels)."""

    name: str
    unit: str
    source: str = ""

    @property
    def categorical(self) -> bool:
        return self.unit == "categorical"


@dataclass(frozen=True)
class CovariateEffect:
    """How a cohort covariate scales a parameter's typical value.

    power: (x / reference) ** exponent; linear: 1 + slope (x - reference);
    exponential: exp(slope (x - reference)); categorical: the typical value
    of each level (in the parameter's unit) replaces the parameter's value.
    missing: "error", or "typical" (children without the covariate keep the
    typical value: an optional covariate).
    iiv_sd: the SD (omega) of the parameter's own random effect left for
        children whose covariate the cohort gives, when the covariate explains
        part of the parameter's iiv_sd (so it is not counted twice): their
        eta is the drawn one times iiv_sd / the parameter's iiv_sd. None: all
        of the parameter's variability is kept.
    """

    covariate: str
    kind: str
    reference: float | None = None
    coefficient: float | None = None
    values: Mapping[str, float] | None = None
    missing: str = "error"
    iiv_sd: float | None = None


@dataclass(frozen=True)
class Parameter:
    """One typical value with its unit, covariate effects and variability.

    iiv_sd : SD of the log-normal inter-individual random effect (omega),
        shorthand for a random effect of this parameter alone.
    iov_sd : SD of the log-normal inter-occasion random effect.
    rse : relative standard error of the typical value (parameter uncertainty).
    """

    name: str
    value: float
    unit: str
    iiv_sd: float = 0.0
    iov_sd: float = 0.0
    rse: float = 0.0
    covariates: tuple[CovariateEffect, ...] = ()
    source: str = ""

    @property
    def per_kg(self) -> bool:
        return self.unit.endswith("/kg")


@dataclass(frozen=True)
class RandomEffect:
    """One inter-individual random effect (an eta), shared by `parameters`."""

    name: str
    sd: float
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class ResidualError:
    """Error between a true concentration C and an observation.

    proportional: C (1 + e1); additive: C + e2; combined: C (1 + e1) + e2;
    exponential: C exp(e1) (never negative). e1 ~ N(0, proportional_sd^2)
    (a fraction), e2 ~ N(0, additive_sd^2) (mg/L).

    The normal models are simulated as they are written, as NONMEM's $SIM
    does: an observation may fall below 0 (proportional: with probability
    Phi(-1 / proportional_sd) per observation, 1.5e-5 for 0.24), and is kept,
    not truncated or redrawn (either would change the error model the
    parameters were estimated with); `apply` warns with a
    NegativeObservationWarning when any is. Use "exponential" for
    observations that are always positive, or treat those below a
    quantification limit as censored.
    """

    kind: str
    proportional_sd: float = 0.0
    additive_sd: float = 0.0
    source: str = ""

    def apply(self, conc: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
        """Observations from concentrations and standard normal draws (all the same shape)."""
        if self.kind == "exponential":
            return conc * np.exp(self.proportional_sd * e1)
        obs = conc * (1 + self.proportional_sd * e1) + self.additive_sd * e2
        negative = int(np.count_nonzero(obs < 0))
        if negative:
            warnings.warn(
                NegativeObservationWarning(
                    f"residual error: {negative:,} of {obs.size:,} observations are negative "
                    f"(smallest {float(obs.min()):.3g} mg/L); the {self.kind} error model is simulated "
                    "as NONMEM does (expected fraction: ResidualError.negative_probability, "
                    f"{float(np.mean(self.negative_probability(conc))):.3g} here); kept as drawn. "
                    "Use residual_error type 'exponential' for positive observations, or treat "
                    "them as below the quantification limit"
                ),
                stacklevel=3,
            )
        return obs

    def negative_probability(self, conc) -> np.ndarray:
        """P(observation < 0) at each true concentration (mg/L), the shape of `conc`.

        proportional: Phi(-1 / sd_p); additive: Phi(-C / sd_a); combined:
        Phi(-C / sqrt(sd_p^2 C^2 + sd_a^2)); exponential: 0. (At C = 0 a
        proportional observation is 0, an additive one negative with
        probability 1/2.)
        """
        c = np.asarray(conc, dtype=float)
        if self.kind == "exponential":
            return np.zeros(c.shape)
        spread = np.hypot(self.proportional_sd * c, self.additive_sd)
        positive = spread > 0
        z = np.where(positive, -c / np.where(positive, spread, 1.0), -np.inf)
        return special.ndtr(z)


def _refuse_percent(where: str, field_: str, value: float, meaning: str) -> None:
    """An SD, RSE or proportional error above _MAX_SPREAD is a percentage in a fraction's place."""
    if value > _MAX_SPREAD:
        raise ModelFileError(
            f"{where}: {field_} is {value!r}; expected {meaning} of at most "
            f"{_MAX_SPREAD:g} (a fraction: 0.334 for 33.4 %)"
        )


def _check_covariate(
    effect: CovariateEffect, p: Parameter, where: str, declared: Mapping[str, Covariate]
) -> None:
    field_ = f"parameters.{p.name}.covariates.{effect.covariate}"
    if not (isinstance(effect.covariate, str) and effect.covariate in declared):
        raise ModelFileError(
            f"{where}: unknown covariate {effect.covariate!r} in {field_}; "
            f"expected one of {sorted(declared)} (the cohort's own) or a "
            f"covariate declared as [covariates.{effect.covariate}] with its unit"
        )
    if not (isinstance(effect.kind, str) and effect.kind in _COVARIATE_KINDS):
        raise ModelFileError(
            f"{where}: {field_}.type is {effect.kind!r}; expected one of {list(_COVARIATE_KINDS)}"
        )
    nature = "categorical" if declared[effect.covariate].categorical else "continuous"
    if (effect.kind == "categorical") != (nature == "categorical"):
        raise ModelFileError(
            f"{where}: {field_}.type is {effect.kind!r} but {effect.covariate!r} is {nature}"
        )
    if effect.missing not in ("error", "typical"):
        raise ModelFileError(
            f"{where}: {field_}.missing is {effect.missing!r}; expected 'error' or 'typical'"
        )
    if effect.covariate == "weight_kg" and p.per_kg:
        raise ModelFileError(
            f"{where}: {field_}: unit {p.unit!r} already scales with weight; "
            "expected an absolute unit (e.g. 'L/h') with a weight covariate"
        )
    if effect.iiv_sd is not None and not (
        is_number(effect.iiv_sd) and 0 <= effect.iiv_sd <= p.iiv_sd and p.iiv_sd > 0
    ):
        raise ModelFileError(
            f"{where}: {field_}.iiv_sd is {effect.iiv_sd!r}; expected the SD of "
            f"parameters.{p.name}'s own random effect left when the covariate is "
            f"known, a number from 0 to its iiv_sd ({p.iiv_sd!r})"
        )
    if effect.kind == "categorical":
        values = effect.values
        if not (
            isinstance(values, Mapping)
            and values
            and all(is_number(v) and math.isfinite(v) and v > 0 for v in values.values())
        ):
            raise ModelFileError(
                f"{where}: {field_}.values is {values!r}; expected a table of "
                f"levels with typical values > 0 in {p.unit}"
            )
        return
    coefficient = _COVARIATE_KINDS[effect.kind]
    for key, value in (("reference", effect.reference), (coefficient, effect.coefficient)):
        if not (is_number(value) and math.isfinite(value)):
            raise ModelFileError(f"{where}: {field_}.{key} is {value!r}; expected a finite number")
    assert effect.reference is not None  # a finite number: refused just above otherwise
    if effect.kind == "power" and not effect.reference > 0:
        raise ModelFileError(f"{where}: {field_}.reference is {effect.reference!r}; expected a number > 0")


def _covariate_factor(effect: CovariateEffect, p: Parameter, cohort, where: str) -> np.ndarray:
    values = cohort_covariate(cohort, effect.covariate)
    if values is None:
        if effect.missing == "typical":
            return np.ones(len(cohort.weight_kg))
        raise ValueError(
            f"model {where}: parameters.{p.name} depends on covariate "
            f"{effect.covariate!r}, which the cohort does not have"
        )
    if effect.kind == "categorical":
        assert effect.values is not None  # checked with the model (_check_covariate)
        table = {str(k): v for k, v in effect.values.items()}
        levels, slot = np.unique(np.asarray(values).astype(str), return_inverse=True)
        unknown = [level for level in levels if level not in table]
        if unknown:
            raise ValueError(
                f"cohort covariate {effect.covariate!r} has level {unknown[0]!r}; "
                f"model {where} expects one of {sorted(table)}"
            )
        return np.array([table[level] for level in levels])[slot] / p.value  # loop over levels
    x = np.asarray(values, dtype=float)
    # finite numbers for a continuous effect, checked with the model (_check_covariate)
    assert effect.reference is not None and effect.coefficient is not None
    if effect.kind == "power":
        factor = (x / effect.reference) ** effect.coefficient
    elif effect.kind == "linear":
        factor = 1 + effect.coefficient * (x - effect.reference)
    else:
        factor = np.exp(effect.coefficient * (x - effect.reference))
    bad = np.flatnonzero(~(np.isfinite(factor) & (factor > 0)))
    if bad.size:
        raise ValueError(
            f"model {where}: covariate {effect.covariate!r} = {plain(x[bad[0]])!r} "
            f"makes parameters.{p.name} non-positive (factor {plain(factor[bad[0]])!r})"
        )
    return factor


def cohort_covariate(cohort, name: str):
    """A cohort's values of covariate `name` (shape (n_subjects,)), or None if it has none."""
    values = getattr(cohort, name, None)
    if values is None:
        values = (getattr(cohort, "covariates", None) or {}).get(name)
    return values
