"""What a regimen text says (`_Spec`, filled by the parser of `_grammar.py`) and the builder
call it comes to (`BuilderCall`: which `Regimen` builder, with which arguments), with the checks
that need the whole text (a frequency and a duration given, caps only on what can be capped).
The contract, grammar and labels, is `pkmodel.dosing.text`.
"""

from dataclasses import dataclass, field
from typing import Any

from .formulations import DEFAULT_MAX_CHANGE, Formulation
from .schedule import MAX_DOSES

# a titration with no duration runs this long: He 2014 titrated over 10-12 weeks
DEFAULT_TITRATION_DAYS = 84
_EXPECT_FREQUENCY = "a frequency (QD, BID, TID, QID, q8h or every 8 h)"


@dataclass(frozen=True)
class BuilderCall:
    """What a text asks for: `Regimen.<builder>(*args, **kwargs)` (the regimen builds it)."""

    builder: str  # "weight_based", "titration" or "fixed"
    args: tuple
    kwargs: dict[str, Any]
    text: str


@dataclass
class _Spec:
    """What the text says, each with the token that said it (for messages)."""

    amount: float = 0.0
    unit: str = ""  # "mg", "mg/day", "mg/kg" or "mg/kg/day"
    interval_h: float | None = None
    days: float | None = None
    n_doses: int | None = None
    times: tuple[str, ...] | None = None
    step: tuple[float, int, float] | None = None  # (mg per dose, every days, target mg/kg/day)
    max_mg_per_dose: float | None = None
    max_mg_per_day: float | None = None
    day_caps_by_age: dict = field(default_factory=dict)
    switch_above: float | None = None
    qid_times: tuple[str, ...] | None = None
    formulation: Formulation | str | None = None
    rounding: str = "nearest"
    max_change: float | None = DEFAULT_MAX_CHANGE
    missed: float = 0.0
    timing_sd_h: float = 0.0
    start_h: float = 0.0
    said: dict = field(default_factory=dict)  # phrase -> token that began it


def build(parser, spec: _Spec) -> BuilderCall:
    """The builder of `Regimen` and its arguments that a parsed text asks for."""
    said = spec.said
    interval = spec.interval_h
    if spec.times is not None:
        if interval is None:
            interval = 24 / len(spec.times)
        elif 24 / interval != len(spec.times):
            raise parser.fail(
                said["clock times"],
                f"{24 / interval:g} clock times, one per dose of the day; got {len(spec.times)}",
            )
    if interval is None:
        raise parser.missing("frequency", _EXPECT_FREQUENCY)
    doses_a_day = 24 / interval
    per_day = int(doses_a_day) if doses_a_day.is_integer() else None
    if spec.switch_above is not None and spec.step is None:
        raise parser.fail(said["switch to QID"], "'QID above' only in a titration (a '+' step)")
    if spec.max_mg_per_day is not None and spec.day_caps_by_age:
        raise parser.fail(said["cap in mg/day by age"], "one daily cap, or daily caps by age, not both")
    if "rounding" in said and spec.formulation is None:
        raise parser.fail(said["rounding"], "'rounded' with a formulation ('as tablets')")
    fixed = not spec.unit.startswith("mg/kg") and spec.step is None
    if per_day is None and not fixed:
        raise parser.fail(
            said.get("frequency", said.get("clock times")),
            f"{_EXPECT_FREQUENCY}: an interval that divides 24 h",
        )
    day_cap = dict(spec.day_caps_by_age) or spec.max_mg_per_day
    n_doses: float
    if spec.n_doses is not None:
        n_doses = spec.n_doses
    elif spec.days is not None:
        n_doses = spec.days * 24 / interval
    elif spec.step is not None:
        assert per_day is not None  # a titration is not fixed: refused above otherwise
        n_doses = DEFAULT_TITRATION_DAYS * per_day
    else:
        raise parser.missing("duration", "'for N days', 'for N weeks' or 'x N' doses")
    if n_doses > MAX_DOSES:
        raise parser.fail(
            said.get("duration", said["dose"]),
            f"a duration of at most {MAX_DOSES:,} doses (pkmodel.dosing.MAX_DOSES), not {n_doses:.6g}",
        )
    common = {
        "times_of_day": spec.times,
        "formulation": spec.formulation,
        "rounding": spec.rounding,
        "max_rounding_change": spec.max_change,
        "missed_dose_probability": spec.missed,
        "timing_sd_h": spec.timing_sd_h,
    }
    if spec.step is not None:
        if spec.unit.startswith("mg/kg"):
            raise parser.fail(
                said["dose"],
                "a titration to start from mg per dose (e.g. '2.5 mg TID, +2.5 mg/dose every 7 days ...')",
            )
        mg, every, target = spec.step
        assert per_day is not None  # a titration is not fixed: refused above otherwise
        days = spec.days if spec.n_doses is None and spec.days is not None else n_doses / per_day
        return BuilderCall(
            "titration",
            (_per_dose(spec, interval), per_day, mg, every, target, days),
            dict(
                max_mg_per_dose=spec.max_mg_per_dose,
                max_mg_per_day=day_cap,
                switch_to_qid_above_mg_per_day=spec.switch_above,
                qid_times_of_day=spec.qid_times,
                start_h=spec.start_h,
                **common,
            ),
            parser.text,
        )
    if not fixed:
        assert per_day is not None  # refused above otherwise
        days = spec.days if spec.n_doses is None and spec.days is not None else n_doses / per_day
        mg_per_kg_day = spec.amount * (per_day if spec.unit == "mg/kg" else 1)
        return BuilderCall(
            "weight_based",
            (mg_per_kg_day, per_day, days),
            dict(
                max_mg_per_day=day_cap, max_mg_per_dose=spec.max_mg_per_dose, start_h=spec.start_h, **common
            ),
            parser.text,
        )
    capped = [said[k] for k in ("cap in mg/dose", "cap in mg/day", "cap in mg/day by age") if k in said]
    if capped:
        raise parser.fail(
            capped[0], "no cap on a fixed dose (every child gets the same mg: write the dose you mean)"
        )
    if abs(n_doses - round(n_doses)) > 1e-9:
        raise parser.fail(
            said["duration"], f"a duration of whole dosing intervals (a dose every {interval:g} h)"
        )
    return BuilderCall(
        "fixed",
        (_per_dose(spec, interval), interval, int(round(n_doses))),
        dict(start_h=spec.start_h, **common),
        parser.text,
    )


def _per_dose(spec: _Spec, interval_h: float) -> float:
    """mg per dose of a fixed or starting amount (mg/day is divided over the day's doses)."""
    if spec.unit != "mg/day":
        return spec.amount
    per_day = 24 / interval_h
    return spec.amount / int(per_day) if per_day.is_integer() else spec.amount * interval_h / 24
