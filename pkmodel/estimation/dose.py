"""individual_dose: each child's own dose from its posterior (model-informed precision dosing).

At steady state a linear model's exposure is proportional to the dose, so each
child's exposure per mg per dose, e_i, gives its dose exactly: dose_i =
target / e_i, capped and rounded to the formulation (nearest deliverable
amount, ties down, never above the cap). e_i is F_i / (CL_i τ) for Cavg (any
linear structure) and, for Cmin, the lowest concentration over one interval
after a steady-state unit dose (SS = 1), read on `CMIN_POINTS` points of the
interval (the trough itself among them, exact for first-order absorption;
a transit delay's minimum just after the dose to the grid's resolution).
"""

import math

import numpy as np
import pandas as pd

from .._checks import is_number, positive, whole
from ..dosing.regimen import Doses
from ..analysis.exposure import check_range
from ..dosing.formulations import as_formulation
from ..engines.base import ENGINES
from .fit import IndividualFit
from .posterior import tiled_cohort

METRICS = ("cavg", "cmin")
CMIN_POINTS = 480  # one per minute over an 8 h interval
_ROWS_PER_CALL = 20_000  # subjects x samples simulated at once for Cmin (~77 MB at 480 points)


def individual_dose(
    fit: IndividualFit,
    target,
    *,
    doses_per_day: int = 3,
    max_mg_per_dose: float | None = None,
    max_mg_per_day: float | None = None,
    formulation=None,
    metric: str = "cavg",
    target_range=None,
    samples: int | None = 1000,
    method: str = "laplace",
    seed: int | None = None,
) -> pd.DataFrame:
    """The dose per child that puts its own steady-state Cavg (or Cmin) on target.

    Parameters
    ----------
    fit : IndividualFit (`estimate_individual`)
    target : float or (low, high)
        mg/L. A range aims at its geometric midpoint and is the range of
        `prob_in_range`.
    doses_per_day : int
        Equal doses every 24 / doses_per_day h.
    max_mg_per_dose, max_mg_per_day : float, optional
        Caps, mg; the dose per child is min(exact, max_mg_per_dose,
        max_mg_per_day / doses_per_day).
    formulation : Formulation or name, optional
        What the dose is rounded to (nearest, ties down, never above the cap).
    metric : "cavg" or "cmin"
    target_range : (low, high), mg/L, optional
        Range for `prob_in_range` when target is a number.
    samples, method, seed : posterior draws (`IndividualFit.sample`) for the
        exposure's 5th-95th percentiles and `prob_in_range`; None: none.

    Returns
    -------
    DataFrame, index ID: doses_per_day, mg_per_dose, mg_per_day, mg_per_kg_day
    (when weights are known), mg_per_dose_exact (before caps and rounding),
    capped, `<metric>` (mg/L at the MAP parameters and the dose given), then
    with samples `<metric>_p5`, `<metric>_p50`, `<metric>_p95` and, with a
    range, prob_in_range; converged (the fit's).
    """
    if not isinstance(fit, IndividualFit):
        raise TypeError(
            f"individual_dose: fit is a {type(fit).__name__}; expected an "
            "IndividualFit (pk.estimate_individual)"
        )
    aim, low_high = _target(target, target_range)
    whole("individual_dose", "doses_per_day", doses_per_day, 1)
    if metric not in METRICS:
        raise ValueError(f"individual_dose: metric is {metric!r}; expected one of {list(METRICS)}")
    if samples is not None:
        whole("individual_dose", "samples", samples, 1)
    if not getattr(fit.model, "is_linear", True):  # every Structure is linear; a compiled model says
        raise ValueError(
            f"individual_dose: model {fit.model.name!r} is nonlinear; exposure is not "
            "proportional to the dose, expected a linear model"
        )
    if fit.model.structure is None:
        raise ValueError(
            f"individual_dose: model {fit.model.name!r} is written in the model "
            "language; individual doses are computed for the named structures "
            "(F dose / (CL tau)) only so far"
        )
    tau_h = 24.0 / doses_per_day
    cap = min(
        positive("individual_dose", "max_mg_per_dose", max_mg_per_dose, optional=True),
        positive("individual_dose", "max_mg_per_day", max_mg_per_day, optional=True) / doses_per_day,
    )
    per_mg = exposure_per_mg(fit, fit.eta, metric, tau_h)
    exact = aim / per_mg
    if formulation is None:
        dose = np.minimum(exact, cap)
    else:
        dose = as_formulation(formulation, "individual_dose").round(exact, cap)
    frame = pd.DataFrame(
        {"doses_per_day": doses_per_day, "mg_per_dose": dose, "mg_per_day": dose * doses_per_day},
        index=fit.etas.index,
    )
    if fit.problem.covariates_known:
        frame["mg_per_kg_day"] = frame["mg_per_day"] / fit.cohort.weight_kg
    frame["mg_per_dose_exact"] = exact
    frame["capped"] = exact > cap
    frame[metric] = per_mg * dose
    if samples is not None:
        eta = fit.sample(samples, method=method, seed=seed)  # (samples, n, p)
        drawn = exposure_per_mg(fit, eta.reshape(-1, eta.shape[-1]), metric, tau_h)
        drawn = drawn.reshape(samples, -1) * dose
        for q in (5, 50, 95):
            frame[f"{metric}_p{q}"] = np.percentile(drawn, q, axis=0)
        if low_high is not None:
            frame["prob_in_range"] = np.mean((drawn >= low_high[0]) & (drawn <= low_high[1]), axis=0)
    frame["converged"] = fit.ok
    return frame


def exposure_per_mg(fit: IndividualFit, eta: np.ndarray, metric: str, tau_h: float) -> np.ndarray:
    """Steady-state Cavg or Cmin per mg per dose, 1/L, for rows of eta (k * n_subjects, n_etas).

    Rows are copies of the cohort one after the other (what `IndividualFit.sample` gives).
    """
    copies = eta.shape[0] // len(fit)
    params = fit.model.individual_parameters(tiled_cohort(fit.cohort, copies), eta)
    if metric == "cavg":
        return params["F"] / (params["CL"] * tau_h)
    if np.any(params["tlag"] > 0):
        raise NotImplementedError(
            "individual_dose: metric 'cmin' with a lag time (tlag) is not "
            "supported yet (the engines' steady state with a lag starts at "
            "TIME + lag); expected a model without tlag, or metric 'cavg'"
        )
    grid = tau_h * np.arange(1, CMIN_POINTS + 1) / CMIN_POINTS  # (0, tau]: tau is the trough
    out = np.empty(eta.shape[0])
    for first in range(0, eta.shape[0], _ROWS_PER_CALL):  # over blocks of rows, each vectorised
        rows = slice(first, first + _ROWS_PER_CALL)
        n = out[rows].size
        unit = Doses(
            time_h=np.zeros(1),
            amount_mg=np.ones((n, 1)),
            ss=np.ones(1, dtype=np.int64),
            ii_h=np.full(1, tau_h),
        )
        conc = ENGINES[fit.engine].simulate(fit.model, {k: v[rows] for k, v in params.items()}, unit, grid)
        out[rows] = conc.min(axis=1)
    return out


def _target(target, target_range) -> tuple[float, tuple[float, float] | None]:
    """(the exposure aimed at, the range of prob_in_range or None)."""
    if is_number(target):
        if not (math.isfinite(target) and target > 0):
            raise ValueError(
                f"individual_dose: target is {target!r}; expected a concentration "
                "> 0 mg/L or a range (low, high)"
            )
        low_high = (
            None if target_range is None else check_range(target_range, "individual_dose: target_range")
        )
        return float(target), low_high
    if target_range is not None:
        raise ValueError(
            f"individual_dose: target is {target!r} and target_range is "
            f"{target_range!r}; expected a range in one of them only"
        )
    low, high = check_range(target, "individual_dose: target")
    if not (low > 0 and math.isfinite(high)):
        raise ValueError(
            f"individual_dose: target is {tuple(target)!r}; expected 0 < low < high < "
            "inf mg/L (the dose aims at the geometric midpoint)"
        )
    return math.sqrt(low * high), (low, high)
