"""Small array operations shared across layers."""

import numpy as np


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array sorted lexicographically (column 0 first), and each
    row's index among them: np.unique(a, axis=0, return_inverse=True), exactly.

    np.unique sorts the rows as opaque records, ~100 times slower than lexsort (9 s against
    0.1 s for 420,000 rows of 6 floats). Rows are equal where every entry compares equal
    (so -0.0 and 0.0 are one); no NaN.
    """
    a = np.asarray(a)
    n = a.shape[0]
    order = np.lexsort(a.T[::-1])
    ordered = a[order]
    new = np.ones(n, dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse
