"""Regimens compared on the same children with the same random effects."""

from typing import Mapping

import pandas as pd

from ..population.cohort import Cohort
from ..dosing.regimen import Regimen
from .exposure import exposure
from ..model.model import Model
from ..simulation.simulate import simulate
from .windows import STEADY_STATE, window_spec


def compare(model: Model, cohort: Cohort, regimens: Mapping[str, Regimen], times, *,
            seed: int | None = None, variability: bool = True,
            window: str | tuple[float, float] = STEADY_STATE,
            target_range: tuple[float, float] | None = None, method: str = "auto",
            auc_method: str | None = None, engine: str = "analytic",
            **engine_options) -> pd.DataFrame:
    """Exposure of every child on each regimen, as one tidy table.

    Each regimen is simulated on the same cohort with the same random effects:
    a child's random effects depend only on the seed and its position in the
    cohort, and every regimen gets the same seed (with seed=None, the entropy
    drawn for the first regimen is reused). One regimen's curves are held in
    memory at a time.

    Parameters
    ----------
    regimens : {label: Regimen}, e.g. {"TID": r1, "QID": r2}
    times : array_like, shape (n_times,)
        Output times, h (as `pk.simulate`).
    window : "steady_state" (each child's own last full dosing interval on each
        regimen, `pk.exposure`) or (start, end) in h, the same for every regimen
    target_range, method, auc_method : as `pk.exposure`

    Returns
    -------
    DataFrame: regimen (categorical, in the order given), then the columns of
    `pk.exposure`, one row per child and regimen.
    """
    if not isinstance(regimens, Mapping) or not regimens:
        raise ValueError(f"regimens is {regimens!r}; expected {{label: Regimen}} with at least one "
                         "regimen")
    bad = [label for label in regimens if not isinstance(label, str) or not label]
    if bad:
        raise ValueError(f"regimens has label {bad[0]!r}; expected non-empty strings")
    window = window_spec(window, where="compare")
    frames = []
    for label, regimen in regimens.items():  # over regimens, each vectorised over the cohort
        res = simulate(model, cohort, regimen, times, engine=engine, variability=variability,
                       seed=seed, **engine_options)
        seed = res.seed if variability else seed
        table = exposure(res, window=window, target_range=target_range, method=method,
                         auc_method=auc_method)
        table.insert(0, "regimen", label)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    out["regimen"] = pd.Categorical(out["regimen"], categories=list(regimens), ordered=True)
    return out
