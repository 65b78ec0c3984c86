"""Sensitivity of the answers to the numbers a model file assumes, one at a time.

`sensitivity(model, cohort, regimen, parameters={...})` runs the same children (same
seed: the same random effects) on the model as given and on each variant, and reads
each child's steady-state exposure over the regimen's last dosing interval: Cmax and
Cmin from a fine grid, Cavg exactly (the amount eliminated over the interval / (CL tau),
from `engines.analytic.amounts`), PTA the share of children with Cavg in the target
range. What a variant changes:

- a model parameter's name (e.g. "ka", "MTT", "tlag", "Q"): its typical value, in the
  file's unit;
- "n_transit": the number of transit compartments (MTT kept, so ktr = (n + 1) / MTT);
- "V1_split": V1 (in V1's unit) with V2 = Vss - V1 and Q solved so that the terminal
  half-life stays the model's: Q = lz V2 (CL - lz V1) / (CL - lz Vss), lz its terminal
  rate (two compartments, CL, V1, Q, V2 all per kg or all absolute);
- "omega": "sd" (the file's iiv_sd are omegas, as the bundled models read He 2014's
  percentages) or "cv" (they are coefficients of variation: omega = sqrt(ln(1 + CV^2))).

Cavg depends on CL/F and the dose only, so no structural variant moves it; Cmax and Cmin
do. The ω convention moves the spread of every metric (and PTA), not the typical child.
"""

import math
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._checks import is_number
from ..population.cohort import Cohort
from ..dosing.doses import Doses
from ..dosing.regimen import Regimen
from ..engines import analytic
from .exposure import check_range, exposure
from ..model.model import Model
from ..simulation.simulate import simulate
from ..model.structures import Structure

METRICS = ("cmax", "cmin", "cavg", "pta")
KNOBS = ("n_transit", "V1_split", "omega")
OMEGA_CONVENTIONS = ("sd", "cv")
STATISTICS = {"median": 50, "p5": 5, "p95": 95}


def sensitivity(
    model: Model,
    cohort: Cohort,
    regimen: Regimen,
    parameters: Mapping[str, Sequence],
    metrics: Sequence[str] = METRICS,
    *,
    seed: int = 1,
    variability: bool = True,
    target_range: tuple[float, float],
    dt_h: float = 0.01,
) -> pd.DataFrame:
    """Steady-state exposure across the plausible values of each assumed number.

    Parameters
    ----------
    parameters : {name: [setting, ...]}
        Each name varied alone, the others as in the model (see the module docstring).
    metrics : subset of ("cmax", "cmin", "cavg", "pta")
    variability : False for the typical children only.
    target_range : (low, high), mg/L: PTA is the share of children with Cavg in it (a drug's
        own, e.g. `pk.BACLOFEN_TARGET_MG_L`).
    dt_h : grid step over the last dosing interval, h (Cmax, Cmin).

    Returns
    -------
    DataFrame, one row per (parameter, setting, metric, statistic): parameter
    ("baseline" for the model as given), setting, metric, statistic ("median",
    "p5", "p95" over the children, mg/L; "share" for PTA, a fraction), value.
    """
    where = "sensitivity"
    if not isinstance(model, Model):
        raise TypeError(f"{where}: model is {type(model).__name__}; expected a Model (pk.load_model)")
    if model.structure is None:
        raise ValueError(
            f"{where}: model {model.name!r} is written in the model language; "
            "sensitivity varies the assumed numbers of the named structures (its "
            "steady state is F dose / CL)"
        )
    metrics = tuple(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(
            f"{where}: metrics has {bad[0] if bad else 'nothing'!r}; expected some of {list(METRICS)}"
        )
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError(
            f"{where}: parameters is {parameters!r}; expected {{name: [settings]}}, "
            f"names of {model.name!r}'s parameters or {list(KNOBS)}"
        )
    low_high = check_range(target_range, "target_range")
    if not isinstance(regimen, Regimen):
        raise TypeError(f"{where}: regimen is a {type(regimen).__name__}; expected a Regimen")
    if regimen.timing_sd_h > 0:  # each child's own dose times: no exact Cavg from shared times
        raise ValueError(
            f"{where}: regimen has timing_sd_h {regimen.timing_sd_h!r} h; expected "
            "doses on time (0), the same times for every child (steady state is "
            "read over the last dosing interval)"
        )
    variants = [("baseline", model.name, model)]
    for name, settings in parameters.items():
        if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence) or not settings:
            raise ValueError(f"{where}: parameters[{name!r}] is {settings!r}; expected a list of settings")
        variants += [(name, s, variant(model, name, s)) for s in settings]
    times, window = _last_interval_grid(regimen, cohort, dt_h)
    rows = []
    for name, setting, m in variants:  # over variants, each vectorised over the children
        per_child = _steady_state(m, cohort, regimen, times, window, seed, variability)
        for metric in metrics:
            if metric == "pta":
                inside = (per_child["cavg"] >= low_high[0]) & (per_child["cavg"] <= low_high[1])
                rows.append((name, setting, metric, "share", float(np.mean(inside))))
                continue
            for statistic, q in STATISTICS.items():
                rows.append((name, setting, metric, statistic, float(np.percentile(per_child[metric], q))))
    table = pd.DataFrame(rows, columns=["parameter", "setting", "metric", "statistic", "value"])
    table.attrs["n"] = len(cohort)  # children behind each statistic (the tornado's n)
    return table


def variant(model: Model, name: str, setting) -> Model:
    """The model with one assumed number changed (module docstring)."""
    where = f"sensitivity: parameters[{name!r}]"
    if name in ("n_transit", "V1_split") and model.structure is None:
        raise ValueError(
            f"{where}: model {model.name!r} is written in the model language; expected a "
            f"named structure (its {'transit chain' if name == 'n_transit' else 'V1 and V2'} to vary)"
        )
    if name == "n_transit":
        assert model.structure is not None  # refused just above
        if model.structure.absorption == "first_order":
            raise ValueError(
                f"{where}: model {model.name!r} has first-order absorption; expected "
                "a transit model to vary n_transit"
            )
        if not (isinstance(setting, (int, np.integer)) and not isinstance(setting, bool) and setting >= 0):
            raise ValueError(f"{where} has {setting!r}; expected whole numbers >= 0")
        s = model.structure
        return replace(model, structure=Structure(s.name, s.absorption, int(setting)))
    if name == "V1_split":
        return _split(model, setting, where)
    if name == "omega":
        if setting not in OMEGA_CONVENTIONS:
            raise ValueError(f"{where} has {setting!r}; expected one of {list(OMEGA_CONVENTIONS)}")
        if setting == "sd":
            return model
        params = {n: replace(p, iiv_sd=_omega_of_cv(p.iiv_sd)) for n, p in model.parameters.items()}
        effects = tuple(replace(e, sd=_omega_of_cv(e.sd)) for e in model.random_effects)
        return replace(model, parameters=params, random_effects=effects)
    if name not in model.parameters:
        raise ValueError(
            f"sensitivity: parameters names {name!r}; expected one of {model.name!r}'s "
            f"parameters {list(model.parameters)} or {list(KNOBS)}"
        )
    zero_ok = name == "tlag"  # a lag may be 0; every other parameter must be > 0
    if not (is_number(setting) and math.isfinite(setting) and (setting > 0 or zero_ok and setting == 0)):
        raise ValueError(
            f"{where} has {setting!r}; expected finite numbers "
            f"{'>= 0' if zero_ok else '> 0'} in {model.parameters[name].unit}"
        )
    return model.with_typical_values({name: float(setting)})


def _omega_of_cv(cv: float) -> float:
    """The log-normal SD whose coefficient of variation is `cv`: sqrt(ln(1 + cv^2))."""
    return math.sqrt(math.log1p(cv * cv))


def _split(model: Model, v1: float, where: str) -> Model:
    p = model.parameters
    assert model.structure is not None  # variant() refuses a model of the language
    if model.structure.disposition != "two_compartment":
        raise ValueError(
            f"{where}: model {model.name!r} has one compartment; expected two to split V1 and V2"
        )
    if len({p[n].per_kg for n in ("CL", "V1", "Q", "V2")}) != 1:
        raise ValueError(
            f"{where}: CL, V1, Q and V2 of {model.name!r} are not all per kg or all "
            "absolute; expected one kind to keep Vss and the half-life"
        )
    cl, vss = p["CL"].value, p["V1"].value + p["V2"].value
    if not (is_number(v1) and 0 < v1 < vss):
        raise ValueError(f"{where} has {v1!r}; expected V1 between 0 and Vss = {vss:.4g} {p['V1'].unit}")
    k10, k12, k21 = cl / p["V1"].value, p["Q"].value / p["V1"].value, p["Q"].value / p["V2"].value
    total = k10 + k12 + k21
    lz = (total - math.sqrt(total * total - 4 * k10 * k21)) / 2  # the model's own terminal rate
    v2 = vss - v1
    q = lz * v2 * (cl - lz * v1) / (cl - lz * vss)
    return model.with_typical_values({"V1": float(v1), "V2": v2, "Q": q})


def _last_interval_grid(regimen: Regimen, cohort: Cohort, dt_h: float):
    """Output times (every dose time, then the last interval every dt_h) and that interval."""
    if not (is_number(dt_h) and 0 < dt_h <= 1):
        raise ValueError(f"sensitivity: dt_h is {dt_h!r}; expected a grid step in h, 0 < dt_h <= 1")
    doses = np.unique(regimen.doses(cohort, seed=0).time_h)
    if doses.size < 2:
        raise ValueError(
            "sensitivity: the regimen has fewer than two dose times; expected "
            "repeated doses (exposure at steady state)"
        )
    start, end = float(doses[-1]), float(2 * doses[-1] - doses[-2])
    n = max(int(round((end - start) / dt_h)), 1)
    return np.unique(np.concatenate([doses, np.linspace(start, end, n + 1)])), (start, end)


def _steady_state(model, cohort, regimen, times, window, seed, variability) -> dict:
    """Each child's Cmax, Cmin (grid) and exact Cavg over `window`, each shape (n_subjects,)."""
    res = simulate(model, cohort, regimen, times, seed=seed, variability=variability)
    table = exposure(res, start=window[0], end=window[1])
    # a named structure (sensitivity refuses the language) and one schedule for all (no jitter)
    assert model.structure is not None and isinstance(res.doses, Doses)
    eliminated = analytic.amounts(model.structure, res.individual, res.doses, np.array(window))[:, -1, :]
    tau = window[1] - window[0]
    cavg = (eliminated[:, 1] - eliminated[:, 0]) / (res.individual["CL"] * tau)
    return {"cmax": table["cmax"].to_numpy(), "cmin": table["cmin"].to_numpy(), "cavg": cavg}
