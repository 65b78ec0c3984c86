"""Small input checks shared by the modules that validate at the boundary."""

import numpy as np


def is_number(x) -> bool:
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
