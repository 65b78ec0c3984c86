"""The checks of a Model's parameters, random effects, residual error and validity ranges
(`Model` calls them on construction; `model` is the model being checked)."""

import math

import numpy as np

from .._checks import is_number
from .parameters import (
    _RESIDUAL_KINDS,
    ModelFileError,
    Parameter,
    _check_covariate,
    _refuse_percent,
    check_unit,
)
from .structures import OPTIONAL, UNITS
from .validity import QUANTITIES as VALIDITY_QUANTITIES


def check_random_effects(model, where: str) -> None:
    """Random effects and correlations: SDs, members, each pair once, omega PSD."""
    owner: dict[str, str] = {n: n for n, p in model.parameters.items() if p.iiv_sd > 0}
    for effect in model.random_effects:
        field_ = f"random_effects.{effect.name}"
        if not (is_number(effect.sd) and math.isfinite(effect.sd) and effect.sd >= 0):
            raise ModelFileError(
                f"{where}: {field_}.sd is {effect.sd!r}; expected a finite "
                "number >= 0 (an SD on the log scale)"
            )
        _refuse_percent(where, f"{field_}.sd", effect.sd, "an SD on the log scale")
        if effect.name in model.parameters:
            raise ModelFileError(
                f"{where}: {field_} is named like a parameter; expected a name of its own (e.g. 'Vss')"
            )
        if not effect.parameters:
            raise ModelFileError(f"{where}: {field_}.parameters is empty; expected the parameters it acts on")
        for name in effect.parameters:
            if name not in model.parameters:
                raise ModelFileError(
                    f"{where}: {field_}.parameters names {name!r}; expected one of {list(model.parameters)}"
                )
            if name in owner:
                raise ModelFileError(
                    f"{where}: parameters.{name} has two random effects "
                    f"({owner[name]!r} and {effect.name!r}); expected one"
                )
            owner[name] = effect.name
    names = model.eta_names
    given: dict[frozenset, tuple] = {}
    for i, (a, b, r) in enumerate(model.correlations):
        for n in (a, b):
            if not isinstance(n, str) or n not in names:
                raise ModelFileError(
                    f"{where}: correlation between {a!r} and {b!r}: {n!r} "
                    f"is not a random effect; expected one of {list(names)}"
                )
        if a == b or not (is_number(r) and -1 <= r <= 1):
            raise ModelFileError(
                f"{where}: correlation between {a!r} and {b!r} is {r!r}; "
                "expected a number in [-1, 1] between two random effects"
            )
        pair = frozenset((a, b))
        if pair in given:
            j, r0 = given[pair]
            same = "the same value" if r0 == r else f"{r0!r} and then {r!r}"
            raise ModelFileError(
                f"{where}: correlations[{j}] and correlations[{i}] both give "
                f"the correlation between {a!r} and {b!r} ({same}); expected "
                "each pair once"
            )
        given[pair] = (i, r)
    omega = model.omega
    if omega.size:
        smallest = float(np.linalg.eigvalsh(omega).min())
        if smallest < -1e-12 * float(np.abs(omega).max()):
            raise ModelFileError(
                f"{where}: omega (random effects {list(names)}) is not positive "
                f"semi-definite: smallest eigenvalue {smallest:.3g}; expected correlations "
                "that can occur together"
            )


def check_residual_error(model, where: str) -> None:
    """The residual error's type and SDs."""
    e = model.residual_error
    if e is None:
        return
    if not (isinstance(e.kind, str) and e.kind in _RESIDUAL_KINDS):
        raise ModelFileError(
            f"{where}: residual_error.type is {e.kind!r}; expected one of {list(_RESIDUAL_KINDS)}"
        )
    for key in ("proportional_sd", "additive_sd"):
        value = getattr(e, key)
        if not (is_number(value) and math.isfinite(value) and value >= 0):
            raise ModelFileError(f"{where}: residual_error.{key} is {value!r}; expected a finite number >= 0")
    _refuse_percent(where, "residual_error.proportional_sd", e.proportional_sd, "a fraction")
    for key in _RESIDUAL_KINDS[e.kind]:
        if getattr(e, key) == 0:
            raise ModelFileError(f"{where}: residual_error.{key} is missing or 0; type {e.kind!r} needs it")


def check_validity(model, where: str) -> None:
    """Validity ranges: known quantities, each once, finite low <= high."""
    seen = set()
    for bound in model.validity:
        field_ = f"validity.{bound.quantity}"
        if not (isinstance(bound.quantity, str) and bound.quantity in VALIDITY_QUANTITIES):
            raise ModelFileError(
                f"{where}: validity has {bound.quantity!r}; expected some of {list(VALIDITY_QUANTITIES)}"
            )
        if bound.quantity in seen:
            raise ModelFileError(f"{where}: {field_} is given twice; expected one range")
        seen.add(bound.quantity)
        low, high = bound.low, bound.high
        if not (
            is_number(low) and is_number(high) and math.isfinite(low) and math.isfinite(high) and low <= high
        ):
            raise ModelFileError(
                f"{where}: {field_}.range is {[low, high]!r}; expected "
                f"[low, high], finite numbers with low <= high "
                f"({VALIDITY_QUANTITIES[bound.quantity]})"
            )


def check_parameters(model, where: str) -> None:
    """Parameters: the structure's (names, units, values in range) or the language's (a unit, a
    finite value), and each one's variability and covariate effects."""
    if model.structure is None:
        for name, p in model.parameters.items():
            check_unit(p.unit, f"parameters.{name}.unit", where)
            if not (is_number(p.value) and math.isfinite(p.value)):
                raise ModelFileError(
                    f"{where}: parameters.{name}.value is {p.value!r}; expected a finite number in {p.unit}"
                )
            _check_spread(model, where, name, p)
        return
    required = model.structure.parameters
    missing = [n for n in required if n not in model.parameters]
    if missing:
        raise ModelFileError(
            f"{where}: parameters {missing} missing; structure {model.structure.label!r} "
            f"needs {list(required)}"
        )
    unknown = [n for n in model.parameters if n not in required and n not in OPTIONAL]
    if unknown:
        raise ModelFileError(
            f"{where}: unknown parameters {unknown}; structure {model.structure.label!r} "
            f"takes {list(required)} and optionally {list(OPTIONAL)}"
        )
    for name, p in model.parameters.items():
        dimension = required.get(name) or OPTIONAL[name][0]
        units = UNITS[dimension]
        if p.unit not in units:
            raise ModelFileError(
                f"{where}: parameters.{name}.unit is {p.unit!r}; expected one of "
                + ", ".join(repr(u) for u in units)
            )
        lowest_ok = 0.0 if name == "tlag" else None
        if not (
            is_number(p.value)
            and math.isfinite(p.value)
            and (p.value >= 0 if lowest_ok == 0.0 else p.value > 0)
        ):
            bound = ">= 0" if lowest_ok == 0.0 else "> 0"
            raise ModelFileError(
                f"{where}: parameters.{name}.value is {p.value!r}; expected a finite "
                f"number {bound} in {p.unit}"
            )
        _check_spread(model, where, name, p)


def _check_spread(model, where: str, name: str, p: Parameter) -> None:
    for key, meaning in (
        ("iiv_sd", "an SD on the log scale"),
        ("iov_sd", "an SD on the log scale"),
        ("rse", "a relative standard error"),
    ):
        value = getattr(p, key)
        if not (is_number(value) and math.isfinite(value) and value >= 0):
            raise ModelFileError(
                f"{where}: parameters.{name}.{key} is {value!r}; expected a finite number >= 0 ({meaning})"
            )
        _refuse_percent(where, f"parameters.{name}.{key}", value, meaning)
    for effect in p.covariates:
        _check_covariate(effect, p, where, model.all_covariates)
