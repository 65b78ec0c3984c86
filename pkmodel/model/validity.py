"""Validity ranges: what a model was built on, and the children and doses outside it.

A model file states, in its [validity] table, the ages, weights, weight-for-age
z-scores and single doses (mg/kg) its numbers come from. `pk.simulate` checks
the cohort and the doses against them before it simulates: outside a range it
warns (ValidityWarning) naming the first child outside, the value, the bound
and how many children are outside; with strict=True it raises ValidityError.
"""

import warnings
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..population import growth
from .._checks import plain

# The quantities a range may bound, with their meaning (the unit is in the name)
QUANTITIES = MappingProxyType(
    {
        "age_years": "age, years",
        "weight_kg": "body weight, kg",
        "weight_for_age_z": "CDC 2000 weight-for-age z-score (for the child's sex, or for "
        "either sex when the cohort has none; ages 2-20 years)",
        "dose_mg_per_kg": "each child's largest single dose, mg per kg of body weight",
    }
)


class ValidityWarning(UserWarning):
    """A child or a dose outside the ranges the model states it was built on."""


class ValidityError(ValueError):
    """As ValidityWarning, raised instead with simulate(..., strict=True)."""


@dataclass(frozen=True)
class ValidRange:
    """The interval [low, high] of `quantity` (a key of QUANTITIES) a model is stated for."""

    quantity: str
    low: float
    high: float
    source: str = ""


def check_cohort(model, cohort, strict: bool) -> None:
    """Warn (or raise, strict) for children outside the model's age, weight and z ranges."""
    for bound in model.validity:
        if bound.quantity == "age_years":
            _check(model, cohort, bound, cohort.age_years, "an age of", " y", strict)
        elif bound.quantity == "weight_kg":
            _check(model, cohort, bound, cohort.weight_kg, "a weight of", " kg", strict)
        elif bound.quantity == "weight_for_age_z":
            _check(
                model,
                cohort,
                bound,
                weight_for_age_z(cohort, bound),
                "a weight-for-age z-score of",
                "",
                strict,
            )


def check_doses(
    model, cohort, largest_dose_mg: np.ndarray, strict: bool, first: int = 0, chunk: bool = False
) -> None:
    """As check_cohort for each child's largest single dose, mg, shape (n_subjects,).

    With chunk=True `cohort` is the children at positions first, first + 1, ...
    of a larger cohort: positions are named in the whole cohort, counts in the
    chunk (a chunked run warns once per chunk with children outside).
    """
    for bound in model.validity:
        if bound.quantity == "dose_mg_per_kg":
            _check(
                model,
                cohort,
                bound,
                largest_dose_mg / cohort.weight_kg,
                "a largest single dose of",
                " mg/kg",
                strict,
                first,
                chunk,
            )


def weight_for_age_z(cohort, bound: ValidRange) -> np.ndarray:
    """Each child's CDC 2000 weight-for-age z-score, shape (n_subjects,); NaN off the charts.

    The cohort's own weight_z where it has one; else from its sex, or without
    sex the z-score of whichever sex is nearer to `bound` (a child is outside
    only if it is outside for both).
    """
    if cohort.weight_z is not None:
        return cohort.weight_z
    age, weight = cohort.age_years, cohort.weight_kg
    lo, hi = growth.CHART_AGE_YEARS
    on = np.flatnonzero((age >= lo) & (age <= hi))
    z = np.full(age.shape, np.nan)
    if on.size == 0:
        return z
    sexes = [cohort.sex[on]] if cohort.sex is not None else [np.full(on.size, s) for s in "MF"]
    scores = [growth.z_score("weight_kg", weight[on], s, age[on]) for s in sexes]
    if len(scores) == 2:  # either sex: the one nearer to the range
        outside = [np.maximum(bound.low - s, s - bound.high) for s in scores]
        scores = [np.where(outside[0] <= outside[1], scores[0], scores[1])]
    z[on] = scores[0]
    return z


def _check(
    model,
    cohort,
    bound: ValidRange,
    values: np.ndarray,
    what: str,
    unit: str,
    strict: bool,
    first: int = 0,
    chunk: bool = False,
) -> None:
    outside = np.flatnonzero((values < bound.low) | (values > bound.high))  # NaN: not checked
    if outside.size == 0:
        return
    i = int(outside[0])
    value = plain(values[i])
    hint = ""
    if bound.quantity == "age_years" and value > bound.high and bound.low <= value / 12 <= bound.high:
        hint = f" (an age in months? {value:g} months is {value / 12:.4g} years)"
    if bound.quantity == "weight_for_age_z":
        hint = f" ({plain(cohort.age_years[i]):.4g} y, {plain(cohort.weight_kg[i]):.4g} kg)"
    source = f"; {bound.source}" if bound.source else ""
    message = (
        f"model {model.name!r}: child ID {plain(cohort.ids[i])} (position {first + i}) has {what} "
        f"{value:.4g}{unit}{hint}, outside validity.{bound.quantity} {bound.low:g} to "
        f"{bound.high:g}{unit} (the range the model states it was built on{source}); "
        f"{outside.size:,} of {values.size:,} children{' in this chunk' if chunk else ''} "
        "are outside"
    )
    if strict:
        raise ValidityError(message)
    warnings.warn(ValidityWarning(message), stacklevel=4)
