"""Units at the edge: concentrations are mg/L inside; other units only for display."""

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
    (the first entry of `pkmodel.exposure.METRICS[name]`). A ratio or a fraction
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
    raise ValueError(f"metric dimension is {dimension!r}; expected one of "
                     f"{sorted(['concentration', 'concentration*time', *_FIXED_UNITS])}")
