"""Cerebral palsy: GMFCS levels, their mix in CP registries, the weight offsets by level; `cp_cohort`.

The GMFCS level (Gross Motor Function Classification System, I-V) is a covariate of the
cohort like any other (`Cohort.covariates["gmfcs"]`); this module gives it its meaning:
registered with `pkmodel.population.cohort` on import, it checks given levels, draws them
for `Cohort.from_growth_charts(..., gmfcs=...)` and lowers each child's weight-for-age
z-score by its level (Ruiz Brunner et al., Sci Rep 2022; `data/gmfcs_weight_z.toml`).
"""

import tomllib
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .._checks import is_number, numbers, plain, readonly, refuse_first
from .cohort import Cohort
from .covariates import CovariateRule, register_covariate

GMFCS_LEVELS = (1, 2, 3, 4, 5)
# GMFCS levels I-V of children with CP: the mean proportions over nine population CP
# registries, 34.2, 25.6, 11.5, 13.7 and 15.6 % (Reid SM, Carlin JB, Reddihough DS. Dev Med
# Child Neurol 2011;53:1007-12); as published they sum to 100.6 %, so they are normalised.
# Registries count every child with CP, not only those given baclofen. gmfcs="registry".
REGISTRY_GMFCS_PERCENT = (34.2, 25.6, 11.5, 13.7, 15.6)
GMFCS_MIX = MappingProxyType(
    {level: p / sum(REGISTRY_GMFCS_PERCENT) for level, p in enumerate(REGISTRY_GMFCS_PERCENT, 1)}
)
# GMFCS proportions are normalised when they sum to 1 within this (published percentages are
# rounded, or means over registries: Reid 2011's sum to 1.006); further off is refused.
GMFCS_SUM_TOLERANCE = 0.01


def cp_cohort(n: int, age_years=(2, 17), *, seed: int | None = None, gmfcs="registry", **options) -> Cohort:
    """Children with CP from the CDC 2000 growth charts, in a GMFCS mix (default: the registries').

    `Cohort.from_growth_charts(n, age_years, seed=seed, gmfcs=gmfcs, **options)`: their
    weight-for-age lowered by level (module docstring). gmfcs: "registry" (Reid 2011's mix,
    `GMFCS_MIX`), a level 1-5, {level: proportion} or five proportions.

    Examples
    --------
    >>> cohort = cp_cohort(1000, seed=1)
    >>> sorted(set(cohort.covariates["gmfcs"].tolist()))
    [1, 2, 3, 4, 5]
    """
    return Cohort.from_growth_charts(n, age_years, seed=seed, gmfcs=gmfcs, **options)


def gmfcs_weight_z_shifts() -> dict:
    """{GMFCS level: weight-for-age z offset} (Ruiz Brunner 2022; `data/gmfcs_weight_z.toml`)."""
    return dict(_gmfcs_shifts())


@cache
def _gmfcs_shifts() -> tuple:
    doc = tomllib.loads(files("pkmodel").joinpath("data", "gmfcs_weight_z.toml").read_text())
    shifts = {int(level): value for level, value in doc["default"]["weight_z_shift"].items()}
    if sorted(shifts) != list(GMFCS_LEVELS) or not all(is_number(v) for v in shifts.values()):
        raise ValueError(
            f"gmfcs_weight_z.toml: default.weight_z_shift is {shifts!r}; "
            f"expected a number for each level {GMFCS_LEVELS}"
        )
    return tuple(shifts.items())


def check_levels(name: str, values, n: int) -> np.ndarray:
    """GMFCS levels as a read-only int64 array, shape (n,); anything but 1-5 refused (True too)."""
    numbers(name, values, "a GMFCS level 1, 2, 3, 4 or 5")  # no True
    levels = np.array(values, ndmin=1)
    if levels.shape != (n,):
        raise ValueError(
            f"{name} has {levels.shape[0] if levels.ndim else 1} values; expected "
            f"{n}, one per child (as weight_kg)"
        )
    refuse_first(~np.isin(levels, GMFCS_LEVELS), name, levels, "a GMFCS level 1, 2, 3, 4 or 5")
    return readonly(levels, dtype=np.int64)


def draw_levels(where: str, gmfcs, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """GMFCS level per child, shape (n,) of int: one level, or drawn from proportions."""
    levels = GMFCS_LEVELS
    if gmfcs is None:
        return None
    if isinstance(gmfcs, str):
        if gmfcs != "registry":
            raise ValueError(
                f"{where}: gmfcs is {gmfcs!r}; expected 'registry' (Reid 2011's mix), "
                "a level 1-5, {level: proportion} or five proportions for levels 1-5"
            )
        gmfcs = GMFCS_MIX
    if is_number(gmfcs):
        if gmfcs not in levels:
            raise ValueError(
                f"{where}: gmfcs is {gmfcs!r}; expected a GMFCS level 1, 2, 3, 4 or 5, "
                "or proportions over levels"
            )
        return np.full(n, int(gmfcs), dtype=np.int64)
    if isinstance(gmfcs, Mapping):
        outside = [level for level in gmfcs if level not in levels]
        if outside:
            raise ValueError(f"{where}: gmfcs has level {outside[0]!r}; expected GMFCS levels 1 to 5")
        shares = [gmfcs.get(level, 0.0) for level in levels]
    elif isinstance(gmfcs, (list, tuple, np.ndarray)) and len(gmfcs) == len(levels):
        shares = list(gmfcs)
    else:
        raise ValueError(
            f"{where}: gmfcs is {gmfcs!r}; expected a level 1-5, 'registry', "
            "{level: proportion} or five proportions for levels 1-5"
        )
    refuse_first(
        [not (is_number(p) and p >= 0) for p in shares],
        f"{where}: gmfcs proportion of level",
        shares,
        "a number >= 0 (index 0 is level 1)",
    )
    total = float(np.sum(shares))
    if not abs(total - 1.0) <= GMFCS_SUM_TOLERANCE:
        hint = " (percentages? divide them by 100)" if 99 <= total <= 101 else ""
        raise ValueError(
            f"{where}: gmfcs proportions sum to {total:g}; expected 1, within "
            f"{GMFCS_SUM_TOLERANCE:g} (then normalised){hint}"
        )
    return rng.choice(np.array(levels, dtype=np.int64), size=n, p=np.asarray(shares, dtype=float) / total)


def level_shifts(where: str, weight_z_shift: Mapping | None, levels: np.ndarray | None) -> np.ndarray:
    """Each child's weight-for-age z shift by its GMFCS level, shape (n,): from
    {level: shift} (checked by the caller to be within bounds), or the published offsets."""
    if weight_z_shift is None:
        weight_z_shift = gmfcs_weight_z_shifts()
    elif not set(weight_z_shift) <= set(GMFCS_LEVELS):
        raise ValueError(
            f"{where}: weight_z_shift has keys {list(weight_z_shift)}; expected GMFCS "
            "levels 1-5, or both sexes 'M' and 'F'"
        )
    if levels is None:
        raise ValueError(
            f"{where}: weight_z_shift is given by GMFCS level but gmfcs is None; expected gmfcs too"
        )
    by_level = np.full(max(GMFCS_LEVELS) + 1, np.nan)
    for level, value in weight_z_shift.items():
        by_level[level] = value
    missing = np.unique(levels[np.isnan(by_level[levels])])
    if missing.size:
        raise ValueError(
            f"{where}: weight_z_shift has no shift for GMFCS level {plain(missing[0])}; "
            "expected one for every level drawn"
        )
    return by_level[levels]


register_covariate("gmfcs", CovariateRule(check=check_levels, draw=draw_levels, shift=level_shifts))
