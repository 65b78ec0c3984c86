"""Regimens in words: the mini-language of `Regimen.parse` and the command line.

A regimen is a dose followed by phrases, in any order, commas optional;
words are case-insensitive::

    regimen   = ["titration"] dose {phrase}
    dose      = NUMBER ("mg" | "mg/dose" | "mg/day" | "mg/kg/day" | "mg/kg/dose")
    phrase    = frequency
              | "for" NUMBER ("days" | "weeks")             how long (or "x" NUMBER doses)
              | "at" CLOCK {["," | "/" | "and"] CLOCK}      clock times HH:MM, one per dose a day
              | "+" NUMBER ["mg" | "mg/dose"] step "to" NUMBER "mg/kg/day"      titration
              | "max" NUMBER "mg/dose"
              | "max" NUMBER "mg/day" ["at" AGE-AGE ("y" | "years")]             age-banded cap
              | "QID above" NUMBER "mg/day" ["at" CLOCK ...]  a titration moves to four doses a day
              | "as" FORMULATION                             tablets, oral solution 1 mg/mL, ...
              | NUMBER "%" ["of doses"] "missed"
    frequency = "QD" | "daily" | "BID" | "TID" | "QID" | "q" N "h" | "every" N ("h" | "hours")
    step      = "every" [NUMBER] ("days" | "weeks") | "daily" | "weekly"

What each dose means:

- ``mg/kg/day`` (or ``mg/kg/dose``, times the doses a day): a weight-based
  regimen, `Regimen.weight_based`, caps allowed.
- ``mg`` (``mg/dose``; ``mg/day`` is divided over the doses of the day): the
  same amount for everyone, `Regimen.fixed` (a cap on it is refused: write the
  dose you mean); with a ``+`` step, the start of a `Regimen.titration`.
- The frequency may be left out when clock times give it ("at 08:00, 14:00,
  20:00" is three doses a day).
- A duration is required, except for a titration, which runs 12 weeks when
  none is given (He 2014 titrated over 10-12 weeks); the label says so.
- FORMULATION is a bundled one (`bundled_formulations`), by its name or in
  words: "tablets", "oral solution 1 mg/mL", "oral solution 2 mg/mL",
  "suspension 5 mg/mL", "granules".

Examples::

    2 mg/kg/day TID for 14 days, max 20 mg/dose
    2.5 mg TID, +2.5 mg/dose every 7 days to 2 mg/kg/day, max 20 mg/dose
    2 mg/kg/day at 08:00, 14:00, 20:00 for 2 weeks, as oral solution 1 mg/mL
    10 mg q8h for 3 days

Text that cannot be read is refused with a ValueError that quotes the first
word it cannot read and its column (1-based), and says what was expected
there. The labels of the regimens built (`Regimen.label`) read back to the
same regimen.
"""

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from .dosing import Regimen
from .formulations import bundled_formulations

# a titration with no duration runs this long: He 2014 titrated over 10-12 weeks
DEFAULT_TITRATION_DAYS = 84

_TOKEN = re.compile(r"""
    (?P<clock>\d{1,2}:\d{2}(?![\d:]))
  | (?P<range>\d+(?:\.\d+)?-\d+(?:\.\d+)?)
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z0-9_]+)*)
  | (?P<punct>[,+%/])
  | (?P<space>\s+)
  | (?P<bad>.)
""", re.VERBOSE)
_FREQUENCIES = {"qd": 1, "od": 1, "daily": 1, "bid": 2, "tid": 3, "qid": 4}
_EVERY_N_HOURS = re.compile(r"q(\d+)h")
_DOSE_UNITS = ("mg", "mg/dose", "mg/day", "mg/kg/day", "mg/kg/dose")
_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7}
_HOURS = ("h", "hours", "hour")
_YEARS = ("y", "years")
_EXPECT_FREQUENCY = "a frequency (QD, BID, TID, QID, q8h or every 8 h)"
_EXPECT_PHRASE = ("a phrase: a frequency, 'for', 'x', 'at', '+', 'max', 'QID above', 'as' or "
                  "'N % missed'")


class _Token(NamedTuple):
    kind: str      # clock, range, number, word, punct, bad or end
    text: str
    column: int    # 1-based


@dataclass
class _Spec:
    """What the text says, each with the token that said it (for messages)."""

    amount: float = 0.0
    unit: str = ""
    per_day: int | None = None
    days: float | None = None
    n_doses: int | None = None
    times: tuple[str, ...] | None = None
    step: tuple[float, int, float] | None = None   # (mg per dose, every days, target mg/kg/day)
    max_mg_per_dose: float | None = None
    max_mg_per_day: float | None = None
    day_caps_by_age: dict = field(default_factory=dict)
    switch_above: float | None = None
    qid_times: tuple[str, ...] | None = None
    formulation: str | None = None
    missed: float = 0.0
    said: dict = field(default_factory=dict)       # phrase -> token that began it


def parse(text: str) -> Regimen:
    """The Regimen `text` describes (grammar: module docstring).

    Raises
    ------
    ValueError
        Quoting the first word that cannot be read, its column and what was
        expected; or a builder's message when the words ask for an impossible
        regimen (e.g. 14.2 days of TID).
    """
    if not isinstance(text, str):
        raise TypeError(f"Regimen.parse: text is a {type(text).__name__}; expected a str")
    return _Parser(text).regimen()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = [_Token(m.lastgroup, m.group(), m.start() + 1) for m in _TOKEN.finditer(text)
                       if m.lastgroup != "space"]
        self.tokens.append(_Token("end", "", len(text) + 1))
        self.i = 0

    # -- reading tokens --------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def is_word(self, *words: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "word" and token.text.lower() in words

    def missing(self, what: str, expected: str) -> ValueError:
        return ValueError(f"Regimen.parse: {self.text!r} gives no {what}; expected {expected}")

    def fail(self, token: _Token, expected: str) -> ValueError:
        if token.kind == "end":
            last = self.tokens[-2] if len(self.tokens) > 1 else None
            where = f"ends after {last.text!r} (column {last.column})" if last else "is empty"
            return ValueError(f"Regimen.parse: {self.text!r} {where}; expected {expected}")
        return ValueError(f"Regimen.parse: {token.text!r} at column {token.column} of {self.text!r}; "
                          f"expected {expected}")

    def number(self, what: str, positive: bool = True) -> float:
        token = self.take()
        if token.kind != "number" or (positive and float(token.text) == 0):
            raise self.fail(token, what)
        return float(token.text)

    def whole_number(self, what: str) -> int:
        token = self.peek()
        value = self.number(what)
        if not value.is_integer():
            raise self.fail(token, what)
        return int(value)

    def unit(self, units, what: str) -> str:
        token = self.take()
        if token.kind != "word" or token.text.lower() not in units:
            raise self.fail(token, what)
        return token.text.lower()

    def once(self, spec: _Spec, phrase: str, token: _Token) -> None:
        if phrase in spec.said:
            first = spec.said[phrase]
            raise self.fail(token, f"one {phrase} only (the first is at column {first.column})")
        spec.said[phrase] = token

    # -- the grammar -----------------------------------------------------------------------
    def regimen(self) -> Regimen:
        spec = _Spec()
        if self.is_word("titration"):
            self.take()
        spec.said["dose"] = self.peek()
        spec.amount = self.number("a dose: a number > 0, then mg, mg/day or mg/kg/day")
        spec.unit = self.unit(_DOSE_UNITS, "a dose unit: " + ", ".join(_DOSE_UNITS))
        while self.peek().kind != "end":
            self.phrase(spec)
        return _build(self, spec)

    def phrase(self, spec: _Spec) -> None:
        token = self.peek()
        word = token.text.lower() if token.kind == "word" else None
        if token.text == ",":
            self.take()
        elif word == "qid" and self.is_word("above", ahead=1):
            self.switch(spec)
        elif word in _FREQUENCIES or (word and _EVERY_N_HOURS.fullmatch(word)) or word == "every":
            self.once(spec, "frequency", token)
            spec.per_day = self.frequency()
        elif word == "for":
            self.once(spec, "duration", token)
            self.take()
            amount = self.number("a duration: a number > 0, then days or weeks")
            spec.days = amount * _DAYS[self.unit(_DAYS, "days or weeks")]
        elif word == "x":
            self.once(spec, "duration", token)
            self.take()
            spec.n_doses = self.whole_number("a number of doses (a whole number > 0)")
        elif word == "at":
            self.once(spec, "clock times", token)
            self.take()
            spec.times = self.clock_times()
        elif token.text == "+":
            self.once(spec, "titration step", token)
            self.step(spec)
        elif word == "max":
            self.take()
            self.cap(spec, token)
        elif (token.kind == "number" and "cap in mg/day by age" in spec.said
              and self.is_word("mg/day", ahead=1)):  # "max 40 mg/day at 2-8 y, 60 mg/day at 8-18 y"
            self.cap(spec, token)
        elif word == "as":
            self.once(spec, "formulation", token)
            self.take()
            spec.formulation = self.formulation()
        elif token.kind == "number" and self.peek(1).text == "%":
            self.once(spec, "missed doses", token)
            percent = self.number("a percentage", positive=False)
            if percent > 100:
                raise self.fail(token, "a percentage of doses missed from 0 to 100")
            self.take()
            if self.is_word("of") and self.is_word("doses", ahead=1):
                self.i += 2
            self.unit(("missed",), "'missed' ('10 % of doses missed')")
            spec.missed = percent / 100
        else:
            raise self.fail(token, _EXPECT_PHRASE)

    def frequency(self) -> int:
        token = self.take()
        word = token.text.lower()
        if word in _FREQUENCIES:
            return _FREQUENCIES[word]
        match = _EVERY_N_HOURS.fullmatch(word)
        if match and int(match[1]) > 0:
            hours, at = float(match[1]), token
        elif match:
            raise self.fail(token, f"{_EXPECT_FREQUENCY}: an interval > 0 h")
        else:
            at = self.peek()
            hours = self.number("a number of hours between doses ('every 8 h')")
            self.unit(_HOURS, "h or hours ('every 8 h')")
        per_day = 24 / hours
        if not per_day.is_integer():
            raise self.fail(at, f"{_EXPECT_FREQUENCY}: an interval that divides 24 h")
        return int(per_day)

    def clock_times(self) -> tuple[str, ...]:
        times = []
        while True:
            token = self.take()
            if token.kind != "clock":
                raise self.fail(token, "a clock time HH:MM")
            hours, minutes = map(int, token.text.split(":"))
            if hours > 23 or minutes > 59:
                raise self.fail(token, "a clock time from 00:00 to 23:59")
            if times and token.text.zfill(5) <= times[-1]:
                raise self.fail(token, f"a time later in the day than {times[-1]}")
            times.append(token.text.zfill(5))
            separator = 1 if self.peek().text in (",", "/") or self.is_word("and") else 0
            if self.peek(separator).kind != "clock":
                return tuple(times)
            self.i += separator

    def step(self, spec: _Spec) -> None:
        self.take()
        mg = self.number("a titration step: a number > 0 of mg per dose ('+2.5 mg/dose')")
        self.unit(("mg", "mg/dose"), "mg or mg/dose")
        token = self.take()
        word = token.text.lower() if token.kind == "word" else None
        if word in ("daily", "weekly"):
            every = 1 if word == "daily" else 7
        elif word == "every":
            at = self.peek()
            count = self.whole_number("a whole number of days or weeks") if at.kind == "number" else 1
            every = count * _DAYS[self.unit(_DAYS, "days or weeks")]
        else:
            raise self.fail(token, "how often the dose steps up: 'every 7 days', 'every 2 weeks', "
                                   "'weekly' or 'daily'")
        self.unit(("to",), "'to' and the target dose ('to 2 mg/kg/day')")
        target = self.number("a target dose: a number > 0 of mg/kg/day")
        self.unit(("mg/kg/day",), "mg/kg/day (the target)")
        spec.step = (mg, every, target)

    def cap(self, spec: _Spec, token: _Token) -> None:
        mg = self.number("a cap: a number > 0, then mg/dose or mg/day")
        unit = self.unit(("mg/dose", "mg/day"), "mg/dose or mg/day")
        if unit == "mg/dose":
            self.once(spec, "cap in mg/dose", token)
            spec.max_mg_per_dose = mg
            return
        if not (self.is_word("at") and self.peek(1).kind == "range"):
            self.once(spec, "cap in mg/day", token)
            spec.max_mg_per_day = mg
            return
        self.take()
        ages = self.take()
        self.unit(_YEARS, "y or years after the age range")
        low, high = map(float, ages.text.split("-"))
        if not low < high:
            raise self.fail(ages, "an age range from-to with from < to (years)")
        if (low, high) in spec.day_caps_by_age:
            raise self.fail(ages, f"each age range once ({ages.text} y has a cap already)")
        spec.said.setdefault("cap in mg/day by age", token)
        spec.day_caps_by_age[(low, high)] = mg

    def switch(self, spec: _Spec) -> None:
        token = self.take()
        self.once(spec, "switch to QID", token)
        self.take()
        spec.switch_above = self.number("a daily amount > 0 in mg/day ('QID above 60 mg/day')")
        self.unit(("mg/day",), "mg/day")
        if self.is_word("at") and self.peek(1).kind == "clock":
            self.take()
            spec.qid_times = self.clock_times()

    def formulation(self) -> str:
        first = self.peek()
        words = []
        while self.peek().kind in ("word", "number") and not self.is_word("for", "at", "max", "x"):
            words.append(self.take().text.lower())
        key = "_".join(words).replace("_mg/ml", "mg_ml").replace("/", "_")
        names = bundled_formulations()
        for name in (key, key.removesuffix("s"), key.removeprefix("oral_")):
            if name in names:
                return name
        raise self.fail(first, f"a formulation: one of {sorted(names)}, or 'tablets', "
                               "'oral solution 1 mg/mL', ...")


def _build(parser: _Parser, spec: _Spec) -> Regimen:
    """The Regimen of a parsed text, through the builders of `Regimen`."""
    said = spec.said
    per_day = spec.per_day
    if spec.times is not None:
        if per_day is None:
            per_day = len(spec.times)
        elif len(spec.times) != per_day:
            raise parser.fail(said["clock times"], f"{per_day} clock times, one per dose of the "
                                                   f"day; got {len(spec.times)}")
    if per_day is None:
        raise parser.missing("frequency", _EXPECT_FREQUENCY)
    if spec.switch_above is not None and spec.step is None:
        raise parser.fail(said["switch to QID"], "'QID above' only in a titration (a '+' step)")
    if spec.max_mg_per_day is not None and spec.day_caps_by_age:
        raise parser.fail(said["cap in mg/day by age"], "one daily cap, or daily caps by age, "
                                                       "not both")
    day_cap = dict(spec.day_caps_by_age) or spec.max_mg_per_day
    weight_based = spec.unit.startswith("mg/kg")
    if spec.n_doses is not None:
        days = spec.n_doses / per_day
    elif spec.days is not None:
        days = spec.days
    elif spec.step is not None:
        days = DEFAULT_TITRATION_DAYS
    else:
        raise parser.missing("duration", "'for N days', 'for N weeks' or 'x N' doses")
    common = {"times_of_day": spec.times, "formulation": spec.formulation,
              "missed_dose_probability": spec.missed}
    try:
        if spec.step is not None:
            if weight_based:
                raise parser.fail(said["dose"], "a titration to start from mg per dose (e.g. "
                                                "'2.5 mg TID, +2.5 mg/dose every 7 days ...')")
            mg, every, target = spec.step
            return Regimen.titration(
                _per_dose(spec, per_day), per_day, mg, every, target, days,
                max_mg_per_dose=spec.max_mg_per_dose, max_mg_per_day=day_cap,
                switch_to_qid_above_mg_per_day=spec.switch_above, qid_times_of_day=spec.qid_times,
                **common)
        if weight_based:
            mg_per_kg_day = spec.amount * (per_day if spec.unit == "mg/kg/dose" else 1)
            return Regimen.weight_based(mg_per_kg_day, per_day, days, max_mg_per_day=day_cap,
                                        max_mg_per_dose=spec.max_mg_per_dose, **common)
        capped = [said[k] for k in ("cap in mg/dose", "cap in mg/day", "cap in mg/day by age")
                  if k in said]
        if capped:
            raise parser.fail(capped[0], "no cap on a fixed dose (every child gets the same mg: "
                                         "write the dose you mean)")
        n_doses = round(days * per_day)
        if abs(days * per_day - n_doses) > 1e-9:
            raise parser.fail(said["duration"], f"a duration of whole dosing intervals "
                                                f"({per_day} doses a day)")
        return Regimen.fixed(_per_dose(spec, per_day), 24 / per_day, n_doses, **common)
    except ValueError as err:
        if str(err).startswith("Regimen.parse"):
            raise
        raise ValueError(f"Regimen.parse: {parser.text!r}: {err}") from None


def _per_dose(spec: _Spec, per_day: int) -> float:
    """mg per dose of a fixed or starting amount (mg/day is divided over the day's doses)."""
    return spec.amount / per_day if spec.unit == "mg/day" else spec.amount
