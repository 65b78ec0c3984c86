"""A regimen's tables per child: the dose records given (`Regimen.events`) and what the
regimen comes to as prescribed (`Regimen.describe`). `regimen` is a Regimen (not imported:
regimen.py imports this module)."""

from typing import Any

import numpy as np
import pandas as pd

from ..population.cohort import Cohort

# Daily totals closer than this (relative) are the same dose level: sums of a
# day's doses in floating point differ in the last bits.
_SAME_LEVEL_RTOL = 1e-12


def events(regimen: Any, cohort: Cohort, seed: int | None = None) -> pd.DataFrame:
    """`Regimen.events`: the doses given as NONMEM-style records, EVID 2 for a child given none."""
    given = regimen.doses(cohort, seed).per_subject()
    assert cohort.ids is not None  # Cohort.__post_init__ sets it
    ids = cohort.ids[given.subject]
    none = np.flatnonzero(given.counts == 0)
    n = ids.size
    frame = pd.DataFrame(
        {
            "ID": np.r_[ids, cohort.ids[none]],
            "TIME": np.r_[given.time_h, np.full(none.size, regimen.start_h)],
            "AMT": np.r_[given.amount_mg, np.zeros(none.size)],
            "EVID": np.r_[np.ones(n, dtype=np.int64), np.full(none.size, 2)],
            "CMT": np.r_[np.ones(n), np.full(none.size, np.nan)] if none.size else np.ones(n, np.int64),
        }
    )
    # per_subject() has each child's doses in the order taken (jitter may swap two)
    return frame.sort_values("ID", kind="stable", ignore_index=True)


def describe(regimen: Any, cohort: Cohort) -> pd.DataFrame:
    """`Regimen.describe`: per child, what the regimen comes to as prescribed (its columns there)."""
    amount = regimen._prescribed(cohort)
    n, d = amount.shape
    day, daily, last_day = regimen._by_day(amount)
    final = daily[:, -1]
    changed = ~np.isclose(daily, final[:, None], rtol=_SAME_LEVEL_RTOL, atol=0.0)
    since = np.where(changed.any(axis=1), daily.shape[1] - np.argmax(changed[:, ::-1], axis=1), 0)
    last = d - 1 - np.argmax(amount[:, ::-1] > 0, axis=1)  # each child's last dose
    rows = np.arange(n)
    weight_amount = regimen.mg_per_kg[last] * cohort.weight_kg
    cap = np.broadcast_to(regimen.caps(cohort), (n, d))[rows, last]
    climbing = np.isfinite(regimen.mg_per_kg[last]) & (regimen.mg[last] < np.minimum(weight_amount, cap))
    cap_bound = cap < np.minimum(regimen.mg[last], weight_amount)
    settled = day[since].astype(float)
    return pd.DataFrame(
        {
            "id": cohort.ids,
            "weight_kg": cohort.weight_kg,
            "age_years": cohort.age_years,
            "day_target_reached": np.where(climbing | cap_bound, np.nan, settled),
            "day_cap_reached": np.where(cap_bound, settled, np.nan),
            "final_mg_per_dose": amount[rows, last],
            "final_mg_per_day": final,
            "final_doses_per_day": (amount[:, last_day:] > 0).sum(axis=1),
            "final_mg_per_kg_day": final / cohort.weight_kg,
            "cap_bound": cap_bound,
        }
    )
