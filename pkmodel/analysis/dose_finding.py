"""Dose finding: the daily dose that puts steady-state Cavg on a target.

Exact, not searched on simulated curves, for a linear model: at steady state a child's
average concentration over a dosing interval is its single dose's AUC over all time
divided by tau (superposition), Cavg_i = F_i * dose_i / (CL_i * tau) for every named
structure, row (-K)^-1 e * F * dose / tau for a linear model of the language. A nonlinear
model (Michaelis-Menten elimination: Cavg grows faster than the dose) is refused with the
compiler's reason: no one factor turns a dose into its Cavg. With
dose_i = min(u_i * x, cap) for the dose variable x (mg/kg/day: u_i = weight_i /
doses_per_day; a band's fixed mg per dose: u_i = 1), Cavg_i is proportional to
x until the cap binds. Without caps the median of Cavg is x times a constant,
so one ratio gives the dose; with caps it is continuous and non-decreasing in
x and found by bisection to 1e-12 relative. For a target range, each child's
set of doses that put its Cavg in range is an interval of x, and the dose
covering most children is found by a sweep over the interval ends.
"""

import math
from typing import Mapping

import numpy as np
import pandas as pd

from .._checks import is_number
from ..population.cohort import Cohort
from ..dosing.regimen import Regimen
from .exposure import check_range
from .steady_state import auc_per_mg
from ..dosing.formulations import DEFAULT_MAX_CHANGE, as_formulation, check_max_change, check_rounding
from ..model.model import Model
from ..simulation.simulate import simulate
from .summary import BAND_COVARIATES, AGE_BANDS, WEIGHT_BANDS, band_of
from ..units import as_dose

_DEFAULT_BANDS = {"weight_band": WEIGHT_BANDS, "age_band": AGE_BANDS}
_BISECTION_RTOL = 1e-12


def find_dose(
    model: Model,
    cohort: Cohort,
    target: float | tuple[float, float],
    doses_per_day: int = 3,
    *,
    max_mg_per_dose,
    max_mg_per_day,
    by: str | None = None,
    bands: Mapping[str, tuple[float, float]] | None = None,
    formulation=None,
    rounding: str = "nearest",
    max_rounding_change: float | None = DEFAULT_MAX_CHANGE,
    variability: bool = True,
    seed: int | None = None,
) -> pd.DataFrame:
    """The dose whose steady-state Cavg in `cohort` meets `target` (see module docstring).

    Parameters
    ----------
    target : float or (low, high)
        A number, mg/L: the dose at which the median Cavg equals it (the lowest
        such dose when caps flatten the median). A range, mg/L: the dose that
        maximises the share of children with low <= Cavg <= high (PTA); of the
        doses that reach the best PTA it returns the geometric midpoint of the
        lowest such interval (the point furthest, as a ratio, from losing a
        child at either end), or its lower end when the interval is unbounded.
    by : None, "weight_band" or "age_band"
        None: one weight-based dose, mg/kg/day. A band: one fixed mg per dose
        for each band (a dosing table), unrounded.
    bands : {label: (low, high)}, optional
        The bands (kg or years, each [low, high)); default
        `pkmodel.analysis.summary.WEIGHT_BANDS` or `AGE_BANDS`.
    max_mg_per_dose, max_mg_per_day : required; None for no cap
        Caps on each dose, as `Regimen.weight_based` (mg/day: a number or age
        bands {(from_years, to_years): mg/day}). There is no default: a dose
        found without caps can be one no child should get (120 mg/day for
        the heaviest band), so the caller says which apply, and the table
        says which were used.
    formulation : Formulation or str, optional (with `by` only)
        Round each band's dose to what the formulation can deliver (never
        above a cap): mg_per_dose is then the rounded dose, mg_per_dose_exact
        the unrounded one, and median_cavg or pta what the rounded dose
        reaches (each child's dose capped and rounded, as a Regimen would).
    rounding, max_rounding_change : as `Regimen` (nearest, ties down; a change
        beyond 25 % is refused)
    variability, seed : as `pk.simulate` (the random effects of the children)

    Returns
    -------
    DataFrame. by=None, one row: n, doses_per_day, mg_per_kg_day, then
    median_cavg (mg/L, at that dose) for a number target, or pta,
    mg_per_kg_day_low, mg_per_kg_day_high (the doses reaching the same PTA)
    for a range. By band, one row per band (n=0 and NaN for an empty band):
    the band, n, median_weight_kg, doses_per_day, mg_per_dose, mg_per_day,
    mg_per_kg_day (mg_per_day at the band's median weight), then median_cavg,
    or pta, mg_per_dose_low, mg_per_dose_high. Every table ends with the
    caps used: max_mg_per_dose and max_mg_per_day (mg; inf for none; age
    bands as the mapping given).

    Examples
    --------
    >>> import pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> cohort = pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 7, 11])
    >>> table = pk.find_dose(model, cohort, target=0.3053, doses_per_day=3, max_mg_per_dose=20,
    ...                      max_mg_per_day=80, variability=False)
    >>> table[["mg_per_kg_day", "median_cavg"]].round(3).to_dict("records")
    [{'mg_per_kg_day': 2.0, 'median_cavg': 0.305}]
    """
    low_high = _check_target(target)
    if by is not None and by not in _DEFAULT_BANDS:
        raise ValueError(f"find_dose: by is {by!r}; expected None, 'weight_band' or 'age_band'")
    if by is None and bands is not None:
        raise ValueError("find_dose: bands given with by=None; expected by='weight_band' or 'age_band'")
    if by is None and formulation is not None:
        raise ValueError(
            "find_dose: formulation given with by=None; expected by='weight_band' or "
            "'age_band' (a weight-based dose is rounded per child: Regimen(formulation=))"
        )
    if formulation is not None:
        formulation = as_formulation(formulation, "find_dose")
        check_rounding(rounding, "find_dose")
        check_max_change(max_rounding_change, "find_dose", "max_rounding_change")
    if not model.is_linear:
        raise ValueError(
            f"find_dose: model {model.name!r} is nonlinear ({model.nonlinear_reason}); "
            "the exact dose finding needs a linear model (Cavg proportional to the "
            "dose): simulate candidate doses (pk.compare) and read "
            "pk.exposure(..., window='steady_state')"
        )
    unit = Regimen.weight_based(
        1.0, doses_per_day, 1, max_mg_per_day=max_mg_per_day, max_mg_per_dose=max_mg_per_dose
    )
    individual = simulate(model, cohort, unit, [0.0], variability=variability, seed=seed).individual
    tau_h = 24.0 / doses_per_day
    if model.structure is not None:
        per_mg = individual.get("F", 1.0) / (individual["CL"] * tau_h)  # Cavg per mg per dose, 1/L
    else:
        per_mg = auc_per_mg(model, individual, model.covariate_values(cohort))[0] / tau_h
    cap_mg = np.broadcast_to(unit.caps(cohort), (len(cohort), unit.time_h.size))[:, 0]  # per child
    weight = cohort.weight_kg
    caps = {
        "max_mg_per_dose": _cap_used(max_mg_per_dose, "mg", "max_mg_per_dose"),
        "max_mg_per_day": _cap_used(max_mg_per_day, "mg/day", "max_mg_per_day"),
    }

    if by is None:
        row = _solve(per_mg, weight / doses_per_day, cap_mg, target, low_high, "all children")
        return pd.DataFrame(
            [{"n": len(cohort), "doses_per_day": doses_per_day, **_named(row, "mg_per_kg_day"), **caps}]
        )

    band = band_of(
        getattr(cohort, BAND_COVARIATES[by]), bands or _DEFAULT_BANDS[by], f"Cohort.{BAND_COVARIATES[by]}"
    )
    rows = []
    for code, label in enumerate(band.categories):  # over bands, vectorised over their children
        members = band.codes == code
        n = int(members.sum())
        row = (
            _solve(per_mg[members], np.ones(n), cap_mg[members], target, low_high, f"band {label!r}")
            if n
            else dict.fromkeys(_solution_keys(low_high), math.nan)
        )
        if formulation is not None and n:
            try:
                row = _rounded(
                    row,
                    formulation,
                    per_mg[members],
                    cap_mg[members],
                    low_high,
                    rounding,
                    max_rounding_change,
                )
            except ValueError as err:
                raise ValueError(f"find_dose: band {label!r}: {err}") from None
        median_weight = float(np.median(weight[members])) if n else math.nan
        mg_per_day = row["dose"] * doses_per_day
        rows.append(
            {
                by: label,
                "n": n,
                "median_weight_kg": median_weight,
                "doses_per_day": doses_per_day,
                "mg_per_dose": row["dose"],
                "mg_per_day": mg_per_day,
                "mg_per_kg_day": mg_per_day / median_weight,
                **_named({k: v for k, v in row.items() if k != "dose"}, "mg_per_dose"),
                **caps,
            }
        )
    table = pd.DataFrame(rows)
    table[by] = pd.Categorical(table[by], categories=band.categories, ordered=True)
    return table


def _rounded(row: dict, formulation, per_mg, cap_mg, low_high, rounding, max_change) -> dict[str, float]:
    """A band's solution with its dose rounded to `formulation`, and what that dose reaches.

    Each child is given the rounded dose capped at its own cap, rounded again where the cap
    binds (as `Regimen` rounds a fixed dose).
    """
    exact = row["dose"]
    dose = float(formulation.round(np.array([exact]), cap_mg.max(), rounding, max_change)[0])
    given = formulation.round(np.minimum(dose, cap_mg), cap_mg, rounding, max_change)
    cavg = per_mg * given
    reached = (
        {"median_cavg": float(np.median(cavg))}
        if low_high is None
        else {"pta": float(np.mean((cavg >= low_high[0]) & (cavg <= low_high[1])))}
    )
    return {**row, "dose": dose, "dose_exact": exact, **reached}


def _solve(per_mg, u, cap_mg, target, low_high, who: str) -> dict[str, float]:
    """Dose x (and what it reaches) for children with Cavg_i = per_mg_i * min(u_i x, cap_mg)."""
    if low_high is None:
        x = _dose_for_median(per_mg, u, cap_mg, float(target), who)
        return {"dose": x, "median_cavg": float(np.median(_cavg(per_mg, u, cap_mg, x)))}
    low, high = low_high
    x, x_low, x_high, hits = _dose_for_range(per_mg, u, cap_mg, low, high, who)
    return {"dose": x, "pta": hits / per_mg.size, "dose_low": x_low, "dose_high": x_high}


def _cavg(per_mg, u, cap_mg, x) -> np.ndarray:
    """Steady-state Cavg of each child at dose x, mg/L, shape (n_subjects,)."""
    return per_mg * np.minimum(u * x, cap_mg)


def _dose_for_median(per_mg, u, cap_mg, target, who) -> float:
    lowest = target / np.median(per_mg * u)  # the answer without caps; caps only lower Cavg
    if np.all(np.isinf(cap_mg)):
        return float(lowest)
    reachable = np.median(per_mg * cap_mg)
    if reachable < target:
        raise ValueError(
            f"find_dose: target median Cavg {target!r} mg/L is out of reach for "
            f"{who} under the caps ({_caps_text(cap_mg)}): at most "
            f"{reachable:.4g} mg/L; expected a lower target or higher caps"
        )
    finite = np.isfinite(cap_mg)
    lo = float(lowest)
    hi = max(float(np.max(cap_mg[finite] / u[finite])) if finite.any() else lo, lo)
    while np.median(_cavg(per_mg, u, cap_mg, hi)) < target:  # only with some children uncapped
        hi *= 2.0
    while hi - lo > _BISECTION_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if np.median(_cavg(per_mg, u, cap_mg, mid)) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _dose_for_range(per_mg, u, cap_mg, low, high, who) -> tuple[float, float, float, int]:
    """Dose with most children in [low, high]: (chosen, lowest, highest such dose, how many)."""
    slope = per_mg * u  # Cavg per unit of x before the cap binds
    top = per_mg * cap_mg  # Cavg once capped (inf without caps)
    can = top >= low
    if not can.any():
        raise ValueError(
            f"find_dose: no dose brings any child of {who} to Cavg >= {low!r} mg/L "
            f"under the caps ({_caps_text(cap_mg)}); expected a lower range "
            "or higher caps"
        )
    starts = low / slope[can]
    stops = np.where(top[can] > high, high / slope[can], math.inf)
    position = np.concatenate([starts, stops])
    step = np.concatenate([np.ones(starts.size), -np.ones(stops.size)])
    order = np.lexsort((-step, position))  # at a tie, a start counts before a stop (closed)
    count = np.cumsum(step[order])
    best = int(np.argmax(count))
    x_low, x_high = float(position[order][best]), float(position[order][best + 1])
    chosen = math.sqrt(x_low * x_high) if math.isfinite(x_high) else x_low
    return chosen, x_low, x_high, int(count[best])


def _caps_text(cap_mg: np.ndarray) -> str:
    low, high = float(np.min(cap_mg)), float(np.max(cap_mg))
    return f"max {high:g} mg per dose" if low == high else f"max {low:g} to {high:g} mg per dose"


def _cap_used(cap, unit: str, name: str):
    """A cap as the table states it: mg (inf for none), or the age bands {(from, to): mg/day}."""
    cap = as_dose(cap, unit, f"find_dose: {name}")
    if cap is None:
        return math.inf
    return (
        {tuple(map(float, k)): float(v) for k, v in cap.items()} if isinstance(cap, Mapping) else float(cap)
    )


def _named(row: dict, dose_name: str) -> dict:
    """Solution keys as table columns: dose -> dose_name, dose_low -> dose_name + '_low', ..."""
    return {key.replace("dose", dose_name): value for key, value in row.items()}


def _solution_keys(low_high) -> tuple[str, ...]:
    return ("dose", "median_cavg") if low_high is None else ("dose", "pta", "dose_low", "dose_high")


def _check_target(target) -> tuple[float, float] | None:
    if is_number(target):
        if not (math.isfinite(target) and target > 0):
            raise ValueError(
                f"find_dose: target is {target!r}; expected a median Cavg > 0 mg/L or a range (low, high)"
            )
        return None
    low, high = check_range(target, "find_dose: target")
    if not low > 0:
        raise ValueError(
            f"find_dose: target is {tuple(target)!r}; expected low > 0 mg/L (at "
            "low 0 every dose down to none is in range)"
        )
    return low, high
