"""Regimens (what is prescribed) and doses (what each child receives)."""

import math
from dataclasses import dataclass, fields
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import special

from .. import _display
from .._checks import is_number, numbers, readonly, refuse_first, whole
from . import _records, builders
from . import text as labels
from ..population.cohort import Cohort
from .doses import Doses
from .formulations import (
    DEFAULT_MAX_CHANGE,
    Formulation,
    as_formulation,
    check_change,
    check_max_change,
    check_rounding,
)
from .schedule import age_bands
from ..population.variability import STREAM_ADHERENCE, STREAM_TIMING, seed_entropy, standard_normals


@dataclass(frozen=True, eq=False)
class Regimen:
    """Dose times and the rule for each child's amount at each time.

    Child i (weight w_i kg) receives at dose d

        min(mg[d], mg_per_kg[d] * w_i), capped at min(max_mg[d], band_i / doses_per_day[d]),

    rounded to `formulation` if one is given (`rounding`: nearest deliverable
    amount, ties down, or down, or up; never above the cap; a change beyond
    `max_rounding_change` is refused), and only if min_weight_kg[d] < w_i <=
    max_weight_kg[d] (else 0). band_i is the maximum mg/day of the child's
    age band in `max_mg_per_day_by_age`. `mg` is the fixed or titrated amount,
    `mg_per_kg` the weight-based one (inf: not used; not both inf).
    Build with `Regimen.weight_based`, `Regimen.titration` or `Regimen.fixed`:
    their label says every argument, and `Regimen.parse(r.label) == r`.
    Regimens are equal when every field is (arrays exactly, and the label).

    Parameters
    ----------
    time_h : array_like, shape (n_doses,)
        Dose times, h, non-decreasing, >= 0.
    mg, mg_per_kg, max_mg : array_like, shape (n_doses,) or scalar
        mg, mg/kg, mg per dose; > 0 (inf allowed).
    label : str
        What the regimen is, in words (shown in tables and plots).
    doses_per_day : array_like, shape (n_doses,) or scalar, optional
        Doses per day of the schedule each dose belongs to (turns a daily cap
        into a per-dose one); needed with `max_mg_per_day_by_age`.
    max_mg_per_day_by_age : mapping {(from_years, to_years): mg/day}, optional
        Age bands [from, to) and their maximum daily dose; every child's age
        must fall in one.
    min_weight_kg, max_weight_kg : array_like, shape (n_doses,) or scalar
        The dose goes to children with min < weight <= max, kg (default all).
    formulation : Formulation or str, optional
        What doses are rounded to (a name from `bundled_formulations()`).
    missed_dose_probability : float
        Chance that each dose is missed (amount 0), drawn per child and dose
        from the simulation's seed; 0 (default) gives every dose.
    start_h : float, optional
        When day 0 begins, h (default: the first dose); days are 24 h.
    timing_sd_h : float
        Timing jitter: each child takes each dose at its scheduled time plus
        N(0, timing_sd_h^2) h, drawn from the simulation's seed (0: on time).
    rounding : "nearest", "down" or "up"
        How doses are rounded to the formulation (only with one).
    max_rounding_change : float or None
        Largest relative change rounding may make to a child's dose (default
        0.25); None allows any (only with a formulation).
    """

    time_h: np.ndarray
    mg: np.ndarray
    mg_per_kg: np.ndarray
    max_mg: np.ndarray
    label: str = ""
    doses_per_day: np.ndarray | None = None
    max_mg_per_day_by_age: Mapping[tuple[float, float], float] | None = None
    min_weight_kg: np.ndarray = 0.0  # type: ignore[assignment]  # array_like in; an ndarray after __post_init__
    max_weight_kg: np.ndarray = math.inf  # type: ignore[assignment]  # the same
    formulation: Formulation | None = None
    missed_dose_probability: float = 0.0
    start_h: float | None = None
    timing_sd_h: float = 0.0
    rounding: str = "nearest"
    max_rounding_change: float | None = DEFAULT_MAX_CHANGE

    def __repr__(self) -> str:
        return _display.text(_display.regimen(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.regimen(self))

    def __post_init__(self):
        time_h = numbers("Regimen.time_h", self.time_h, "a number of hours")
        if time_h.ndim != 1 or time_h.size == 0:
            raise ValueError(f"Regimen.time_h has shape {time_h.shape}; expected one or more dose times")
        refuse_first(~(np.isfinite(time_h) & (time_h >= 0)), "Regimen.time_h", time_h, "a finite time >= 0 h")
        refuse_first(np.r_[False, np.diff(time_h) < 0], "Regimen.time_h", time_h, "non-decreasing dose times")
        object.__setattr__(self, "time_h", readonly(time_h))
        for name in ("mg", "mg_per_kg", "max_mg"):
            arr = self._per_dose(name)
            refuse_first(~(arr > 0), f"Regimen.{name}", arr, "a number > 0 (inf for no limit)")
        bad = np.flatnonzero(np.isinf(self.mg) & np.isinf(self.mg_per_kg))
        if bad.size:
            raise ValueError(
                f"Regimen dose {bad[0]} has mg and mg_per_kg both inf; expected a "
                "fixed amount, a weight-based amount or both"
            )
        low = self._per_dose("min_weight_kg")
        refuse_first(
            ~(np.isfinite(low) & (low >= 0)), "Regimen.min_weight_kg", low, "a finite weight >= 0 kg"
        )
        high = self._per_dose("max_weight_kg")
        refuse_first(
            ~(high > low), "Regimen.max_weight_kg", high, "a weight above min_weight_kg (inf for none)"
        )
        if self.doses_per_day is not None:
            per_day = self._per_dose("doses_per_day")
            refuse_first(
                ~(np.isfinite(per_day) & (per_day > 0)),
                "Regimen.doses_per_day",
                per_day,
                "a finite number > 0",
            )
        if self.max_mg_per_day_by_age is not None:
            object.__setattr__(
                self, "max_mg_per_day_by_age", age_bands("Regimen", self.max_mg_per_day_by_age)
            )
            if self.doses_per_day is None:
                raise ValueError(
                    "Regimen: max_mg_per_day_by_age needs doses_per_day; expected the "
                    "number of doses per day of each dose's schedule"
                )
        if self.formulation is not None:
            object.__setattr__(self, "formulation", as_formulation(self.formulation, "Regimen"))
        p = self.missed_dose_probability
        if not (is_number(p) and 0 <= p <= 1):
            raise ValueError(f"Regimen: missed_dose_probability is {p!r}; expected a probability from 0 to 1")
        jitter = self.timing_sd_h
        if not (is_number(jitter) and math.isfinite(jitter) and jitter >= 0):
            raise ValueError(f"Regimen: timing_sd_h is {jitter!r}; expected a finite SD >= 0 h")
        start = time_h[0] if self.start_h is None else self.start_h
        if not (is_number(start) and math.isfinite(start) and start <= time_h[0]):
            raise ValueError(
                f"Regimen: start_h is {start!r}; expected a finite time <= the first dose, {time_h[0]:g} h"
            )
        object.__setattr__(self, "start_h", float(start))
        check_rounding(self.rounding, "Regimen")
        change = check_max_change(self.max_rounding_change, "Regimen", "max_rounding_change")
        object.__setattr__(self, "max_rounding_change", change)
        if self.formulation is None and (self.rounding != "nearest" or change != DEFAULT_MAX_CHANGE):
            raise ValueError(
                f"Regimen: rounding is {self.rounding!r}, max_rounding_change is "
                f"{change!r}, without a formulation; expected a formulation to round "
                "to (or the defaults, 'nearest' and 0.25)"
            )

    def _per_dose(self, name: str) -> np.ndarray:
        """Field `name` broadcast to one value per dose, stored read-only."""
        values = numbers(f"Regimen.{name}", getattr(self, name))
        if values.shape not in ((1,), self.time_h.shape):
            raise ValueError(
                f"Regimen.{name} has {values.size} values; expected 1 or {self.time_h.size} (one per dose)"
            )
        arr = readonly(np.broadcast_to(values, self.time_h.shape))
        object.__setattr__(self, name, arr)
        return arr

    def __eq__(self, other) -> bool:
        """Every field equal: arrays element by element, exactly; the age bands and the label too."""
        if not isinstance(other, Regimen):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (
                    isinstance(a, np.ndarray)
                    and isinstance(b, np.ndarray)
                    and a.shape == b.shape
                    and np.array_equal(a, b)
                ):
                    return False
            elif isinstance(a, Mapping) and isinstance(b, Mapping):
                if dict(a) != dict(b):
                    return False
            elif a != b:
                return False
        return True

    def __hash__(self) -> int:
        return hash((self.label, self.time_h.size, float(self.time_h[-1])))

    weight_based = classmethod(builders.weight_based)
    titration = classmethod(builders.titration)
    fixed = classmethod(builders.fixed)

    @classmethod
    def parse(cls, text: str) -> "Regimen":
        """The regimen `text` says, e.g. "2 mg/kg/day TID for 14 days, max 20 mg/dose".

        Grammar: `pkmodel.dosing.text` (doses in mg or mg/kg/day, QD-QID or q8h,
        durations, titration steps, caps, clock times, formulations). A word
        it cannot read is refused with a ValueError quoting it and its column;
        words that ask for an impossible regimen (e.g. 14.2 days of TID) with the
        builder's message.

        Examples
        --------
        >>> r = Regimen.parse("2 mg/kg/day TID for 14 days, max 20 mg/dose")
        >>> r.time_h.size, r.label
        (42, '2 mg/kg/day TID for 14 days, max 20 mg/dose')
        >>> Regimen.parse(r.label) == r
        True
        """
        call = labels.read(text)
        try:
            return getattr(cls, call.builder)(*call.args, **call.kwargs)
        except ValueError as err:
            if str(err).startswith("Regimen.parse"):
                raise
            raise ValueError(f"Regimen.parse: {call.text!r}: {err}") from None

    def doses(self, cohort: Cohort, seed: int | None = None, first: int = 0) -> Doses:
        """Each child's amount at each dose time (amount_mg shape (n_subjects, n_doses)).

        Parameters
        ----------
        seed : int, optional
            Entropy of the missed-dose and timing draws; needed when
            missed_dose_probability or timing_sd_h > 0.
        first : int
            Position of cohort's first child in the whole cohort simulated: a
            child's draws depend on its position, not on how the cohort is cut.
        """
        amount = self._prescribed(cohort)
        offset = missed_mg = None
        if self.random:
            if seed is None:
                raise ValueError(
                    f"Regimen: missed_dose_probability is {self.missed_dose_probability!r}, "
                    f"timing_sd_h is {self.timing_sd_h!r}; expected a seed to draw the "
                    "missed doses and dose times from (simulate passes its own)"
                )
            start = whole("Regimen.doses", "first", first, 0)
            if self.missed_dose_probability > 0:
                # uniforms(...) < p, the uniforms being ndtr of these normals: compared on the
                # normal scale (ndtr is increasing), without an erf per scheduled dose
                missed = standard_normals(
                    seed_entropy(seed), STREAM_ADHERENCE, start, *amount.shape
                ) < special.ndtri(self.missed_dose_probability)
                missed_mg = np.where(missed, amount, 0.0)
                missed_mg.flags.writeable = False
                amount[missed] = 0.0
            if self.timing_sd_h > 0:
                offset = self.timing_sd_h * standard_normals(
                    seed_entropy(seed), STREAM_TIMING, start, *amount.shape
                )
        amount.flags.writeable = False
        return Doses(time_h=self.time_h, amount_mg=amount, offset_h=offset, missed_mg=missed_mg)

    @property
    def random(self) -> bool:
        """Whether what a child is given is drawn (missed doses, timing jitter)."""
        return self.missed_dose_probability > 0 or self.timing_sd_h > 0

    def events(self, cohort: Cohort, seed: int | None = None) -> pd.DataFrame:
        """NONMEM-style records of the doses given: ID, TIME (h), AMT (mg), EVID (1), CMT (1, depot).

        Doses not given (missed, or on a schedule the child is not on) have no
        row; a child given no dose at all has one EVID 2 record (AMT 0, CMT
        missing) at start_h, so that the table still names every child. With
        timing jitter the first TIME may be below 0 (event tables accept
        negative times, as NONMEM 7.4 does). `simulate` on the table gives the
        regimen's own curves.
        """
        return _records.events(self, cohort, seed)

    def describe(self, cohort: Cohort) -> pd.DataFrame:
        """Per child, what the regimen comes to (as prescribed: no missed doses).

        Columns: id, weight_kg, age_years; day_target_reached (day, 0-based
        from start_h, from which the daily amount stays at its target level;
        NaN if the child is still being titrated up at the last dose, or if a
        cap holds it below its target); day_cap_reached (the same day for a
        child a cap holds, NaN for the others); final_mg_per_dose (the last
        dose), final_mg_per_day and final_doses_per_day (the last day),
        final_mg_per_kg_day; cap_bound (a cap held the last dose below the
        prescribed or weight-based amount).
        """
        return _records.describe(self, cohort)

    def daily_mg(self, cohort: Cohort, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each child's total per day: as prescribed, or as given with missed doses drawn from `seed`.

        Returns
        -------
        day : ndarray of int, shape (n_days,)
            Days with doses, 0-based, 24 h each from start_h.
        mg : ndarray, shape (n_subjects, n_days)
            mg/day.
        """
        amount = self._prescribed(cohort) if seed is None else self.doses(cohort, seed).amount_mg
        day, daily, _ = self._by_day(amount)
        return day, daily

    def _by_day(self, amount: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Days with doses (n_days,), totals per day (n_subjects, n_days), first dose of the last day."""
        day = np.floor((self.time_h - self.start_h) / 24.0).astype(np.int64)
        first_of_day = np.flatnonzero(np.r_[True, np.diff(day) > 0])
        return day[first_of_day], np.add.reduceat(amount, first_of_day, axis=1), int(first_of_day[-1])

    def _prescribed(self, cohort: Cohort) -> np.ndarray:
        """Amounts before missed doses, shape (n_subjects, n_doses), mg (writable)."""
        amount = np.multiply.outer(cohort.weight_kg, self.mg_per_kg)
        np.minimum(amount, self.mg, out=amount)  # in place: large temporaries cost page faults
        cap = self.caps(cohort)
        np.minimum(amount, cap, out=amount)  # the amount intended
        off = None
        if np.any(self.min_weight_kg > 0) or np.any(np.isfinite(self.max_weight_kg)):
            w = cohort.weight_kg[:, None]
            off = (w <= self.min_weight_kg) | (w > self.max_weight_kg)  # not this child's schedule
        if self.formulation is not None:
            ids = cohort.ids
            assert ids is not None  # Cohort.__post_init__ sets it
            rounded = self.formulation.round_unchecked(amount, cap, self.rounding)
            if off is not None:
                amount[off] = rounded[off]  # doses not given are not checked
            check_change(
                amount,
                rounded,
                self.max_rounding_change,
                self.formulation.name,
                lambda i: (
                    f"Regimen: child ID {ids[i[0]]} ({cohort.weight_kg[i[0]]:g} "
                    f"kg), dose {i[1]} at {self.time_h[i[1]]:g} h: "
                    f"{float(amount[i])!r} mg"
                ),
                "max_rounding_change",
            )
            amount = rounded
        if off is not None:
            amount[off] = 0.0
        return amount

    def caps(self, cohort: Cohort) -> np.ndarray:
        """Largest amount per dose, mg: shape (n_doses,), or (n_subjects, n_doses) with age bands."""
        if self.max_mg_per_day_by_age is None:
            return self.max_mg
        bands = self.max_mg_per_day_by_age
        lows = np.array([lo for lo, _ in bands])
        highs = np.array([hi for _, hi in bands])
        band = np.searchsorted(lows, cohort.age_years, side="right") - 1
        outside = (band < 0) | (cohort.age_years >= highs[np.maximum(band, 0)])
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            ranges = ", ".join(f"[{lo:g}, {hi:g})" for lo, hi in bands)
            assert cohort.ids is not None  # Cohort.__post_init__ sets it
            raise ValueError(
                f"Regimen: child ID {cohort.ids[i]} is {cohort.age_years[i]:g} years old, in no "
                f"age band of max_mg_per_day; expected ages in {ranges} y"
            )
        day_cap = np.array(list(bands.values()))[band]
        assert self.doses_per_day is not None  # with age bands: __post_init__ refuses them without
        return np.minimum(self.max_mg, np.divide.outer(day_cap, self.doses_per_day))
