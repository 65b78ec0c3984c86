"""Dose schedules: when doses fall (intervals, clock times), caps by age, titration steps.

Pure functions the builders of `pkmodel.dosing.regimen.Regimen` call; each checks what it is given
and names the builder (`where`) in its messages.
"""

import math
import re
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .._checks import is_number, nonnegative, positive, whole

# The most doses one regimen may schedule (QID for 68 years): longer ones are refused before
# anything is allocated ('2 mg TID for 100000000 days').
MAX_DOSES = 100_000
_CLOCK = re.compile(r"(\d{2}):(\d{2})")


def titration_levels(
    time_h,
    doses_per_day: int,
    start: float,
    step: float,
    every: int,
    target: float,
    per_dose_cap: float,
    day_cap: float,
    threshold: float | None,
    qid_time,
):
    """A titration's doses: times (n_doses,), prescribed mg, doses a day, weight range (min, max].

    Step period k = day // every prescribes start + step * k mg per dose. With a threshold,
    children whose target (target * weight, mg/day) is above it move to the QID doses
    (`qid_time`) from the first period k* whose prescribed daily amount is above it, at a
    quarter of the last daily amount before (under the dose and daily caps), stepping on by
    `step` per dose per period; their doses_per_day doses stop from k* on.
    """
    period = np.arange(time_h.size) // doses_per_day // every
    level = start + step * period
    per_day = np.full(time_h.size, float(doses_per_day))
    low, high = np.zeros(time_h.size), np.full(time_h.size, np.inf)
    if threshold is None:
        return time_h, level, per_day, low, high
    above = level * doses_per_day > threshold
    if not above.any():
        return time_h, level, per_day, low, high
    switch = int(period[np.argmax(above)])
    before = start + step * (switch - 1) if switch else start
    kept = min(before * doses_per_day, per_dose_cap * doses_per_day, day_cap)
    switch_weight = threshold / target  # above it, the target itself is above the threshold
    high[above] = switch_weight
    qid_period = np.arange(qid_time.size) // 4 // every
    qid = qid_period >= switch
    qid_level = kept / 4 + step * (qid_period[qid] - switch)
    order = np.argsort(np.r_[time_h, qid_time[qid]], kind="stable")
    return (
        np.r_[time_h, qid_time[qid]][order],
        np.r_[level, qid_level][order],
        np.r_[per_day, np.full(qid.sum(), 4.0)][order],
        np.r_[low, np.full(qid.sum(), switch_weight)][order],
        np.r_[high, np.full(qid.sum(), np.inf)][order],
    )


def dose_times(
    where: str, doses_per_day, days, times_of_day, start_h, name: str = "times_of_day"
) -> np.ndarray:
    """Dose times, h: every 24/doses_per_day h from start_h, or at the clock times daily."""
    n = dose_count(where, doses_per_day, days)
    nonnegative(where, "start_h", start_h)
    i = np.arange(n)
    if times_of_day is None:
        return start_h + i * (24.0 / doses_per_day)
    hours = clock_hours(where, name, times_of_day, doses_per_day)
    return start_h + 24.0 * (i // doses_per_day) + hours[i % doses_per_day]


def clock_hours(where: str, name: str, times_of_day, doses_per_day: int) -> np.ndarray:
    """'HH:MM' strings -> hours after midnight, shape (doses_per_day,), increasing."""
    if not (isinstance(times_of_day, (list, tuple)) and all(isinstance(t, str) for t in times_of_day)):
        raise ValueError(
            f"{where}: {name} is {times_of_day!r}; expected clock times like ('08:00', '14:00', '20:00')"
        )
    if len(times_of_day) != doses_per_day:
        raise ValueError(
            f"{where}: {name} has {len(times_of_day)} times; expected {doses_per_day}, "
            "one per dose of the day"
        )
    hours = []
    for i, text in enumerate(times_of_day):
        match = _CLOCK.fullmatch(text)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(
                f"{where}: {name}[{i}] is {text!r}; expected a clock time 'HH:MM' from '00:00' to '23:59'"
            )
        hours.append(int(match[1]) + int(match[2]) / 60)
        if i and hours[i] <= hours[i - 1]:
            raise ValueError(
                f"{where}: {name}[{i}] is {text!r}; expected a time later in the day "
                f"than {times_of_day[i - 1]!r}"
            )
    return np.array(hours)


def daily_cap(where: str, max_mg_per_day) -> tuple[float, Mapping | None]:
    """A daily cap given as a number (-> (cap, None)) or as age bands (-> (inf, bands))."""
    if isinstance(max_mg_per_day, Mapping):
        return math.inf, age_bands(where, max_mg_per_day)
    return positive(where, "max_mg_per_day", max_mg_per_day, optional=True), None


def age_bands(where: str, bands) -> Mapping[tuple[float, float], float]:
    """{(from_years, to_years): mg/day}, checked and sorted by age."""
    if not isinstance(bands, Mapping) or not bands:
        raise ValueError(
            f"{where}: max_mg_per_day_by_age is {bands!r}; expected {{(from_years, to_years): mg/day, ...}}"
        )
    checked = {}
    for key, cap in bands.items():
        if not (
            isinstance(key, tuple)
            and len(key) == 2
            and all(is_number(a) for a in key)
            and 0 <= key[0] < key[1]
        ):
            raise ValueError(
                f"{where}: max_mg_per_day age band {key!r} is not an age range; expected "
                "(from_years, to_years) with 0 <= from < to"
            )
        checked[(float(key[0]), float(key[1]))] = positive(where, f"max_mg_per_day[{key!r}]", cap)
    ordered = sorted(checked)
    for (lo, hi), (next_lo, next_hi) in zip(ordered, ordered[1:]):
        if next_lo < hi:
            raise ValueError(
                f"{where}: max_mg_per_day age bands ({lo:g}, {hi:g}) and ({next_lo:g}, "
                f"{next_hi:g}) overlap; expected disjoint age ranges"
            )
    return MappingProxyType({key: checked[key] for key in ordered})


def dose_count(where: str, doses_per_day, days) -> int:
    whole(where, "doses_per_day", doses_per_day, 1)
    positive(where, "days", days)
    n = doses_per_day * days
    if n > MAX_DOSES:
        raise ValueError(
            f"{where}: days is {days!r}, {n:.6g} doses at {doses_per_day} a day; expected "
            f"at most {MAX_DOSES:,} doses per regimen (pkmodel.dosing.MAX_DOSES)"
        )
    if abs(n - round(n)) > 1e-9:
        raise ValueError(
            f"{where}: days is {days!r}; expected a whole number of dosing intervals "
            f"({doses_per_day} doses per day)"
        )
    return int(round(n))
