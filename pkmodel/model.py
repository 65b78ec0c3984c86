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
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ._checks import is_number, plain
from .structures import ABSORPTIONS, OPTIONAL, STRUCTURE_NAMES, UNITS, Structure


class ModelFileError(ValueError):
    """A model (file) that cannot be used as written; the message names the field."""


# Covariates a model file may name, and whether they are numbers or levels.
KNOWN_COVARIATES = MappingProxyType({
    "weight_kg": "continuous", "age_years": "continuous", "height_cm": "continuous",
    "bmi_kg_m2": "continuous", "sex": "categorical", "gmfcs": "categorical",
    "abcc9_rs11046232": "categorical",
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
# A derived value must equal its expression to this relative precision: the
# file stores full precision, and a rounded copy (e.g. 1.7723508577) is refused.
_DERIVED_RTOL = 1e-13
# Largest SD (log scale), relative SE or proportional error accepted: 3 is a CV of ~9,000 %;
# above it the number is a percentage written where a fraction belongs (33.4 for 0.334).
_MAX_SPREAD = 3.0


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
    """

    kind: str
    proportional_sd: float = 0.0
    additive_sd: float = 0.0
    source: str = ""

    def apply(self, conc: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
        """Observations from concentrations and standard normal draws (all the same shape)."""
        if self.kind == "exponential":
            return conc * np.exp(self.proportional_sd * e1)
        return conc * (1 + self.proportional_sd * e1) + self.additive_sd * e2


@dataclass(frozen=True)
class Model:
    """A structure and its parameters, checked on construction.

    random_effects holds the shared random effects only; `etas` lists all
    (a parameter's own iiv_sd first, in parameter order, then the shared).
    correlations : ((eta_a, eta_b, r), ...).
    """

    name: str
    structure: Structure
    parameters: Mapping[str, Parameter]
    random_effects: tuple[RandomEffect, ...] = ()
    correlations: tuple[tuple[str, str, float], ...] = ()
    residual_error: ResidualError | None = None
    description: str = ""
    concentration: str = ""
    source: str = ""
    path: str | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "random_effects", tuple(self.random_effects))
        object.__setattr__(self, "correlations", tuple(self.correlations))
        where = self.path or self.name
        self._check_parameters(where)
        self._check_random_effects(where)
        self._check_residual_error(where)

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
        for a, b, r in self.correlations:
            for n in (a, b):
                if n not in names:
                    raise ModelFileError(f"{where}: correlation between {a!r} and {b!r}: {n!r} "
                                         f"is not a random effect; expected one of {list(names)}")
            if a == b or not (is_number(r) and -1 <= r <= 1):
                raise ModelFileError(f"{where}: correlation between {a!r} and {b!r} is {r!r}; "
                                     "expected a number in [-1, 1] between two random effects")
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
        if e.kind not in _RESIDUAL_KINDS:
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
        does not give them. `cohort` supplies weight_kg and any covariate.
        """
        weight = np.asarray(cohort.weight_kg, dtype=float)
        out = {}
        for name, p in self.parameters.items():
            tv = p.value * weight if p.per_kg else np.full(weight.shape, float(p.value))
            for effect in p.covariates:
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
    if effect.covariate not in KNOWN_COVARIATES:
        raise ModelFileError(f"{where}: unknown covariate {effect.covariate!r} in {field_}; "
                             f"expected one of {sorted(KNOWN_COVARIATES)}")
    if effect.kind not in _COVARIATE_KINDS:
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
        if not values or not all(is_number(v) and math.isfinite(v) and v > 0 for v in values.values()):
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
    """Load a bundled model by name (e.g. "baclofen_cp_card") or a .toml file by path."""
    path = _resolve(name_or_path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ModelFileError(f"{path}: not valid TOML: {err}") from None
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
    _only_keys(doc, {"model", "parameters", "random_effects", "correlations", "residual_error"},
               "", where)
    meta = _table(doc, "model", where)
    _only_keys(meta, _MODEL_KEYS, "model.", where)
    for key in ("name", "structure"):
        if key not in meta:
            raise ModelFileError(f"{where}: model.{key} is missing")
    if not (isinstance(meta["name"], str) and meta["name"].strip()):
        raise ModelFileError(f"{where}: model.name is {meta['name']!r}; expected the model's name "
                             "as text")
    if meta["structure"] not in STRUCTURE_NAMES:
        raise ModelFileError(f"{where}: model.structure is {meta['structure']!r}; expected one of "
                             f"{sorted(STRUCTURE_NAMES)}")
    absorption = meta.get("absorption", "first_order")
    if absorption not in ABSORPTIONS:
        raise ModelFileError(f"{where}: model.absorption is {absorption!r}; expected one of "
                             f"{list(ABSORPTIONS)}")
    n_transit = meta.get("n_transit", 0)
    if absorption != "first_order" and "n_transit" not in meta:
        raise ModelFileError(f"{where}: model.n_transit is missing; transit absorption needs the "
                             "number of transit compartments")
    try:
        structure = Structure(meta["structure"], absorption, n_transit)
    except ValueError as err:
        raise ModelFileError(f"{where}: model.{err}") from None
    params = {}
    for name, table in _table(doc, "parameters", where).items():
        if not isinstance(table, dict):
            raise ModelFileError(f"{where}: parameters.{name} is {table!r}; expected a table "
                                 "with value and unit")
        params[name] = _parameter(name, table, where)
    effects = []
    for name, table in doc.get("random_effects", {}).items():
        _only_keys(table, _EFFECT_KEYS, f"random_effects.{name}.", where)
        members = table.get("parameters", [])
        effects.append(RandomEffect(name=name, sd=table.get("sd"),
                                    parameters=tuple(members) if isinstance(members, list) else (members,)))
    correlations = []
    for i, table in enumerate(doc.get("correlations", [])):
        _only_keys(table, _CORRELATION_KEYS, f"correlations[{i}].", where)
        between = table.get("between")
        if not (isinstance(between, list) and len(between) == 2):
            raise ModelFileError(f"{where}: correlations[{i}].between is {between!r}; expected "
                                 "two random-effect names")
        correlations.append((between[0], between[1], table.get("value")))
    residual = None
    if "residual_error" in doc:
        table = doc["residual_error"]
        _only_keys(table, _RESIDUAL_KEYS, "residual_error.", where)
        residual = ResidualError(kind=table.get("type"), proportional_sd=table.get("proportional_sd", 0.0),
                                 additive_sd=table.get("additive_sd", 0.0), source=table.get("source", ""))
    return Model(name=meta["name"], structure=structure, parameters=params,
                 random_effects=tuple(effects), correlations=tuple(correlations),
                 residual_error=residual, description=meta.get("description", ""),
                 concentration=meta.get("concentration", ""),
                 source=meta.get("source", ""), path=where)


def _parameter(name: str, table: dict, where: str) -> Parameter:
    field_ = f"parameters.{name}"
    _only_keys(table, _PARAMETER_KEYS, field_ + ".", where)
    if "unit" not in table:
        raise ModelFileError(f"{where}: {field_}.unit is missing; every number names its unit")
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
    for covariate, spec in table.get("covariates", {}).items():
        if not isinstance(spec, dict):
            raise ModelFileError(f"{where}: {field_}.covariates.{covariate} is {spec!r}; expected "
                                 "a table with type and its numbers")
        _only_keys(spec, _COVARIATE_KEYS, f"{field_}.covariates.{covariate}.", where)
        kind = spec.get("type")
        coefficient = spec.get(_COVARIATE_KINDS.get(kind) or "", None) if kind else None
        covariates.append(CovariateEffect(
            covariate=covariate, kind=kind, reference=spec.get("reference"),
            coefficient=coefficient, values=spec.get("values"),
            missing=spec.get("missing", "error"), iiv_sd=spec.get("iiv_sd")))
    return Parameter(name=name, value=value, unit=table["unit"],
                     iiv_sd=table.get("iiv_sd", 0.0), iov_sd=table.get("iov_sd", 0.0),
                     rse=table.get("rse", 0.0), covariates=tuple(covariates),
                     source=table.get("source", ""))


def _table(doc: dict, key: str, where: str) -> dict:
    if key not in doc:
        raise ModelFileError(f"{where}: table [{key}] is missing")
    if not isinstance(doc[key], dict):
        raise ModelFileError(f"{where}: {key} is {doc[key]!r}; expected a table")
    return doc[key]


def _only_keys(table: dict, allowed: set, prefix: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ModelFileError(f"{where}: unknown field {prefix}{unknown[0]}; expected one of "
                             f"{sorted(allowed)}")


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Pow: operator.pow, ast.USub: operator.neg}
_FUNCTIONS = {"ln": math.log, "log": math.log, "exp": math.exp, "sqrt": math.sqrt}


def _evaluate(expression, field_: str, where: str) -> float:
    """Value of an arithmetic expression: numbers, + - * / **, ln, exp, sqrt."""
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
        return ev(ast.parse(str(expression), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        raise ModelFileError(
            f"{where}: {field_} is {expression!r}; expected arithmetic on numbers with "
            "+ - * / ** and ln, exp, sqrt") from None
