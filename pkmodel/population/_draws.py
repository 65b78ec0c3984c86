"""Cohort.from_growth_charts' draws checked: the ages drawn, and each child's shift of the
weight-for-age z-score (a number, by sex, or by GMFCS level through its covariate rule)."""

from collections.abc import Mapping

import numpy as np

from . import growth
from .._checks import is_number, refuse_first
from .covariates import _RULES

_SEXES = ("M", "F")
# A weight-for-age z shift beyond this moves the cohort's median child outside -6 to +5, the
# z-scores the WHO growth standards flag as biologically implausible (Ruiz Brunner 2022's
# offsets are -0.571 and -1.751, Krick 1996's -2.4).
MAX_WEIGHT_Z_SHIFT = 5.0


def _draw_ages(where: str, age_years, n: int, rng: np.random.Generator) -> np.ndarray:
    """Ages, years, shape (n,): uniform in (youngest, oldest), or from a scipy.stats distribution."""
    lo, hi = growth.CHART_AGE_YEARS
    chart = f"the CDC 2000 growth charts' range, {lo:g} to {hi:g} years"
    if hasattr(age_years, "rvs"):
        ages = np.asarray(age_years.rvs(size=n, random_state=rng), dtype=float).reshape(n)
        refuse_first(
            ~((ages >= lo) & (ages <= hi)), f"{where}: drawn age_years", ages, f"an age within {chart}"
        )
        return ages
    if not (
        isinstance(age_years, (tuple, list))
        and len(age_years) == 2
        and all(map(is_number, age_years))
        and lo <= age_years[0] <= age_years[1] <= hi
    ):
        raise ValueError(
            f"{where}: age_years is {age_years!r}; expected (youngest, oldest) within "
            f"{chart}, or a scipy.stats distribution"
        )
    return rng.uniform(float(age_years[0]), float(age_years[1]), n)


def _weight_z_shift(where: str, weight_z_shift, levels: np.ndarray | None, sex: np.ndarray):
    """The weight-for-age z shift of each child: a number, or ndarray shape (n,)."""
    if weight_z_shift is None:
        return 0.0 if levels is None else _RULES["gmfcs"].shift(where, None, levels)
    if is_number(weight_z_shift):
        _z_shift(where, "weight_z_shift", weight_z_shift)
        return float(weight_z_shift)
    if not isinstance(weight_z_shift, Mapping):
        raise ValueError(
            f"{where}: weight_z_shift is {weight_z_shift!r}; expected a number, "
            "{GMFCS level: shift} or {'M': shift, 'F': shift}"
        )
    for key, value in weight_z_shift.items():
        _z_shift(where, f"weight_z_shift[{key!r}]", value)
    if set(weight_z_shift) == set(_SEXES):
        return np.where(sex == "M", float(weight_z_shift["M"]), float(weight_z_shift["F"]))
    return _RULES["gmfcs"].shift(where, weight_z_shift, levels)


def _z_shift(where: str, name: str, value) -> None:
    if not (is_number(value) and abs(value) <= MAX_WEIGHT_Z_SHIFT):
        raise ValueError(
            f"{where}: {name} is {value!r}; expected a shift of the weight-for-age "
            f"z-score from -{MAX_WEIGHT_Z_SHIFT:g} to +{MAX_WEIGHT_Z_SHIFT:g} (a difference "
            "in z, not a weight; the WHO flags weight-for-age z-scores below -6 or "
            "above +5 as implausible)"
        )
