"""What a data set's doses need of a model: F, lag, rate and duration per compartment.

NONMEM's F<n>, ALAG<n>, R<n> and D<n>. `dose_modifiers` is the one place the
simulation of data sets asks for them. Today they come from the model's F and
tlag (on the depot, compartment 1) and from `dosing=`, a mapping
{compartment (name or 1-based number): {"F", "lag", "rate", "duration": a
number or the name of a data-set column}}; the model language's
`[dosing.<compartment>]` sections (issue 14) are to be read here too.
"""

from collections.abc import Mapping

import numpy as np

_KEYS = {"F": 1.0, "lag": 0.0, "rate": np.nan, "duration": np.nan}
_UNITS = {"F": "fraction", "lag": "h", "rate": "mg/h", "duration": "h"}


def dose_modifiers(model, params: Mapping[str, np.ndarray], ds, dosing=None) -> dict[str, np.ndarray]:
    """F, lag (h), rate (mg/h; nan: none) and duration (h; nan: none) of each record's doses.

    params : individual parameters per record, each shape (n_records,); ds : `Dataset`.

    Returns
    -------
    {"F", "lag", "rate", "duration"}: ndarray, shape (n_records, n_compartments).
    """
    names = model.structure.compartments
    n = len(ds.evid)
    out = {k: np.full((n, len(names)), v) for k, v in _KEYS.items()}
    out["F"][:, 0] = params.get("F", 1.0)
    out["lag"][:, 0] = params.get("tlag", 0.0)
    if dosing is None:
        return out
    if not isinstance(dosing, Mapping):
        raise TypeError(
            f"dosing is a {type(dosing).__name__}; expected a mapping {{compartment: "
            "{'F'|'lag'|'rate'|'duration': number or column}}"
        )
    for where, given in dosing.items():
        if isinstance(where, str) and where in names:
            c = names.index(where)
        elif (
            isinstance(where, (int, np.integer)) and not isinstance(where, bool) and 1 <= where <= len(names)
        ):
            c = int(where) - 1
        else:
            raise ValueError(
                f"dosing: compartment {where!r} is not one of model {model.name!r}: "
                + ", ".join(f"{i} ({c})" for i, c in enumerate(names, start=1))
            )
        if not isinstance(given, Mapping):
            raise TypeError(
                f"dosing[{where!r}] is a {type(given).__name__}; expected a mapping "
                "of 'F', 'lag', 'rate', 'duration'"
            )
        for key, value in given.items():
            if key not in _KEYS:
                raise ValueError(f"dosing[{where!r}] has key {key!r}; expected one of {list(_KEYS)}")
            values = ds.covariate(value) if isinstance(value, str) else np.full(n, float(value))
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"{ds.source} row {i}: dosing[{where!r}].{key} is {float(values[i])!r} "
                    f"({value!r}); expected a finite {_UNITS[key]} >= 0"
                )
            out[key][:, c] = values
    return out
