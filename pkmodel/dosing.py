"""Regimens (what is prescribed) and doses (what each child receives)."""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import is_number, readonly, refuse_first
from .cohort import Cohort

_FREQUENCY = {1: "QD", 2: "BID", 3: "TID", 4: "QID"}


@dataclass(frozen=True, eq=False)
class Doses:
    """Doses for a cohort: times shared by every subject, amounts per subject.

    Parameters
    ----------
    time_h : ndarray, shape (n_doses,)
        Non-decreasing, h; doses at the same time add.
    amount_mg : ndarray, shape (n_subjects, n_doses)
        >= 0, mg (0: no dose for that subject at that time).
    """

    time_h: np.ndarray
    amount_mg: np.ndarray

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct dose times, shape (n_events,), and summed amounts, (n_subjects, n_events)."""
        times, slot = np.unique(self.time_h, return_inverse=True)
        if times.size == self.time_h.size:
            return times, self.amount_mg
        amounts = np.zeros((self.amount_mg.shape[0], times.size))
        for d, e in enumerate(slot):  # over doses, not subjects
            amounts[:, e] += self.amount_mg[:, d]
        return times, amounts


@dataclass(frozen=True, eq=False)
class Regimen:
    """Dose times and the rule for each child's amount at each time.

    Child i receives at dose d: min(mg[d], mg_per_kg[d] * weight_i, max_mg[d]) mg.
    `mg = inf` makes a dose purely weight-based, `mg_per_kg = inf` a fixed
    amount, `max_mg = inf` uncapped. Build with `Regimen.weight_based` or
    `Regimen.fixed`.

    Parameters
    ----------
    time_h : array_like, shape (n_doses,)
        Dose times, h, non-decreasing, >= 0.
    mg, mg_per_kg, max_mg : array_like, shape (n_doses,) or scalar
        mg, mg/kg, mg per dose; > 0 (inf allowed).
    label : str
        What the regimen is, in words (shown in tables and plots).
    """

    time_h: np.ndarray
    mg: np.ndarray
    mg_per_kg: np.ndarray
    max_mg: np.ndarray
    label: str = ""

    def __post_init__(self):
        time_h = np.array(self.time_h, dtype=float, ndmin=1)
        if time_h.ndim != 1 or time_h.size == 0:
            raise ValueError(f"Regimen.time_h has shape {time_h.shape}; expected one or more dose times")
        refuse_first(~(np.isfinite(time_h) & (time_h >= 0)), "Regimen.time_h", time_h,
                     "a finite time >= 0 h")
        refuse_first(np.r_[False, np.diff(time_h) < 0], "Regimen.time_h", time_h,
                     "non-decreasing dose times")
        object.__setattr__(self, "time_h", readonly(time_h))
        for name in ("mg", "mg_per_kg", "max_mg"):
            arr = np.broadcast_to(np.array(getattr(self, name), dtype=float), time_h.shape)
            refuse_first(~(arr > 0), f"Regimen.{name}", arr, "a number > 0 (inf for no limit)")
            object.__setattr__(self, name, readonly(arr))
        bad = np.flatnonzero(np.isinf(self.mg) & np.isinf(self.mg_per_kg))
        if bad.size:
            raise ValueError(f"Regimen dose {bad[0]} has mg and mg_per_kg both inf; expected a "
                             "fixed amount, a weight-based amount or both")

    @classmethod
    def weight_based(cls, mg_per_kg_day: float, doses_per_day: int, days: float,
                     max_mg_per_day: float | None = None, max_mg_per_dose: float | None = None,
                     start_h: float = 0.0) -> "Regimen":
        """Equal doses every 24/doses_per_day h of mg_per_kg_day / doses_per_day mg/kg, capped.

        Per-dose mg = min(weight * mg_per_kg_day / doses_per_day, max_mg_per_dose,
        max_mg_per_day / doses_per_day).
        """
        where = "Regimen.weight_based"
        _positive(where, "mg_per_kg_day", mg_per_kg_day)
        n_doses = _dose_count(where, doses_per_day, days)
        caps = [_positive(where, "max_mg_per_dose", max_mg_per_dose, optional=True),
                _positive(where, "max_mg_per_day", max_mg_per_day, optional=True) / doses_per_day]
        _nonnegative(where, "start_h", start_h)
        label = f"{mg_per_kg_day:g} mg/kg/day {_frequency(doses_per_day)} for {days:g} days"
        if max_mg_per_dose is not None:
            label += f", max {max_mg_per_dose:g} mg/dose"
        if max_mg_per_day is not None:
            label += f", max {max_mg_per_day:g} mg/day"
        return cls(time_h=start_h + np.arange(n_doses) * (24.0 / doses_per_day), mg=np.inf,
                   mg_per_kg=mg_per_kg_day / doses_per_day, max_mg=min(caps), label=label)

    @classmethod
    def fixed(cls, mg: float, every_h: float, n_doses: int, start_h: float = 0.0) -> "Regimen":
        """The same amount for every child, every `every_h` hours, `n_doses` times."""
        where = "Regimen.fixed"
        _positive(where, "mg", mg)
        _positive(where, "every_h", every_h)
        if not (isinstance(n_doses, (int, np.integer)) and not isinstance(n_doses, bool) and n_doses >= 1):
            raise ValueError(f"{where}: n_doses is {n_doses!r}; expected a whole number >= 1")
        _nonnegative(where, "start_h", start_h)
        return cls(time_h=start_h + np.arange(n_doses) * float(every_h), mg=mg, mg_per_kg=np.inf,
                   max_mg=np.inf, label=f"{mg:g} mg every {every_h:g} h x {n_doses}")

    def doses(self, cohort: Cohort) -> Doses:
        """Each child's amount at each dose time (amount_mg shape (n_subjects, n_doses))."""
        amount = np.multiply.outer(cohort.weight_kg, self.mg_per_kg)
        np.minimum(amount, self.mg, out=amount)  # in place: large temporaries cost page faults
        np.minimum(amount, self.max_mg, out=amount)
        amount.flags.writeable = False
        return Doses(time_h=self.time_h, amount_mg=amount)

    def events(self, cohort: Cohort) -> pd.DataFrame:
        """NONMEM-style dose records: ID, TIME (h), AMT (mg), EVID (1), CMT (1, depot)."""
        doses = self.doses(cohort)
        n, d = doses.amount_mg.shape
        return pd.DataFrame({
            "ID": np.repeat(cohort.ids, d),
            "TIME": np.tile(doses.time_h, n),
            "AMT": doses.amount_mg.ravel(),
            "EVID": np.ones(n * d, dtype=np.int64),
            "CMT": np.ones(n * d, dtype=np.int64),
        })


def _positive(where: str, name: str, value, optional: bool = False) -> float:
    if value is None and optional:
        return math.inf
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {name} is {value!r}; expected a finite number > 0")
    return float(value)


def _nonnegative(where: str, name: str, value) -> None:
    if not (is_number(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} is {value!r}; expected a finite number >= 0")


def _dose_count(where: str, doses_per_day, days) -> int:
    if not (isinstance(doses_per_day, (int, np.integer)) and not isinstance(doses_per_day, bool)
            and doses_per_day >= 1):
        raise ValueError(f"{where}: doses_per_day is {doses_per_day!r}; expected a whole number >= 1")
    _positive(where, "days", days)
    n = doses_per_day * days
    if abs(n - round(n)) > 1e-9:
        raise ValueError(f"{where}: days is {days!r}; expected a whole number of dosing intervals "
                         f"({doses_per_day} doses per day)")
    return int(round(n))


def _frequency(doses_per_day: int) -> str:
    return _FREQUENCY.get(doses_per_day, f"{doses_per_day}x/day")
