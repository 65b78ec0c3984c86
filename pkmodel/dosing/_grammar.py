"""The tokenizer and parser of the regimen language (`pkmodel.dosing.text`, which holds the
contract: the grammar, and the labels it reads back).
"""

import re
from fractions import Fraction
from typing import NamedTuple

from ..units import dose_in
from .formulations import ROUNDING, Formulation, bundled_formulations
from ._spec import _EXPECT_FREQUENCY, BuilderCall, _Spec, build


_TOKEN = re.compile(
    r"""
    (?P<clock>\d{1,2}:\d{2}(?![\d:]))
  | (?P<range>\d+(?:\.\d+)?-\d+(?:\.\d+)?)
  | (?P<number>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<quoted>'[^']*'|"[^"]*")
  | (?P<word>[^\W\d]\w*(?:/\w+)*)
  | (?P<punct>[,+%/±])
  | (?P<space>\s+)
  | (?P<bad>.)
""",
    re.VERBOSE,
)
_FREQUENCIES = {"qd": 1, "od": 1, "daily": 1, "bid": 2, "tid": 3, "qid": 4}
_TIMES = {"once": 1, "twice": 2}
_EVERY_N_HOURS = re.compile(r"q(\d+)h")
_DOSE_UNITS = "mg, mg/dose, mg/day, mg/kg/day, mg/kg/dose (or g, ug, ng)"
_DAYS = {"day": 1, "days": 1, "d": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7}
_HOURS = {"h": 1.0, "hours": 1.0, "hour": 1.0, "hr": 1.0, "hrs": 1.0}
_MINUTES = {"min": 1 / 60, "mins": 1 / 60, "minutes": 1 / 60}
_YEARS = ("y", "years")
_EXPECT_PHRASE = (
    "a phrase: a frequency, 'for', 'x', 'once', 'at', '+', 'max', 'QID above', 'as', "
    "'rounded', 'N % missed', 'timing sd' or 'starting at'"
)


class _Token(NamedTuple):
    kind: str  # clock, range, number, quoted, word, punct, bad or end
    text: str
    column: int  # 1-based


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = [
            _Token(m.lastgroup or "bad", m.group(), m.start() + 1)  # every alternative is named
            for m in _TOKEN.finditer(text)
            if m.lastgroup != "space"
        ]
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

    def skip(self, *words: str) -> bool:
        """Take the next token if it is one of `words`."""
        if self.is_word(*words):
            self.take()
            return True
        return False

    def missing(self, what: str, expected: str) -> ValueError:
        return ValueError(f"Regimen.parse: {self.text!r} gives no {what}; expected {expected}")

    def fail(self, token: _Token, expected: str) -> ValueError:
        if token.kind == "end":
            last = self.tokens[-2] if len(self.tokens) > 1 else None
            where = f"ends after {last.text!r} (column {last.column})" if last else "is empty"
            return ValueError(f"Regimen.parse: {self.text!r} {where}; expected {expected}")
        return ValueError(
            f"Regimen.parse: {token.text!r} at column {token.column} of {self.text!r}; expected {expected}"
        )

    def number(self, what: str, positive: bool = True) -> float:
        token = self.take()
        value = float(token.text) if token.kind == "number" else -1.0
        if not (value > 0 or (value == 0 and not positive)) or value == float("inf"):
            raise self.fail(token, what)
        return value

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

    def quantity(
        self, kinds: tuple[str, ...], what: str, what_unit: str, written=lambda unit: True
    ) -> tuple[float, str]:
        """A number and a dose unit of one of `kinds`, converted to that kind's unit (mg, ...)."""
        number = self.peek()
        self.number(what)
        token = self.take()
        converted = dose_in(number.text, token.text.lower()) if token.kind == "word" else None
        if converted is None or converted[1] not in kinds or not written(token.text.lower()):
            raise self.fail(token, what_unit)
        value, kind = converted
        if not 0 < value < float("inf"):
            raise self.fail(number, f"{what} (in mg, a finite number)")
        return value, kind

    def once(self, spec: _Spec, phrase: str, token: _Token) -> None:
        if phrase in spec.said:
            first = spec.said[phrase]
            raise self.fail(token, f"one {phrase} only (the first is at column {first.column})")
        spec.said[phrase] = token

    # -- the grammar -----------------------------------------------------------------------
    def regimen(self) -> BuilderCall:
        spec = _Spec()
        self.skip("titration")
        spec.said["dose"] = self.peek()
        spec.amount, spec.unit = self.quantity(
            ("mg", "mg/day", "mg/kg", "mg/kg/day"),
            "a dose: a number > 0, then mg, mg/day or mg/kg/day",
            "a dose unit: " + _DOSE_UNITS,
        )
        while self.peek().kind != "end":
            self.phrase(spec)
        return build(self, spec)

    def phrase(self, spec: _Spec) -> None:
        token = self.peek()
        word = token.text.lower() if token.kind == "word" else None
        if token.text == ",":
            self.take()
        elif word == "qid" and self.is_word("above", ahead=1):
            self.switch(spec)
        elif word == "once" and not self.is_word("daily", "a", ahead=1):
            self.once(spec, "frequency", token)
            self.once(spec, "duration", token)
            self.take()
            spec.interval_h, spec.n_doses = 24.0, 1
        elif (
            word in _FREQUENCIES
            or word in _TIMES
            or (word and _EVERY_N_HOURS.fullmatch(word))
            or word == "every"
            or (token.kind == "number" and self.is_word("times", ahead=1))
        ):
            self.once(spec, "frequency", token)
            spec.interval_h = self.frequency()
        elif word == "for":
            self.once(spec, "duration", token)
            self.take()
            amount = self.number("a duration: a number > 0, then days or weeks")
            spec.days = amount * _DAYS[self.unit(_DAYS, "days or weeks")]
        elif word == "x":
            self.once(spec, "duration", token)
            self.take()
            spec.n_doses = self.whole_number("a number of doses (a whole number > 0)")
            self.skip("dose", "doses")
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
        elif (
            token.kind == "number"
            and "cap in mg/day by age" in spec.said
            and self.peek(1).kind == "word"
            and (dose_in("1", self.peek(1).text.lower()) or (0, ""))[1] == "mg/day"
        ):
            self.cap(spec, token)  # "max 40 mg/day at 2-8 y, 60 mg/day at 8-18 y"
        elif word == "as":
            self.once(spec, "formulation", token)
            self.take()
            spec.formulation = self.formulation()
        elif word == "rounded":
            self.once(spec, "rounding", token)
            self.take()
            self.rounding(spec)
        elif token.kind == "number" and self.peek(1).text == "%":
            self.once(spec, "missed doses", token)
            percent = self.take().text
            if not 0 <= float(percent) <= 100:
                raise self.fail(token, "a percentage of doses missed from 0 to 100")
            self.take()
            if self.is_word("of") and self.is_word("doses", ahead=1):
                self.i += 2
            self.unit(("missed",), "'missed' ('10 % of doses missed')")
            spec.missed = float(Fraction(percent) / 100)
        elif (word == "timing" and self.is_word("sd", ahead=1)) or token.text == "±":
            self.once(spec, "timing jitter", token)
            self.i += 2 if word else 1
            sd = self.number("a timing SD: a number >= 0, then h or min", positive=False)
            spec.timing_sd_h = sd * {**_HOURS, **_MINUTES}[self.unit({**_HOURS, **_MINUTES}, "h or min")]
        elif word in ("starting", "start") and self.is_word("at", ahead=1):
            self.once(spec, "start", token)
            self.i += 2
            spec.start_h = self.number("a start time: a number >= 0 of h", positive=False)
            self.unit(_HOURS, "h ('starting at 8 h')")
        else:
            raise self.fail(token, _EXPECT_PHRASE)

    def frequency(self) -> float:
        """Hours between doses."""
        if self.peek().kind == "number":  # "5 times a day"
            per_day = self.whole_number("a whole number of doses a day")
            self.take()
            if not (self.skip("daily") or (self.skip("a", "per") and self.skip("day"))):
                raise self.fail(self.peek(), "'a day' or 'daily' ('5 times a day')")
            return 24 / per_day
        token = self.take()
        word = token.text.lower()
        if word in _FREQUENCIES:
            return 24 / _FREQUENCIES[word]
        if word in _TIMES:
            if not (self.skip("daily") or (self.skip("a") and self.skip("day"))):
                raise self.fail(self.peek(), f"'{word} daily' or '{word} a day'")
            return 24 / _TIMES[word]
        match = _EVERY_N_HOURS.fullmatch(word)
        if match and int(match[1]) > 0:
            return float(match[1])
        if match:
            raise self.fail(token, f"{_EXPECT_FREQUENCY}: an interval > 0 h")
        hours = self.number("a number of hours between doses ('every 8 h')")
        return hours * _HOURS[self.unit(_HOURS, "h or hours ('every 8 h')")]

    def clock_times(self) -> tuple[str, ...]:
        times: list[str] = []
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
        mg, _ = self.quantity(
            ("mg",), "a titration step: a number > 0 of mg per dose ('+2.5 mg/dose')", "mg or mg/dose"
        )
        token = self.take()
        word = token.text.lower() if token.kind == "word" else None
        if word in ("daily", "weekly"):
            every = 1 if word == "daily" else 7
        elif word == "every":
            at = self.peek()
            count = self.whole_number("a whole number of days or weeks") if at.kind == "number" else 1
            every = count * _DAYS[self.unit(_DAYS, "days or weeks")]
        else:
            raise self.fail(
                token, "how often the dose steps up: 'every 7 days', 'every 2 weeks', 'weekly' or 'daily'"
            )
        self.unit(("to",), "'to' and the target dose ('to 2 mg/kg/day')")
        target, _ = self.quantity(
            ("mg/kg/day",), "a target dose: a number > 0 of mg/kg/day", "mg/kg/day (the target)"
        )
        spec.step = (mg, every, target)

    def cap(self, spec: _Spec, token: _Token) -> None:
        mg, unit = self.quantity(
            ("mg", "mg/day"),
            "a cap: a number > 0, then mg/dose or mg/day",
            "mg/dose or mg/day",
            lambda written: written.endswith(("/dose", "/day", "/d")),
        )
        if unit == "mg":
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
        spec.switch_above, _ = self.quantity(
            ("mg/day",), "a daily amount > 0 in mg/day ('QID above 60 mg/day')", "mg/day"
        )
        if self.is_word("at") and self.peek(1).kind == "clock":
            self.take()
            spec.qid_times = self.clock_times()

    def formulation(self) -> Formulation | str:
        first = self.peek()
        if first.kind == "quoted":  # a formulation of one's own: 'odd' pieces 10/25 mg
            self.take()
            self.unit(("pieces",), "'pieces' and the amounts ('pieces 10/25 mg')")
            texts = [self.peek()]
            self.number("a piece: a number > 0 of mg")
            while self.peek().text == "/":
                self.take()
                texts.append(self.peek())
                self.number("a piece: a number > 0 of mg")
            unit = self.take()
            pieces = [dose_in(t.text, unit.text.lower()) if unit.kind == "word" else None for t in texts]
            if any(p is None or p[1] != "mg" for p in pieces):
                raise self.fail(unit, "mg (the unit of the pieces)")
            try:
                return Formulation(first.text[1:-1], tuple(p[0] for p in pieces if p is not None))
            except ValueError as err:
                raise self.fail(first, f"a formulation that can be made: {err}") from None
        words: list[str] = []  # the longest run of words that names a bundled formulation
        while len(words) < 6 and self.peek(len(words)).kind in ("word", "number"):
            words.append(self.peek(len(words)).text.lower())
        names = bundled_formulations()
        for k in range(len(words), 0, -1):
            key = "_".join(words[:k]).replace("_mg/ml", "mg_ml").replace("/", "_")
            for name in (key, key.removesuffix("s"), key.removeprefix("oral_")):
                if name in names:
                    self.i += k
                    return name
        raise self.fail(
            first, f"a formulation: one of {sorted(names)}, or 'tablets', 'oral solution 1 mg/mL', ..."
        )

    def rounding(self, spec: _Spec) -> None:
        said = False
        if self.is_word(*ROUNDING):
            spec.rounding = self.take().text.lower()
            said = True
        if self.skip("within"):
            percent = self.peek()
            self.number("a percentage >= 0 ('within 50 %')", positive=False)
            if self.peek().text != "%":
                raise self.fail(self.peek(), "'%' ('within 50 %')")
            self.take()
            spec.max_change = float(Fraction(percent.text) / 100)
        elif self.is_word("without") and self.is_word("limit", ahead=1):
            self.i += 2
            spec.max_change = None
        elif not said:
            raise self.fail(
                self.peek(), "how doses are rounded: down, nearest or up, 'within N %' or 'without limit'"
            )


def read(text: str) -> BuilderCall:
    """The builder call `text` describes (`pkmodel.dosing.text`); the text is a checked str."""
    return _Parser(text).regimen()
