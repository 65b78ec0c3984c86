"""The builders of `Regimen`: weight-based, titrated and fixed doses, each from the arguments a
prescriber gives, with the label that says every one of them (`pkmodel.dosing.text`). They are
`Regimen`'s classmethods (`Regimen.weight_based`, ...): `cls` is the class they build.
"""

import math
from typing import Any

import numpy as np

from .._checks import is_number, nonnegative, positive, whole
from ..units import as_dose
from . import text as labels
from .formulations import DEFAULT_MAX_CHANGE
from .schedule import MAX_DOSES, daily_cap, dose_times, titration_levels


def weight_based(
    cls,
    mg_per_kg_day: float | str,
    doses_per_day: int,
    days: float,
    max_mg_per_day=None,
    max_mg_per_dose: float | str | None = None,
    start_h: float = 0.0,
    *,
    times_of_day=None,
    formulation=None,
    rounding: str = "nearest",
    max_rounding_change: float | None = DEFAULT_MAX_CHANGE,
    missed_dose_probability: float = 0.0,
    timing_sd_h: float = 0.0,
) -> Any:
    """Equal doses of mg_per_kg_day / doses_per_day mg/kg, capped.

    Per-dose mg = min(weight * mg_per_kg_day / doses_per_day, max_mg_per_dose,
    max_mg_per_day / doses_per_day). `max_mg_per_day` is a number or age
    bands {(from_years, to_years): mg/day}. Doses come every
    24/doses_per_day h from `start_h`, or at `times_of_day` ("HH:MM", one
    per dose, daily; start_h is then the first day's midnight); at most
    MAX_DOSES of them. Amounts are numbers in their documented unit or text
    with a unit ("2 mg/kg/day", "20 mg", "2500 ug"; `pkmodel.units.as_dose`).
    formulation, rounding, max_rounding_change, missed_dose_probability,
    timing_sd_h: as the fields of `Regimen`.
    """
    where = "Regimen.weight_based"
    mg_per_kg_day = as_dose(mg_per_kg_day, "mg/kg/day", f"{where}: mg_per_kg_day")
    max_mg_per_day = as_dose(max_mg_per_day, "mg/day", f"{where}: max_mg_per_day")
    max_mg_per_dose = as_dose(max_mg_per_dose, "mg", f"{where}: max_mg_per_dose")
    positive(where, "mg_per_kg_day", mg_per_kg_day)
    assert is_number(mg_per_kg_day)  # refused just above otherwise
    time_h = dose_times(where, doses_per_day, days, times_of_day, start_h)
    per_dose_cap = positive(where, "max_mg_per_dose", max_mg_per_dose, optional=True)
    day_cap, bands = daily_cap(where, max_mg_per_day)
    regimen = cls(
        time_h=time_h,
        mg=np.inf,
        mg_per_kg=mg_per_kg_day / doses_per_day,
        max_mg=min(per_dose_cap, day_cap / doses_per_day),
        doses_per_day=doses_per_day,
        max_mg_per_day_by_age=bands,
        formulation=formulation,
        rounding=rounding,
        max_rounding_change=max_rounding_change,
        missed_dose_probability=missed_dose_probability,
        start_h=start_h,
        timing_sd_h=timing_sd_h,
    )
    return _labelled(
        regimen,
        f"{labels.number(mg_per_kg_day)} mg/kg/day "
        f"{labels.frequency(doses_per_day)}{labels.clock(times_of_day)} "
        f"{labels.duration(time_h.size, doses_per_day)}",
        per_dose_cap,
        day_cap,
    )


def titration(
    cls,
    start_mg: float,
    doses_per_day: int,
    step_mg: float,
    step_every_days: int,
    target_mg_per_kg_day: float,
    days: float,
    *,
    max_mg_per_dose: float | None = None,
    max_mg_per_day=None,
    switch_to_qid_above_mg_per_day: float | None = None,
    times_of_day=None,
    qid_times_of_day=None,
    formulation=None,
    rounding: str = "nearest",
    max_rounding_change: float | None = DEFAULT_MAX_CHANGE,
    missed_dose_probability: float = 0.0,
    timing_sd_h: float = 0.0,
    start_h: float = 0.0,
) -> Any:
    """Start low, step up every few days to a weight-based target, and stay there.

    In step period k (days k * step_every_days onwards) the prescribed dose
    is start_mg + step_mg * k mg, and each child receives the lower of that
    and its target, target_mg_per_kg_day * weight / doses_per_day; caps
    always win (`max_mg_per_day`: a number or age bands {(from_years,
    to_years): mg/day}).

    With `switch_to_qid_above_mg_per_day`, the children whose target is
    above that daily amount move to four doses a day (every 6 h from
    start_h, or at `qid_times_of_day`) in the first period k* whose
    prescribed daily amount, doses_per_day * (start_mg + step_mg * k*), is
    above it. The switch keeps the daily dose: QID doses start at a quarter
    of the last daily amount before it (under the dose and daily caps) and
    step up by step_mg per dose each period from there: 20 mg TID (60
    mg/day) is followed by 15 mg QID (60 mg/day), then 17.5 mg QID.
    He 2014 titrated from 2.5 mg TID over 10-12 weeks to the maximum
    tolerated dose, up to 20 mg QID (80 mg/day); its steps are not
    published, so the +2.5 mg per dose weekly of pkmodel's examples is an
    assumption. Amounts may be text with a unit, as in `weight_based`; the
    other arguments as there.
    """
    where = "Regimen.titration"
    start_mg = as_dose(start_mg, "mg", f"{where}: start_mg")
    step_mg = as_dose(step_mg, "mg", f"{where}: step_mg")
    target_mg_per_kg_day = as_dose(target_mg_per_kg_day, "mg/kg/day", f"{where}: target_mg_per_kg_day")
    max_mg_per_dose = as_dose(max_mg_per_dose, "mg", f"{where}: max_mg_per_dose")
    max_mg_per_day = as_dose(max_mg_per_day, "mg/day", f"{where}: max_mg_per_day")
    switch_to_qid_above_mg_per_day = as_dose(
        switch_to_qid_above_mg_per_day, "mg/day", f"{where}: switch_to_qid_above_mg_per_day"
    )
    start = positive(where, "start_mg", start_mg)
    step = positive(where, "step_mg", step_mg)
    every = whole(where, "step_every_days", step_every_days, 1)
    target = positive(where, "target_mg_per_kg_day", target_mg_per_kg_day)
    per_dose_cap = positive(where, "max_mg_per_dose", max_mg_per_dose, optional=True)
    day_cap, bands = daily_cap(where, max_mg_per_day)
    time_h = dose_times(where, doses_per_day, days, times_of_day, start_h)
    head = (
        f"titration {labels.number(start)} mg {labels.frequency(doses_per_day)}"
        f"{labels.clock(times_of_day)} +{labels.number(step)} mg/dose every "
        f"{labels.plural(every, 'day')} to {labels.number(target)} mg/kg/day "
        f"{labels.duration(time_h.size, doses_per_day)}"
    )
    threshold: float | None
    if switch_to_qid_above_mg_per_day is not None:
        threshold = positive(where, "switch_to_qid_above_mg_per_day", switch_to_qid_above_mg_per_day)
        if doses_per_day >= 4:
            raise ValueError(
                f"{where}: switch_to_qid_above_mg_per_day needs doses_per_day < 4; "
                f"doses_per_day is {doses_per_day}"
            )
        if times_of_day is not None and qid_times_of_day is None:
            raise ValueError(
                f"{where}: qid_times_of_day is None; expected 4 clock times for the "
                "QID doses, as times_of_day gives the others"
            )
        qid_time = dose_times(where, 4, days, qid_times_of_day, start_h, "qid_times_of_day")
        head += f", QID above {labels.number(threshold)} mg/day{labels.clock(qid_times_of_day)}"
    elif qid_times_of_day is not None:
        raise ValueError(
            f"{where}: qid_times_of_day is {qid_times_of_day!r} without "
            "switch_to_qid_above_mg_per_day; expected None"
        )
    else:
        threshold = qid_time = None
    time_h, level, per_day, low, high = titration_levels(
        time_h, doses_per_day, start, step, every, target, per_dose_cap, day_cap, threshold, qid_time
    )
    regimen = cls(
        time_h=time_h,
        mg=level,
        mg_per_kg=target / per_day,
        max_mg=np.minimum(per_dose_cap, day_cap / per_day),
        doses_per_day=per_day,
        max_mg_per_day_by_age=bands,
        min_weight_kg=low,
        max_weight_kg=high,
        formulation=formulation,
        rounding=rounding,
        max_rounding_change=max_rounding_change,
        missed_dose_probability=missed_dose_probability,
        timing_sd_h=timing_sd_h,
        start_h=start_h,
    )
    return _labelled(regimen, head, per_dose_cap, day_cap)


def fixed(
    cls,
    mg: float | str,
    every_h: float,
    n_doses: int,
    start_h: float = 0.0,
    *,
    times_of_day=None,
    formulation=None,
    rounding: str = "nearest",
    max_rounding_change: float | None = DEFAULT_MAX_CHANGE,
    missed_dose_probability: float = 0.0,
    timing_sd_h: float = 0.0,
) -> Any:
    """The same amount for every child, every `every_h` hours, `n_doses` times (<= MAX_DOSES).

    `mg` is a number of mg or text with a unit ("2.5 mg", "2500 ug").
    times_of_day : "HH:MM" clock times, one per dose of the day (24 / every_h
    of them), in place of a dose every `every_h` h from `start_h` (start_h is
    then the first day's midnight). The other arguments as `Regimen.weight_based`.
    """
    where = "Regimen.fixed"
    mg = as_dose(mg, "mg", f"{where}: mg")
    positive(where, "mg", mg)
    assert is_number(mg)  # refused just above otherwise
    every_h = positive(where, "every_h", every_h)
    whole(where, "n_doses", n_doses, 1)
    if n_doses > MAX_DOSES:
        raise ValueError(
            f"{where}: n_doses is {n_doses!r}; expected at most {MAX_DOSES:,} doses "
            "per regimen (pkmodel.dosing.MAX_DOSES)"
        )
    nonnegative(where, "start_h", start_h)
    time_h = start_h + np.arange(n_doses) * every_h
    per_day = 24.0 / every_h
    if times_of_day is not None:
        if abs(per_day - round(per_day)) > 1e-9:
            raise ValueError(
                f"{where}: every_h is {every_h!r} with times_of_day; expected a "
                "whole number of doses per day (24 / every_h)"
            )
        time_h = dose_times(where, int(round(per_day)), n_doses / round(per_day), times_of_day, start_h)
    regimen = cls(
        time_h=time_h,
        mg=mg,
        mg_per_kg=np.inf,
        max_mg=np.inf,
        formulation=formulation,
        rounding=rounding,
        max_rounding_change=max_rounding_change,
        missed_dose_probability=missed_dose_probability,
        start_h=start_h,
        timing_sd_h=timing_sd_h,
    )
    return _labelled(
        regimen,
        f"{labels.fixed_amount(mg, every_h)} {labels.interval(every_h)}"
        f"{labels.clock(times_of_day)} "
        f"{labels.duration(n_doses, labels.whole_per_day(every_h))}",
        math.inf,
        math.inf,
    )


def _labelled(regimen, head: str, per_dose_cap: float, day_cap: float) -> Any:
    """`regimen` with its label: `head` (dose, frequency, times, duration) and every other field
    that is not its default, from the checked fields (so a bad value is refused, not written)."""
    tail = labels.details(
        max_mg_per_dose=None if math.isinf(per_dose_cap) else per_dose_cap,
        max_mg_per_day=regimen.max_mg_per_day_by_age or (None if math.isinf(day_cap) else day_cap),
        formulation=regimen.formulation,
        rounding=regimen.rounding,
        max_rounding_change=regimen.max_rounding_change,
        missed=regimen.missed_dose_probability,
        timing_sd_h=regimen.timing_sd_h,
        start_h=regimen.start_h,
    )
    object.__setattr__(regimen, "label", head + tail)
    return regimen
