"""Covariates with a meaning of their own: the rules a module that knows one registers (the GMFCS
level: `pkmodel.population.cerebral_palsy`), which `Cohort` then checks, draws and reads."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CovariateRule:
    """What a covariate with a meaning of its own brings, registered by the module that knows it
    (the GMFCS level: `pkmodel.population.cerebral_palsy`). Every other covariate is data.

    check(name, values, n) -> the values checked, shape (n,) (refused naming `name`);
    draw(where, spec, n, rng) -> values drawn for `Cohort.from_growth_charts`, or None;
    shift(where, weight_z_shift, values) -> each child's weight-for-age z shift, shape (n,),
        from a {value: shift} mapping, or the default where weight_z_shift is None.
    """

    check: Callable[[str, Any, int], np.ndarray]
    draw: Callable[[str, Any, int, np.random.Generator], np.ndarray | None]
    shift: Callable[[str, Any, Any], np.ndarray]


_RULES: dict[str, CovariateRule] = {}


def register_covariate(name: str, rule: CovariateRule) -> None:
    """Give covariate `name` its rules (checked in every Cohort; drawn by from_growth_charts and
    read by from_frame under its own name)."""
    _RULES[name] = rule
