"""Units at the edge: concentrations are mg/L inside, other units only for display; doses
written with their unit are converted on the way in."""

import math
import re
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

# multiply a concentration in mg/L by this to express it in the unit
CONCENTRATION_UNITS = {"mg/L": 1.0, "ug/mL": 1.0, "ng/mL": 1000.0}

# units of metrics that hold no concentration (the label shown)
_FIXED_UNITS = {"time": "h", "percent": "%", "ratio": "", "fraction": ""}


def concentration_in(conc_mg_per_l, unit: str) -> np.ndarray:
    """Concentrations (mg/L) expressed in `unit` (one of CONCENTRATION_UNITS)."""
    if unit not in CONCENTRATION_UNITS:
        raise ValueError(f"concentration unit is {unit!r}; expected one of {sorted(CONCENTRATION_UNITS)}")
    return np.asarray(conc_mg_per_l) * CONCENTRATION_UNITS[unit]


def metric_in(values, dimension: str, unit: str) -> tuple[np.ndarray, str]:
    """Values of a metric (mg/L, mg*h/L, h, ...) with concentrations in `unit`, and their unit label.

    dimension : "concentration", "concentration*time", "time", "percent", "ratio" or "fraction"
    (the first entry of `pkmodel.analysis.exposure.METRICS[name]`). A ratio or a fraction
    has the empty label.
    """
    if dimension in _FIXED_UNITS:
        concentration_in(0.0, unit)  # refuse an unknown unit here too
        return np.asarray(values), _FIXED_UNITS[dimension]
    converted = concentration_in(values, unit)
    if dimension == "concentration":
        return converted, unit
    if dimension == "concentration*time":
        mass, volume = unit.split("/")
        return converted, f"{mass}*h/{volume}"
    raise ValueError(
        f"metric dimension is {dimension!r}; expected one of "
        f"{sorted(['concentration', 'concentration*time', *_FIXED_UNITS])}"
    )


# --- dose quantities with units ------------------------------------------------------------
# A dose written with its unit, "2500 ug", "2 mg/kg/day", is converted to the unit the
# parameter is documented in; a unit of the wrong kind ("2 mg/kg" for mg/kg/day, "2 mL") is
# refused. Inside, doses are mg, mg/kg, mg/kg/day or mg/day.

# exact factors (fractions): "300 ug" is the double nearest 0.3 mg, not 0.30000000000000004
MASS_UNITS = {
    "g": Fraction(1000),
    "mg": Fraction(1),
    "ug": Fraction(1, 1000),
    "µg": Fraction(1, 1000),
    "μg": Fraction(1, 1000),
    "mcg": Fraction(1, 1000),
    "ng": Fraction(1, 10**6),
}
_PER_TIME = {"day": 1, "d": 1, "h": 24}  # to per day
# what each documented dose unit is: (per kg of body weight, per unit of time)
DOSE_UNITS = {
    "mg": (False, False),
    "mg/kg": (True, False),
    "mg/kg/day": (True, True),
    "mg/day": (False, True),
}
_DIMENSION = {
    (False, False): "an amount per dose",
    (True, False): "an amount per kg per dose",
    (True, True): "an amount per kg per day",
    (False, True): "an amount per day",
}
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"\s*({_NUMBER})\s*([^\W\d_]\S*)\s*")  # the unit starts with a letter


def parse_quantity(text: str, name: str) -> tuple[str, str]:
    """A quantity written as text, "2.5 mg", as (number, unit) texts; refused unless a number
    and a unit."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{name} is {text!r}; expected a number and a unit, e.g. '2.5 mg' or '2 mg/kg/day'")
    return match.group(1), match.group(2)


def as_dose(value, unit: str, name: str):
    """A dose in `unit` (a key of DOSE_UNITS): a string with its unit is converted.

    "2500 ug" -> 2.5 for unit "mg"; "0.5 mg/kg/h" -> 12.0 for "mg/kg/day". A
    number is taken to be in `unit` already, and a mapping (age bands) has its
    values converted; anything else is returned as it is, for the caller's own
    check. Mass: g, mg, ug (µg, mcg), ng; per kg of body weight: /kg; per
    time: /day (/d), /h; "/dose" may end a per-dose unit.

    Raises ValueError naming `name`, the text and the unit expected when the
    text is not a positive number with a dose unit, or its unit is of another
    kind (per dose where per day is expected, a volume, ...).
    """
    if isinstance(value, Mapping):
        return {key: as_dose(v, unit, f"{name}[{key!r}]") for key, v in value.items()}
    if not isinstance(value, str):
        return value
    number, written = parse_quantity(value, name)
    converted = dose_in(number, written)
    if converted is None:
        raise ValueError(
            f"{name} is {value!r}: {written!r} is not a dose unit; expected {unit} "
            f"({_DIMENSION[DOSE_UNITS[unit]]}; mass in {', '.join(MASS_UNITS)})"
        )
    dose, kind = converted
    if kind != unit:
        raise ValueError(
            f"{name} is {value!r}: {written!r} is {_DIMENSION[DOSE_UNITS[kind]]}; "
            f"expected {unit} ({_DIMENSION[DOSE_UNITS[unit]]})"
        )
    if not (math.isfinite(dose) and dose > 0):
        raise ValueError(f"{name} is {value!r}; expected a finite number > 0 of {unit}")
    return dose


def dose_in(number: str, unit: str) -> tuple[float, str] | None:
    """A dose written as `number` (decimal text) and `unit` ("2500", "ug/kg/day"), in its
    documented unit: (value, one of DOSE_UNITS), e.g. (2.5, "mg/kg/day"); None when `unit`
    is no dose unit.

    The value is the double nearest the exact product (300 ug -> 0.3 mg); it may be 0,
    inf or NaN for a number that is not a finite amount > 0, for the caller to refuse.
    """
    factor, kind = _dose_unit(unit)
    if kind is None:
        return None
    documented = next(name for name, k in DOSE_UNITS.items() if k == kind)
    try:  # exact only once known finite and > 0 ("1e999999999" is no integer to build)
        value = float(number)
        if 0 < value < math.inf:
            value = float(Fraction(number) * factor)
    except OverflowError:  # finite as written, not in mg ("1e308 g")
        value = math.inf
    except ValueError:  # more digits than Python builds an integer from: near enough
        value = float(number) * float(factor)
    return value, documented


def _dose_unit(text: str) -> tuple[Fraction, tuple[bool, bool] | None]:
    """Factor to mg (per kg, per day) and kind (per kg, per time) of a unit; kind None if it is
    not a dose unit."""
    mass, *per = text.split("/")
    per_dose = per[-1:] == ["dose"]  # "mg/dose", "mg/kg/dose": per dose, said outright
    if per_dose:
        per = per[:-1]
    per_kg = per[:1] == ["kg"]
    time = per[1:] if per_kg else per
    if mass not in MASS_UNITS or len(time) > 1 or (time and time[0] not in _PER_TIME) or (per_dose and time):
        return Fraction(1), None
    return MASS_UNITS[mass] * (_PER_TIME[time[0]] if time else 1), (per_kg, bool(time))
