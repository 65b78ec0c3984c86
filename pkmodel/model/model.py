"""Model: a structure, its parameters, covariate and random effects; model files.

Typical value of a parameter for a child:
    TV = value * (weight_kg if the unit is per kg) * product of covariate factors
Individual value: P = TV * exp(sum of the random effects on P).
Random effects (etas) are N(0, omega), omega = D R D with D the SDs and R the
correlations given in the file ("SD + correlation" is the one form).
"""

import ast
import math
import operator
import os
import tomllib
import warnings
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
from scipy import special

from .._checks import is_number, plain
from .structures import ABSORPTIONS, OPTIONAL, STRUCTURE_NAMES, UNITS, Structure
from .validity import QUANTITIES as VALIDITY_QUANTITIES, ValidRange


class ModelFileError(ValueError):
    """A model (file) that cannot be used as written; the message names the field."""


class NegativeObservationWarning(UserWarning):
    """Observations drawn below 0 by an additive, proportional or combined residual error."""


# Covariates a model file may name, and whether they are numbers or levels.
KNOWN_COVARIATES = MappingProxyType({
    "weight_kg": "continuous", "age_years": "continuous", "height_cm": "continuous",
    "bmi_kg_m2": "continuous", "sex": "categorical", "gmfcs": "categorical",
    "abcc9_rs11046232": "categorical", "egfr_ml_min_1_73m2": "continuous",
})
_COVARIATE_KINDS = {"power": "exponent", "linear": "slope", "exponential": "slope",
                    "categorical": None}
_RESIDUAL_KINDS = {"proportional": ("proportional_sd",), "additive": ("additive_sd",),
                   "combined": ("proportional_sd", "additive_sd"),
                   "exponential": ("proportional_sd",)}

_MODEL_KEYS = {"name", "structure", "absorption", "n_transit", "description", "concentration",
               "source"}
_PARAMETER_KEYS = {"value", "unit", "derived", "iiv_sd", "iov_sd", "rse", "covariates", "source",
                   "iiv_source", "iov_source", "rse_source", "note", "assumed"}
_COVARIATE_KEYS = {"type", "reference", "exponent", "slope", "values", "missing", "iiv_sd",
                   "source", "note"}
_EFFECT_KEYS = {"sd", "parameters", "source", "note"}
_CORRELATION_KEYS = {"between", "value", "source", "note"}
_RESIDUAL_KEYS = {"type", "proportional_sd", "additive_sd", "source", "note", "assumed"}
_RANGE_KEYS = {"range", "source", "note", "assumed"}
# Fields that hold text (sources, notes), wherever they appear
_TEXT_KEYS = {"description", "concentration", "source", "note", "assumed", "iiv_source",
              "iov_source", "rse_source"}
# A derived value must equal its expression to this relative precision: the
# file stores full precision, and a rounded copy (e.g. 1.7723508577) is refused.
_DERIVED_RTOL = 1e-13
# Largest SD (log scale), relative SE or proportional error accepted: 3 is a CV of ~9,000 %;
# above it the number is a percentage written where a fraction belongs (33.4 for 0.334).
_MAX_SPREAD = 3.0
# Transit compartments at most: each one adds a state, and the analytic engine's matrix
# exponential costs O(m^3) per child (2 children over 14 days: 0.05 s at n = 50, 3.8 s at
# 200, minutes at 1000).
MAX_TRANSIT = 50
# A derived value is a short formula (the bundled ones are under 25 characters); a longer
# text is refused before it is parsed (a 100,000-term sum exhausts the parser's recursion).
_MAX_DERIVED_CHARS = 1000
# A model file is a page of TOML (the bundled ones are ~3 kB); a larger file is refused
# unread.
MAX_MODEL_FILE_BYTES = 1_000_000


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
            warnings.warn(NegativeObservationWarning(
                f"residual error: {negative:,} of {obs.size:,} observations are negative "
                f"(smallest {float(obs.min()):.3g} mg/L); the {self.kind} error model is simulated "
                "as NONMEM does (expected fraction: ResidualError.negative_probability, "
                f"{float(np.mean(self.negative_probability(conc))):.3g} here); kept as drawn. "
                "Use residual_error type 'exponential' for positive observations, or treat "
                "them as below the quantification limit"), stacklevel=3)
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


@dataclass(frozen=True)
class Model:
    """A structure and its parameters, checked on construction.

    random_effects holds the shared random effects only; `etas` lists all
    (a parameter's own iiv_sd first, in parameter order, then the shared).
    correlations : ((eta_a, eta_b, r), ...), each pair once.
    validity : the ranges of age, weight, weight-for-age z and dose the model
        states it was built on (`pkmodel.model.validity`); `simulate` warns outside.
    """

    name: str
    structure: Structure
    parameters: Mapping[str, Parameter]
    random_effects: tuple[RandomEffect, ...] = ()
    correlations: tuple[tuple[str, str, float], ...] = ()
    residual_error: ResidualError | None = None
    validity: tuple[ValidRange, ...] = ()
    description: str = ""
    concentration: str = ""
    source: str = ""
    path: str | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "random_effects", tuple(self.random_effects))
        object.__setattr__(self, "correlations", tuple(self.correlations))
        object.__setattr__(self, "validity", tuple(self.validity))
        where = self.path or self.name
        if self.structure.n_transit > MAX_TRANSIT:
            raise ModelFileError(
                f"{where}: model.n_transit is {self.structure.n_transit!r}; expected at most "
                f"{MAX_TRANSIT} transit compartments (each adds a state: the cost per child grows "
                "with its cube)")
        self._check_parameters(where)
        self._check_random_effects(where)
        self._check_residual_error(where)
        self._check_validity(where)

    # --- validation -----------------------------------------------------------

    def _check_parameters(self, where: str) -> None:
        required = self.structure.parameters
        missing = [n for n in required if n not in self.parameters]
        if missing:
            raise ModelFileError(
                f"{where}: parameters {missing} missing; structure {self.structure.label!r} "
                f"needs {list(required)}")
        unknown = [n for n in self.parameters if n not in required and n not in OPTIONAL]
        if unknown:
            raise ModelFileError(
                f"{where}: unknown parameters {unknown}; structure {self.structure.label!r} "
                f"takes {list(required)} and optionally {list(OPTIONAL)}")
        for name, p in self.parameters.items():
            dimension = required.get(name) or OPTIONAL[name][0]
            units = UNITS[dimension]
            if p.unit not in units:
                raise ModelFileError(
                    f"{where}: parameters.{name}.unit is {p.unit!r}; expected one of "
                    + ", ".join(repr(u) for u in units))
            lowest_ok = 0.0 if name == "tlag" else None
            if not (is_number(p.value) and math.isfinite(p.value)
                    and (p.value >= 0 if lowest_ok == 0.0 else p.value > 0)):
                bound = ">= 0" if lowest_ok == 0.0 else "> 0"
                raise ModelFileError(
                    f"{where}: parameters.{name}.value is {p.value!r}; expected a finite "
                    f"number {bound} in {p.unit}")
            for key, meaning in (("iiv_sd", "an SD on the log scale"),
                                 ("iov_sd", "an SD on the log scale"),
                                 ("rse", "a relative standard error")):
                value = getattr(p, key)
                if not (is_number(value) and math.isfinite(value) and value >= 0):
                    raise ModelFileError(f"{where}: parameters.{name}.{key} is {value!r}; "
                                         f"expected a finite number >= 0 ({meaning})")
                _refuse_percent(where, f"parameters.{name}.{key}", value, meaning)
            for effect in p.covariates:
                _check_covariate(effect, p, where)

    def _check_random_effects(self, where: str) -> None:
        owner: dict[str, str] = {n: n for n, p in self.parameters.items() if p.iiv_sd > 0}
        for effect in self.random_effects:
            field_ = f"random_effects.{effect.name}"
            if not (is_number(effect.sd) and math.isfinite(effect.sd) and effect.sd >= 0):
                raise ModelFileError(f"{where}: {field_}.sd is {effect.sd!r}; expected a finite "
                                     "number >= 0 (an SD on the log scale)")
            _refuse_percent(where, f"{field_}.sd", effect.sd, "an SD on the log scale")
            if effect.name in self.parameters:
                raise ModelFileError(f"{where}: {field_} is named like a parameter; expected a "
                                     "name of its own (e.g. 'Vss')")
            if not effect.parameters:
                raise ModelFileError(f"{where}: {field_}.parameters is empty; expected the "
                                     "parameters it acts on")
            for name in effect.parameters:
                if name not in self.parameters:
                    raise ModelFileError(f"{where}: {field_}.parameters names {name!r}; expected "
                                         f"one of {list(self.parameters)}")
                if name in owner:
                    raise ModelFileError(f"{where}: parameters.{name} has two random effects "
                                         f"({owner[name]!r} and {effect.name!r}); expected one")
                owner[name] = effect.name
        names = self.eta_names
        given: dict[frozenset, tuple] = {}
        for i, (a, b, r) in enumerate(self.correlations):
            for n in (a, b):
                if not isinstance(n, str) or n not in names:
                    raise ModelFileError(f"{where}: correlation between {a!r} and {b!r}: {n!r} "
                                         f"is not a random effect; expected one of {list(names)}")
            if a == b or not (is_number(r) and -1 <= r <= 1):
                raise ModelFileError(f"{where}: correlation between {a!r} and {b!r} is {r!r}; "
                                     "expected a number in [-1, 1] between two random effects")
            pair = frozenset((a, b))
            if pair in given:
                j, r0 = given[pair]
                same = "the same value" if r0 == r else f"{r0!r} and then {r!r}"
                raise ModelFileError(f"{where}: correlations[{j}] and correlations[{i}] both give "
                                     f"the correlation between {a!r} and {b!r} ({same}); expected "
                                     "each pair once")
            given[pair] = (i, r)
        omega = self.omega
        if omega.size:
            smallest = float(np.linalg.eigvalsh(omega).min())
            if smallest < -1e-12 * float(np.abs(omega).max()):
                raise ModelFileError(
                    f"{where}: omega (random effects {list(names)}) is not positive "
                    f"semi-definite: smallest eigenvalue {smallest:.3g}; expected correlations "
                    "that can occur together")

    def _check_residual_error(self, where: str) -> None:
        e = self.residual_error
        if e is None:
            return
        if not (isinstance(e.kind, str) and e.kind in _RESIDUAL_KINDS):
            raise ModelFileError(f"{where}: residual_error.type is {e.kind!r}; expected one of "
                                 f"{list(_RESIDUAL_KINDS)}")
        for key in ("proportional_sd", "additive_sd"):
            value = getattr(e, key)
            if not (is_number(value) and math.isfinite(value) and value >= 0):
                raise ModelFileError(f"{where}: residual_error.{key} is {value!r}; expected a "
                                     "finite number >= 0")
        _refuse_percent(where, "residual_error.proportional_sd", e.proportional_sd, "a fraction")
        for key in _RESIDUAL_KINDS[e.kind]:
            if getattr(e, key) == 0:
                raise ModelFileError(f"{where}: residual_error.{key} is missing or 0; type "
                                     f"{e.kind!r} needs it")

    def _check_validity(self, where: str) -> None:
        seen = set()
        for bound in self.validity:
            field_ = f"validity.{bound.quantity}"
            if not (isinstance(bound.quantity, str) and bound.quantity in VALIDITY_QUANTITIES):
                raise ModelFileError(f"{where}: validity has {bound.quantity!r}; expected some of "
                                     f"{list(VALIDITY_QUANTITIES)}")
            if bound.quantity in seen:
                raise ModelFileError(f"{where}: {field_} is given twice; expected one range")
            seen.add(bound.quantity)
            low, high = bound.low, bound.high
            if not (is_number(low) and is_number(high) and math.isfinite(low)
                    and math.isfinite(high) and low <= high):
                raise ModelFileError(f"{where}: {field_}.range is {[low, high]!r}; expected "
                                     f"[low, high], finite numbers with low <= high "
                                     f"({VALIDITY_QUANTITIES[bound.quantity]})")

    # --- random effects ----------------------------------------------------------

    @property
    def etas(self) -> tuple[RandomEffect, ...]:
        """All inter-individual random effects, in the column order of `etas` arrays."""
        own = tuple(RandomEffect(n, p.iiv_sd, (n,)) for n, p in self.parameters.items()
                    if p.iiv_sd > 0)
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
        for name, (_, default) in OPTIONAL.items():
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
        kept = [c.iiv_sd for c in p.covariates if c.iiv_sd is not None
                and cohort_covariate(cohort, c.covariate) is not None]
        return min(kept) / p.iiv_sd if kept and effect.name == name else 1.0

    def with_typical_values(self, values: Mapping[str, float]) -> "Model":
        """The same model with other typical values (e.g. one uncertainty replicate)."""
        params = {n: replace(p, value=float(values.get(n, p.value))) for n, p in self.parameters.items()}
        return replace(self, parameters=params)


def _refuse_percent(where: str, field_: str, value: float, meaning: str) -> None:
    """An SD, RSE or proportional error above _MAX_SPREAD is a percentage in a fraction's place."""
    if value > _MAX_SPREAD:
        raise ModelFileError(f"{where}: {field_} is {value!r}; expected {meaning} of at most "
                             f"{_MAX_SPREAD:g} (a fraction: 0.334 for 33.4 %)")


def _check_covariate(effect: CovariateEffect, p: Parameter, where: str) -> None:
    field_ = f"parameters.{p.name}.covariates.{effect.covariate}"
    if not (isinstance(effect.covariate, str) and effect.covariate in KNOWN_COVARIATES):
        raise ModelFileError(f"{where}: unknown covariate {effect.covariate!r} in {field_}; "
                             f"expected one of {sorted(KNOWN_COVARIATES)}")
    if not (isinstance(effect.kind, str) and effect.kind in _COVARIATE_KINDS):
        raise ModelFileError(f"{where}: {field_}.type is {effect.kind!r}; expected one of "
                             f"{list(_COVARIATE_KINDS)}")
    nature = KNOWN_COVARIATES[effect.covariate]
    if (effect.kind == "categorical") != (nature == "categorical"):
        raise ModelFileError(f"{where}: {field_}.type is {effect.kind!r} but "
                             f"{effect.covariate!r} is {nature}")
    if effect.missing not in ("error", "typical"):
        raise ModelFileError(f"{where}: {field_}.missing is {effect.missing!r}; expected 'error' "
                             "or 'typical'")
    if effect.covariate == "weight_kg" and p.per_kg:
        raise ModelFileError(f"{where}: {field_}: unit {p.unit!r} already scales with weight; "
                             "expected an absolute unit (e.g. 'L/h') with a weight covariate")
    if effect.iiv_sd is not None and not (
            is_number(effect.iiv_sd) and 0 <= effect.iiv_sd <= p.iiv_sd and p.iiv_sd > 0):
        raise ModelFileError(f"{where}: {field_}.iiv_sd is {effect.iiv_sd!r}; expected the SD of "
                             f"parameters.{p.name}'s own random effect left when the covariate is "
                             f"known, a number from 0 to its iiv_sd ({p.iiv_sd!r})")
    if effect.kind == "categorical":
        values = effect.values
        if not (isinstance(values, Mapping) and values
                and all(is_number(v) and math.isfinite(v) and v > 0 for v in values.values())):
            raise ModelFileError(f"{where}: {field_}.values is {values!r}; expected a table of "
                                 f"levels with typical values > 0 in {p.unit}")
        return
    coefficient = _COVARIATE_KINDS[effect.kind]
    for key, value in (("reference", effect.reference), (coefficient, effect.coefficient)):
        if not (is_number(value) and math.isfinite(value)):
            raise ModelFileError(f"{where}: {field_}.{key} is {value!r}; expected a finite number")
    if effect.kind == "power" and not effect.reference > 0:
        raise ModelFileError(f"{where}: {field_}.reference is {effect.reference!r}; expected a "
                             "number > 0")


def _covariate_factor(effect: CovariateEffect, p: Parameter, cohort, where: str) -> np.ndarray:
    values = cohort_covariate(cohort, effect.covariate)
    if values is None:
        if effect.missing == "typical":
            return np.ones(len(cohort.weight_kg))
        raise ValueError(f"model {where}: parameters.{p.name} depends on covariate "
                         f"{effect.covariate!r}, which the cohort does not have")
    if effect.kind == "categorical":
        table = {str(k): v for k, v in effect.values.items()}
        levels, slot = np.unique(np.asarray(values).astype(str), return_inverse=True)
        unknown = [level for level in levels if level not in table]
        if unknown:
            raise ValueError(f"cohort covariate {effect.covariate!r} has level {unknown[0]!r}; "
                             f"model {where} expects one of {sorted(table)}")
        return np.array([table[level] for level in levels])[slot] / p.value  # loop over levels
    x = np.asarray(values, dtype=float)
    if effect.kind == "power":
        factor = (x / effect.reference) ** effect.coefficient
    elif effect.kind == "linear":
        factor = 1 + effect.coefficient * (x - effect.reference)
    else:
        factor = np.exp(effect.coefficient * (x - effect.reference))
    bad = np.flatnonzero(~(np.isfinite(factor) & (factor > 0)))
    if bad.size:
        raise ValueError(f"model {where}: covariate {effect.covariate!r} = {plain(x[bad[0]])!r} "
                         f"makes parameters.{p.name} non-positive (factor {plain(factor[bad[0]])!r})")
    return factor


def cohort_covariate(cohort, name: str):
    """A cohort's values of covariate `name` (shape (n_subjects,)), or None if it has none."""
    values = getattr(cohort, name, None)
    if values is None:
        values = (getattr(cohort, "covariates", None) or {}).get(name)
    return values


# --- files --------------------------------------------------------------------

def load_model(name_or_path: str | Path) -> Model:
    """Load a bundled model by name (e.g. "baclofen_cp_card") or a .toml file by path.

    The file is UTF-8 TOML (a leading byte-order mark is accepted) of at most
    MAX_MODEL_FILE_BYTES.

    Examples
    --------
    >>> import pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> model.structure.name, model.parameters["CL"].value, model.parameters["CL"].unit
    ('one_compartment_oral', 0.273, 'L/h/kg')
    """
    path = _resolve(name_or_path)
    size = path.stat().st_size
    if size > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(f"{path}: is {size:,} bytes; expected a model file of at most "
                             f"{MAX_MODEL_FILE_BYTES:,} bytes")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelFileError(f"{path}: not UTF-8 text (byte {err.start}); expected a TOML file "
                             "in UTF-8") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ModelFileError(f"{path}: not valid TOML: {err}") from None
    except (RecursionError, MemoryError):
        raise ModelFileError(f"{path}: not readable as TOML: its arrays or tables are nested too "
                             "deeply; expected a model file's few levels") from None
    return _model_from_dict(doc, str(path))


def bundled_models() -> dict[str, Path]:
    """Names of the bundled model files, with their paths."""
    folder = resources.files("pkmodel.params")
    return {Path(e.name).stem: Path(str(e)) for e in sorted(folder.iterdir(), key=lambda e: e.name)
            if e.name.endswith(".toml")}


def _resolve(name_or_path: str | Path) -> Path:
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"load_model: name_or_path is {name_or_path!r} "
                        f"({type(name_or_path).__name__}); expected a bundled model's name or a "
                        "path to a .toml file")
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {text!r} does not exist")
        return path
    bundled = bundled_models()
    if text not in bundled:
        raise ValueError(f"model {text!r} is not a bundled model; expected one of "
                         f"{sorted(bundled)} or a path to a .toml file")
    return bundled[text]


def _model_from_dict(doc: dict, where: str) -> Model:
    _only_keys(doc, {"model", "parameters", "random_effects", "correlations", "residual_error",
                     "validity"}, "", where)
    meta = _table(doc, "model", where)
    _only_keys(meta, _MODEL_KEYS, "model.", where)
    for key in ("name", "structure"):
        if key not in meta:
            raise ModelFileError(f"{where}: model.{key} is missing")
    if not (isinstance(meta["name"], str) and meta["name"].strip()):
        raise ModelFileError(f"{where}: model.name is {meta['name']!r}; expected the model's name "
                             "as text")
    _choice(meta["structure"], sorted(STRUCTURE_NAMES), "model.structure", where)
    absorption = _choice(meta.get("absorption", "first_order"), list(ABSORPTIONS),
                         "model.absorption", where)
    n_transit = meta.get("n_transit", 0)
    if absorption != "first_order" and "n_transit" not in meta:
        raise ModelFileError(f"{where}: model.n_transit is missing; transit absorption needs the "
                             "number of transit compartments")
    try:
        structure = Structure(meta["structure"], absorption, n_transit)
    except ValueError as err:
        raise ModelFileError(f"{where}: model.{err}") from None
    params = {name: _parameter(name, table, where)
              for name, table in _tables(doc, "parameters", where, "with value and unit").items()}
    effects = []
    for name, table in _tables(doc, "random_effects", where, "with sd and parameters").items():
        _only_keys(table, _EFFECT_KEYS, f"random_effects.{name}.", where)
        members = table.get("parameters", [])
        members = [members] if isinstance(members, str) else members
        _names(members, f"random_effects.{name}.parameters", "parameter names", where)
        effects.append(RandomEffect(name=name, sd=table.get("sd"), parameters=tuple(members)))
    correlations = []
    listed = doc.get("correlations", [])
    if not (isinstance(listed, list) and all(isinstance(t, dict) for t in listed)):
        raise ModelFileError(f"{where}: correlations is {listed!r}; expected an array of tables "
                             "([[correlations]] with between and value)")
    for i, table in enumerate(listed):
        _only_keys(table, _CORRELATION_KEYS, f"correlations[{i}].", where)
        between = table.get("between")
        if not (isinstance(between, list) and len(between) == 2
                and all(isinstance(n, str) for n in between)):
            raise ModelFileError(f"{where}: correlations[{i}].between is {between!r}; expected "
                                 "two random-effect names")
        correlations.append((between[0], between[1], table.get("value")))
    residual = None
    if "residual_error" in doc:
        table = _table(doc, "residual_error", where)
        _only_keys(table, _RESIDUAL_KEYS, "residual_error.", where)
        residual = ResidualError(kind=table.get("type"), proportional_sd=table.get("proportional_sd", 0.0),
                                 additive_sd=table.get("additive_sd", 0.0), source=table.get("source", ""))
    validity = []
    for quantity, table in _tables(doc, "validity", where, "with range = [low, high]").items():
        field_ = f"validity.{quantity}"
        _only_keys(table, _RANGE_KEYS, field_ + ".", where)
        bounds = table.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise ModelFileError(f"{where}: {field_}.range is {bounds!r}; expected [low, high]")
        validity.append(ValidRange(quantity, bounds[0], bounds[1], table.get("source", "")))
    return Model(name=meta["name"], structure=structure, parameters=params,
                 random_effects=tuple(effects), correlations=tuple(correlations),
                 residual_error=residual, validity=tuple(validity),
                 description=meta.get("description", ""),
                 concentration=meta.get("concentration", ""),
                 source=meta.get("source", ""), path=where)


def _parameter(name: str, table: dict, where: str) -> Parameter:
    field_ = f"parameters.{name}"
    _only_keys(table, _PARAMETER_KEYS, field_ + ".", where)
    if "unit" not in table:
        raise ModelFileError(f"{where}: {field_}.unit is missing; every number names its unit")
    if not isinstance(table["unit"], str):
        raise ModelFileError(f"{where}: {field_}.unit is {table['unit']!r}; expected the unit as "
                             "text (e.g. 'L/h/kg')")
    if "value" not in table and "derived" not in table:
        raise ModelFileError(f"{where}: {field_}.value is missing (give value, or derived "
                             "with the expression it comes from)")
    value = table.get("value")
    if "derived" in table:
        exact = _evaluate(table["derived"], f"{field_}.derived", where)
        if value is None:
            value = exact
        elif not (is_number(value) and abs(value - exact) <= _DERIVED_RTOL * abs(exact)):
            raise ModelFileError(
                f"{where}: {field_}.value is {value!r} but {field_}.derived "
                f"{table['derived']!r} is {exact!r}; store the full-precision value")
    covariates = []
    for covariate, spec in _tables(table, "covariates", where, "with type and its numbers",
                                   prefix=field_ + ".").items():
        _only_keys(spec, _COVARIATE_KEYS, f"{field_}.covariates.{covariate}.", where)
        kind = _choice(spec.get("type"), list(_COVARIATE_KINDS),
                       f"{field_}.covariates.{covariate}.type", where)
        coefficient = spec.get(_COVARIATE_KINDS[kind] or "", None)
        covariates.append(CovariateEffect(
            covariate=covariate, kind=kind, reference=spec.get("reference"),
            coefficient=coefficient, values=spec.get("values"),
            missing=spec.get("missing", "error"), iiv_sd=spec.get("iiv_sd")))
    return Parameter(name=name, value=value, unit=table["unit"],
                     iiv_sd=table.get("iiv_sd", 0.0), iov_sd=table.get("iov_sd", 0.0),
                     rse=table.get("rse", 0.0), covariates=tuple(covariates),
                     source=table.get("source", ""))


def _table(doc: dict, key: str, where: str, required: bool = True, prefix: str = "") -> dict:
    """doc[key], refused unless a table; {} when absent and not required."""
    if key not in doc:
        if required:
            raise ModelFileError(f"{where}: table [{prefix}{key}] is missing")
        return {}
    if not isinstance(doc[key], dict):
        raise ModelFileError(f"{where}: {prefix}{key} is {doc[key]!r}; expected a table "
                             f"([{prefix}{key}])")
    return doc[key]


def _tables(doc: dict, key: str, where: str, holding: str, prefix: str = "") -> dict:
    """doc[key] as {name: table}: a table whose every entry is a table `holding` its fields.

    [parameters] is required, any other optional."""
    tables = _table(doc, key, where, required=key == "parameters", prefix=prefix)
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ModelFileError(f"{where}: {prefix}{key}.{name} is {table!r}; expected a table "
                                 f"([{prefix}{key}.{name}] {holding})")
    return tables


def _choice(value, options: list, field_: str, where: str):
    """`value` if it is one of `options` (text), else ModelFileError naming the field."""
    if not (isinstance(value, str) and value in options):
        raise ModelFileError(f"{where}: {field_} is {value!r}; expected one of {options}")
    return value


def _names(values, field_: str, what: str, where: str) -> None:
    if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise ModelFileError(f"{where}: {field_} is {values!r}; expected a list of {what}")


def _only_keys(table: dict, allowed: set, prefix: str, where: str) -> None:
    """Refuse a field not in `allowed`, and a source or note that is not text."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ModelFileError(f"{where}: unknown field {prefix}{unknown[0]}; expected one of "
                             f"{sorted(allowed)}")
    for key in sorted(_TEXT_KEYS & set(table)):
        if not isinstance(table[key], str):
            raise ModelFileError(f"{where}: {prefix}{key} is {table[key]!r}; expected text")


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Pow: operator.pow, ast.USub: operator.neg}
_FUNCTIONS = {"ln": math.log, "log": math.log, "exp": math.exp, "sqrt": math.sqrt}


def _evaluate(expression, field_: str, where: str) -> float:
    """Value of an arithmetic expression: numbers, + - * / **, ln, exp, sqrt."""
    text = str(expression)
    if len(text) > _MAX_DERIVED_CHARS:
        raise ModelFileError(f"{where}: {field_} is {len(text):,} characters long; expected a "
                             f"formula of at most {_MAX_DERIVED_CHARS:,} characters")

    def ev(node):
        if isinstance(node, ast.Constant) and is_number(node.value):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](ev(node.operand))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _FUNCTIONS and len(node.args) == 1 and not node.keywords):
            return _FUNCTIONS[node.func.id](ev(node.args[0]))
        raise ValueError
    try:
        return ev(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError, MemoryError):
        raise ModelFileError(
            f"{where}: {field_} is {expression!r}; expected arithmetic on numbers with "
            "+ - * / ** and ln, exp, sqrt") from None
