"""Regimen labels: what a builder was given, in the words `pkmodel.dosing.text` reads back.

The two halves of one contract: the builders of `Regimen` write a label with
the functions here and `Regimen.parse(r.label) == r`. Every number is the
shortest decimal that reads back to the same double (`number`; never
``%g``), and every argument of the builder that is not its default appears.
"""

from decimal import Decimal
from typing import Mapping

import numpy as np

from .formulations import DEFAULT_MAX_CHANGE, bundled_formulations

FREQUENCY_WORDS = {1: "QD", 2: "BID", 3: "TID", 4: "QID"}
DEFAULT_ROUNDING = "nearest"


def number(x) -> str:
    """Shortest decimal that reads back to the double x, without an exponent: '0.1', '1234567',
    '0.0000001', '3.3333333333333335'."""
    return np.format_float_positional(float(x), unique=True, trim="-")


def percent(p) -> str:
    """100 p, written so that float(Fraction(text) / 100) == p: '10' for 0.1 (no 10.000000000000002)."""
    return format(Decimal(repr(float(p))).scaleb(2).normalize(), "f")


def plural(n, word: str) -> str:
    return f"{number(n)} {word}" + ("" if n == 1 else "s")


def frequency(doses_per_day: int) -> str:
    """QD, BID, TID, QID; q4h (an interval of whole hours); else '5 times a day'."""
    if doses_per_day in FREQUENCY_WORDS:
        return FREQUENCY_WORDS[doses_per_day]
    if 24 % doses_per_day == 0:
        return f"q{24 // doses_per_day}h"
    return f"{doses_per_day} times a day"


def whole_per_day(every_h: float) -> int | None:
    """Doses a day of a dose every `every_h` h, where a whole number of them gives every_h back."""
    per_day = 24 / every_h
    return int(per_day) if per_day.is_integer() and 24 / int(per_day) == every_h else None


def interval(every_h: float) -> str:
    """A dose every `every_h` h: a frequency word where 24 h holds a whole number of them exactly."""
    per_day = whole_per_day(every_h)
    return f"every {number(every_h)} h" if per_day is None else frequency(per_day)


def duration(n_doses: int, doses_per_day: int | None) -> str:
    """'for 14 days' where the doses fill whole days, else 'x 7 doses'."""
    if doses_per_day and n_doses % doses_per_day == 0:
        return "for " + plural(n_doses // doses_per_day, "day")
    return "x " + plural(n_doses, "dose")


def clock(times_of_day) -> str:
    return "" if times_of_day is None else " at " + "/".join(times_of_day)


def fixed_amount(mg: float, every_h: float) -> str:
    """'10 mg', or '10 mg/day' where that is shorter and divides back to the same mg per dose."""
    text = f"{number(mg)} mg"
    per_day = 24 / every_h
    if per_day.is_integer():
        day = mg * per_day
        if day / per_day == mg and len(number(day)) < len(number(mg)):
            text = f"{number(day)} mg/day"
    return text


def details(*, max_mg_per_dose=None, max_mg_per_day=None, formulation=None,
            rounding=DEFAULT_ROUNDING, max_rounding_change=DEFAULT_MAX_CHANGE,
            missed=0.0, timing_sd_h=0.0, start_h=0.0) -> str:
    """The label's tail: caps, formulation and its rounding, adherence, jitter, start."""
    text = ""
    if max_mg_per_dose is not None:
        text += f", max {number(max_mg_per_dose)} mg/dose"
    if isinstance(max_mg_per_day, Mapping):
        text += "".join(f", max {number(cap)} mg/day at {number(lo)}-{number(hi)} y"
                        for (lo, hi), cap in sorted(max_mg_per_day.items()))
    elif max_mg_per_day is not None:
        text += f", max {number(max_mg_per_day)} mg/day"
    if formulation is not None:
        text += ", as " + formulation_words(formulation)
        words = [] if rounding == DEFAULT_ROUNDING else [rounding]
        if max_rounding_change is None:
            words.append("without limit")
        elif max_rounding_change != DEFAULT_MAX_CHANGE:
            words.append(f"within {percent(max_rounding_change)} %")
        if words:
            text += ", rounded " + " ".join(words)
    if missed:
        text += f", {percent(missed)} % of doses missed"
    if timing_sd_h:
        text += f", timing sd {number(timing_sd_h)} h"
    if start_h:
        text += f", starting at {number(start_h)} h"
    return text


def formulation_words(formulation) -> str:
    """A bundled formulation by its name; any other by its name, quoted, and its pieces."""
    if bundled_formulations().get(formulation.name) == formulation:
        return formulation.name
    quote = '"' if "'" in formulation.name else "'"
    pieces = "/".join(number(p) for p in formulation.pieces_mg)
    return f"{quote}{formulation.name}{quote} pieces {pieces} mg"
