"""Renal function: the bedside Schwartz eGFR of children, a covariate of the cohort.

Baclofen is cleared mostly by the kidneys (65-80 % of an oral dose excreted unchanged, renal
clearance about the creatinine clearance: Wuis et al. 1989, 1990), so the bundled baclofen
models may scale CL/F by renal function. The covariate is the estimated glomerular filtration
rate, `Cohort.covariates["egfr_ml_min_1_73m2"]` (mL/min/1.73 m^2), which `with_egfr` computes
from serum creatinine with the bedside Schwartz formula (Schwartz GJ et al., J Am Soc Nephrol
2009;20:629: eGFR = 0.413 * height (cm) / serum creatinine (mg/dL)), or a cohort may carry it
directly (a column of `Cohort.from_frame`). Registered with `pkmodel.population.cohort` on
import, so every Cohort checks the values given.
"""

import numpy as np

from .._checks import numbers, readonly, refuse_first
from .cohort import Cohort
from .covariates import CovariateRule, register_covariate

EGFR = "egfr_ml_min_1_73m2"
SCHWARTZ_K = 0.413  # mL/min/1.73 m^2 per (cm / (mg/dL)), bedside Schwartz 2009
# eGFR above this is refused as a unit mistake (mL/s, or creatinine in mmol/L read as mg/dL):
# glomerular hyperfiltration reaches ~180-200 mL/min/1.73 m^2
MAX_EGFR = 300.0
# serum creatinine below this (mg/dL) is a value in another unit or a typing error: the lowest
# values in healthy infants are ~0.1-0.2 mg/dL; creatinine in umol/L is ~88 times larger, so an
# upper bound is stated too (dialysis patients reach ~15-20 mg/dL)
CREATININE_RANGE_MG_DL = (0.05, 25.0)


def check_egfr(name: str, values, n: int) -> np.ndarray:
    """eGFR values (mL/min/1.73 m^2) as a read-only float64 array, shape (n,); > 0 and <= 300."""
    numbers(name, values, "an eGFR in mL/min/1.73 m^2 (a number > 0)")
    egfr = np.array(values, dtype=float, ndmin=1)
    if egfr.shape != (n,):
        raise ValueError(
            f"{name} has {egfr.shape[0] if egfr.ndim else 1} values; expected "
            f"{n}, one per child (as weight_kg)"
        )
    refuse_first(
        ~(np.isfinite(egfr) & (egfr > 0) & (egfr <= MAX_EGFR)),
        name,
        egfr,
        f"an eGFR in mL/min/1.73 m^2, > 0 and <= {MAX_EGFR:g} (a larger one is in another unit)",
    )
    return readonly(egfr, dtype=np.float64)


def bedside_schwartz_egfr(height_cm, creatinine_mg_dl) -> np.ndarray:
    """eGFR, mL/min/1.73 m^2, shape (n,): 0.413 * height (cm) / serum creatinine (mg/dL).

    Examples
    --------
    >>> float(bedside_schwartz_egfr([140.0], [0.5])[0])
    115.64
    """
    height = np.array(height_cm, dtype=float, ndmin=1)
    numbers("creatinine_mg_dl", creatinine_mg_dl, "a serum creatinine in mg/dL")
    scr = np.array(creatinine_mg_dl, dtype=float, ndmin=1)
    low, high = CREATININE_RANGE_MG_DL
    refuse_first(
        ~(np.isfinite(scr) & (scr >= low) & (scr <= high)),
        "creatinine_mg_dl",
        scr,
        f"a serum creatinine in mg/dL, {low:g} to {high:g} (umol/L is 88.4 times mg/dL)",
    )
    refuse_first(~(np.isfinite(height) & (height > 0)), "height_cm", height, "a height in cm > 0")
    if height.shape != scr.shape:
        raise ValueError(
            f"creatinine_mg_dl has {scr.size} values; expected {height.size}, one per child (as height_cm)"
        )
    return SCHWARTZ_K * height / scr


def with_egfr(cohort: Cohort, creatinine_mg_dl) -> Cohort:
    """The same children with `egfr_ml_min_1_73m2` from their heights and serum creatinine.

    The cohort must carry height_cm (the growth charts give it).
    """
    if cohort.height_cm is None:
        raise ValueError(
            "with_egfr: the cohort has no height_cm; expected heights, which the "
            "bedside Schwartz formula needs (or give egfr_ml_min_1_73m2 directly)"
        )
    return cohort.with_covariates(**{EGFR: bedside_schwartz_egfr(cohort.height_cm, creatinine_mg_dl)})


def _not_drawn(where, spec, n, rng):
    return None


def _no_shift(where, weight_z_shift, values):
    return np.zeros(np.shape(values))


register_covariate(EGFR, CovariateRule(check=check_egfr, draw=_not_drawn, shift=_no_shift))
