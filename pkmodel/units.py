"""Units at the edge: concentrations are mg/L inside; other units only for display."""

import numpy as np

# multiply a concentration in mg/L by this to express it in the unit
CONCENTRATION_UNITS = {"mg/L": 1.0, "ug/mL": 1.0, "ng/mL": 1000.0}


def concentration_in(conc_mg_per_l, unit: str) -> np.ndarray:
    """Concentrations (mg/L) expressed in `unit` (one of CONCENTRATION_UNITS)."""
    if unit not in CONCENTRATION_UNITS:
        raise ValueError(f"concentration unit is {unit!r}; expected one of {sorted(CONCENTRATION_UNITS)}")
    return np.asarray(conc_mg_per_l) * CONCENTRATION_UNITS[unit]
