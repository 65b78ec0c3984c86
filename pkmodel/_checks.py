"""Small input checks shared by the modules that validate at the boundary."""

import math
from typing import TypeGuard

import numpy as np

from ._display import short


def is_number(x: object) -> TypeGuard[float]:
    """A real number (Python or numpy), not a bool."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def readonly(values, dtype=float) -> np.ndarray:
    """A read-only copy of `values`, at least 1-D."""
    arr = np.array(values, dtype=dtype, ndmin=1, copy=True)
    arr.flags.writeable = False
    return arr


def plain(value):
    """A numpy scalar as the Python value it holds (for messages: 4.0, not np.float64(4.0))."""
    return value.item() if isinstance(value, np.generic) else value


def refuse_first(bad, name: str, values, expected: str) -> None:
    """Raise ValueError naming the first element of `values` where `bad` is True."""
    where = np.flatnonzero(bad)
    if where.size:
        i = int(where[0])
        raise ValueError(f"{name}[{i}] is {plain(values[i])!r}; expected {expected}")


def positive(where: str, name: str, value, optional: bool = False) -> float:
    """`value` as a float, refused unless finite and > 0; None -> inf where optional."""
    if value is None and optional:
        return math.inf
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {name} is {value!r}; expected a finite number > 0")
    return float(value)


def nonnegative(where: str, name: str, value) -> float:
    """`value` as a float, refused unless finite and >= 0."""
    if not (is_number(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} is {value!r}; expected a finite number >= 0")
    return float(value)


def whole(where: str, name: str, value, minimum: int) -> int:
    """`value` as an int, refused unless a whole number >= minimum (bools refused)."""
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum):
        raise ValueError(f"{where}: {name} is {value!r}; expected a whole number >= {minimum}")
    return int(value)


def refuse_masked(name: str, values) -> None:
    """A masked array is refused: numpy's conversions drop its mask and keep the hidden values."""
    if isinstance(values, np.ma.MaskedArray):
        raise ValueError(
            f"{name} is a masked array; expected plain values (fill or drop the "
            "masked entries first: pkmodel does not guess them)"
        )


def numbers(name: str, values, expected: str = "a number") -> np.ndarray:
    """`values` as a float array, at least 1-D; text, True/False and None are refused (naming
    the first), not converted; so is a masked array."""
    refuse_masked(name, values)
    if isinstance(values, (list, tuple)):  # numpy turns [20.0, True] into [20.0, 1.0]
        refuse_first([isinstance(v, (bool, np.bool_)) for v in values], name, values, expected)
    try:
        raw = np.array(values, ndmin=1)
    except (TypeError, ValueError):  # ragged
        raise ValueError(f"{name} is {short(values)}; expected numbers") from None
    if raw.dtype.kind not in "iuf":
        refuse_first([not is_number(v) for v in raw.ravel()], name, raw.ravel(), expected)
    return raw.astype(float)


_INT64 = (-(2**63), 2**63 - 1)
_EXACT_FLOAT = 2.0**53
# why an ID cannot be an int64 exactly, by code (0: it can)
ID_PROBLEMS = {
    1: "a whole-number subject ID",
    2: "a whole-number subject ID, not True/False",
    3: "a subject ID from -2**63 to 2**63 - 1 (int64)",
    4: "a whole-number subject ID below 2**53 when given as a float (larger floats are not "
    "exact: give large IDs as integers)",
}


def integer_ids(values) -> tuple[np.ndarray, np.ndarray]:
    """Subject IDs as int64, exactly, or why not: never rounded, wrapped or taken from a bool.

    Returns (ids, problem): ids int64 (0 where there is a problem), problem an int code
    per ID (0 none, else a key of ID_PROBLEMS), both shape (n,).
    """
    arr = np.array(values, ndmin=1)
    if not isinstance(values, np.ndarray) and arr.dtype.kind in "iuf":  # [True, 2] is [1, 2]
        if any(isinstance(v, (bool, np.bool_)) for v in np.array(values, dtype=object, ndmin=1).ravel()):
            arr = np.array(values, dtype=object, ndmin=1)
    arr = arr.ravel()
    problem = np.zeros(arr.size, dtype=np.int64)
    kind = arr.dtype.kind
    if kind == "i":
        return arr.astype(np.int64), problem
    if kind == "u":
        problem[arr > np.uint64(_INT64[1])] = 3
    elif kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        problem[~whole] = 1
        problem[whole & (np.abs(arr) >= _EXACT_FLOAT)] = 4
    elif kind == "b":
        problem[:] = 2
    elif kind == "O":  # one at a time: Python ints of any size, bools, text
        for i, v in enumerate(arr):
            if isinstance(v, (bool, np.bool_)):
                problem[i] = 2
            elif isinstance(v, (int, np.integer)):
                problem[i] = 0 if _INT64[0] <= v <= _INT64[1] else 3
            elif isinstance(v, (float, np.floating)):
                whole = math.isfinite(v) and v == round(v)  # abs(float(v)): the same, typed
                problem[i] = 1 if not whole else 4 if abs(float(v)) >= _EXACT_FLOAT else 0
            else:
                problem[i] = 1
    else:
        problem[:] = 1
    ids = np.zeros(arr.size, dtype=np.int64)
    ok = problem == 0
    ids[ok] = arr[ok].astype(np.int64) if kind != "O" else [int(v) for v in arr[ok]]
    return ids, problem
