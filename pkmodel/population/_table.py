"""Reading a patient table into a Cohort (`Cohort.from_frame`): each field's column, under the
names it may go by, and its numbers."""

import numpy as np
import pandas as pd

from .._checks import refuse_first

# from_frame: each field, the column names it may go by, and the factor to the field's unit
_SPELLINGS: dict[str, dict[str, float | None]] = {  # field: {spelling: factor to its unit}
    "id": {"id": None},
    "age_years": {"age_years": 1.0, "age_months": 1 / 12},
    "sex": {"sex": None},
    "weight_kg": {"weight_kg": 1.0, "weight_g": 1e-3, "weight_lb": 0.45359237},
    "height_cm": {"height_cm": 1.0, "height_m": 100.0, "height_mm": 0.1, "height_in": 2.54},
}
_REQUIRED = ("age_years", "weight_kg")


def _find_column(where: str, frame: pd.DataFrame, columns: dict, field: str, spellings: dict):
    """(spelling, column name) of `field` in `frame`, or None if the table has none."""
    mapped = [spelling for spelling in spellings if spelling in columns]
    if len(mapped) > 1:
        raise ValueError(
            f"{where}: columns names both {mapped[0]!r} and {mapped[1]!r}; expected one spelling of {field}"
        )
    if mapped:
        name = columns[mapped[0]]
        if name not in frame.columns:
            raise ValueError(
                f"{where}: columns maps {mapped[0]!r} to {name!r}, which the table does "
                f"not have; its columns are {list(frame.columns)}"
            )
        return mapped[0], name
    present = [spelling for spelling in spellings if spelling in frame.columns]
    if len(present) > 1:
        raise ValueError(
            f"{where}: the table has both {present[0]!r} and {present[1]!r}; expected "
            "one (or choose with columns=)"
        )
    if present:
        return present[0], present[0]
    if field not in _REQUIRED:
        return None
    stem = field.split("_")[0] + "_"
    units = ", ".join(spelling.removeprefix(stem) for spelling in spellings)
    found = [c for c in frame.columns if isinstance(c, str) and c.startswith(stem)]
    hint = f" (found {found[0]!r}: pkmodel converts {stem}{{{units}}} only)" if found else ""
    raise ValueError(
        f"{where}: the table has no {field} column{hint}; its columns are "
        f"{list(frame.columns)}; name yours with columns={{{field!r}: ...}}"
    )


def _numbers(where: str, name: str, column: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    refuse_first(
        np.isnan(numbers) & column.notna().to_numpy(),
        f"{where}: column {name!r}",
        column.to_numpy(),
        "a number",
    )
    return numbers
