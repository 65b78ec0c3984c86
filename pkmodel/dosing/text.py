"""Regimens in words, both ways: the label a builder writes and the language that reads it back.

One contract: the builders of `Regimen` write their label with the functions here, and
`Regimen.parse(r.label) == r` for every regimen they make. Every number in a label is the
shortest decimal that reads back to the same double (`number`; never ``%g``), and every
argument of the builder that is not its default appears. `read` turns a text into the
builder call it asks for (tokenizer and parser: `_grammar.py`); `Regimen.parse` makes it.

The language (`Regimen.parse` and the command line's --regimen): a dose followed by phrases,
in any order, commas optional; words are case-insensitive::

    regimen   = ["titration"] dose {phrase}
    dose      = NUMBER MASS ["/kg"] ["/day" | "/d" | "/dose"]     mg, g, ug (µg, mcg), ng
    phrase    = frequency
              | "for" NUMBER ("days" | "d" | "weeks" | "wk")    how long
              | "x" NUMBER ["doses"]                            how many doses
              | "once"                                          one dose
              | "at" CLOCK {["," | "/" | "and"] CLOCK}          clock times HH:MM, one per dose a day
              | "+" NUMBER MASS["/dose"] step "to" NUMBER MASS"/kg/day"    titration
              | "max" NUMBER MASS"/dose"
              | "max" NUMBER MASS"/day" ["at" AGE-AGE ("y" | "years")]     age-banded cap
              | "QID above" NUMBER MASS"/day" ["at" CLOCK ...]  a titration moves to four doses a day
              | "as" FORMULATION                                tablets, oral solution 1 mg/mL, ...
              | "as" QUOTED-NAME "pieces" NUMBER {"/" NUMBER} MASS    a formulation of your own
              | "rounded" ["down" | "nearest" | "up"] ["within" NUMBER "%" | "without limit"]
              | NUMBER "%" ["of doses"] "missed"
              | "timing sd" NUMBER ("h" | "min") | "±" NUMBER ("h" | "min")    timing jitter (SD)
              | "starting at" NUMBER "h"                        when day 0 begins
    frequency = "QD" | "daily" | "once daily" | "BID" | "twice daily" | "TID" | "QID"
              | "q" N "h" | "every" NUMBER ("h" | "hours") | NUMBER "times a day"
    step      = "every" [NUMBER] ("days" | "weeks") | "daily" | "weekly"

What each dose means:

- ``mg/kg/day`` (or ``mg/kg/dose``, ``mg/kg``: per dose, times the doses a
  day): a weight-based regimen, `Regimen.weight_based`, caps allowed.
- ``mg`` (``mg/dose``; ``mg/day`` is divided over the doses of the day): the
  same amount for everyone, `Regimen.fixed` (a cap on it is refused: write the
  dose you mean); with a ``+`` step, the start of a `Regimen.titration`. Only
  a fixed dose may come at an interval that does not divide 24 h.
- The frequency may be left out when clock times give it ("at 08:00, 14:00,
  20:00" is three doses a day).
- A duration is required, except for a titration, which runs 12 weeks when
  none is given (He 2014 titrated over 10-12 weeks); the label says so.
  At most `pkmodel.dosing.MAX_DOSES` doses.
- FORMULATION is a bundled one (`bundled_formulations`), by its name or in
  words: "tablets", "oral solution 1 mg/mL", "oral solution 2 mg/mL",
  "suspension 5 mg/mL", "granules". Rounding is nearest (ties down), within
  25 % of the dose, unless "rounded ..." says otherwise.
- Timing jitter: each dose taken at its time plus a normal deviate with
  that SD ("± 30 min" is an SD of 0.5 h, not a window).

Examples::

    2 mg/kg/day TID for 14 days, max 20 mg/dose
    2.5 mg TID, +2.5 mg/dose every 7 days to 2 mg/kg/day, max 20 mg/dose
    2 mg/kg/day at 08:00, 14:00, 20:00 for 2 weeks, as oral solution 1 mg/mL, ± 30 min
    10 mg q8h for 3 days

Text that cannot be read is refused with a ValueError that quotes the first
word it cannot read and its column (1-based), and says what was expected there.
"""

from decimal import Decimal
from typing import Mapping

import numpy as np

from ._spec import DEFAULT_TITRATION_DAYS as DEFAULT_TITRATION_DAYS
from ._spec import BuilderCall
from ._grammar import read as _read
from .formulations import DEFAULT_MAX_CHANGE, bundled_formulations

FREQUENCY_WORDS = {1: "QD", 2: "BID", 3: "TID", 4: "QID"}
DEFAULT_ROUNDING = "nearest"
# the longest text read (a label with 1,440 clock times is under 9,000 characters)
MAX_TEXT = 100_000


def read(text: str) -> BuilderCall:
    """The builder call `text` asks for (the language: module docstring).

    Raises
    ------
    TypeError
        When `text` is not a str.
    ValueError
        Quoting the first word that cannot be read, its column and what was
        expected; or naming what is missing (a frequency, a duration).
    """
    if not isinstance(text, str):
        raise TypeError(f"Regimen.parse: text is a {type(text).__name__}; expected a str")
    if len(text) > MAX_TEXT:
        raise ValueError(
            f"Regimen.parse: text is {len(text):,} characters long; expected at most "
            f"{MAX_TEXT:,} (pkmodel.dosing.text.MAX_TEXT)"
        )
    return _read(text)


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


def details(
    *,
    max_mg_per_dose=None,
    max_mg_per_day=None,
    formulation=None,
    rounding=DEFAULT_ROUNDING,
    max_rounding_change=DEFAULT_MAX_CHANGE,
    missed=0.0,
    timing_sd_h=0.0,
    start_h=0.0,
) -> str:
    """The label's tail: caps, formulation and its rounding, adherence, jitter, start."""
    text = ""
    if max_mg_per_dose is not None:
        text += f", max {number(max_mg_per_dose)} mg/dose"
    if isinstance(max_mg_per_day, Mapping):
        text += "".join(
            f", max {number(cap)} mg/day at {number(lo)}-{number(hi)} y"
            for (lo, hi), cap in sorted(max_mg_per_day.items())
        )
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
