"""pkmodel.dosing.doses: the shared columns of per-child records; pkmodel._arrays.unique_rows."""

import numpy as np

from pkmodel._arrays import unique_rows
from pkmodel.dosing.doses import union_columns


def _reference(offsets, time_h, keys):
    """numpy's own distinct rows of (time, rank, *keys), np.unique(axis=0): the definition."""
    n = time_h.size
    starts = np.zeros(n, dtype=bool)
    starts[offsets[:-1][offsets[:-1] < n]] = True
    starts[1:] |= time_h[1:] != time_h[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    key = np.column_stack([time_h, np.arange(n) - first, *keys]).astype(float)
    columns, slot = np.unique(key, axis=0, return_inverse=True)
    return slot.ravel(), columns


def test_union_columns_are_numpys_distinct_rows_in_numpys_order():
    # union_columns sorts with lexsort (np.unique(axis=0) took 9 s on 420,000 records); the
    # columns and every record's slot must be exactly np.unique's, ties, -0.0 and empty
    # subjects included
    rng = np.random.default_rng(0)
    for _ in range(300):
        counts = rng.integers(0, 8, rng.integers(1, 30))
        offsets = np.r_[0, np.cumsum(counts)]
        time_h = np.concatenate([np.sort(rng.choice([0.0, 8.0, 16.0, 24.0, 0.5, -0.0], c)) for c in counts])
        n = time_h.size
        keys = [rng.integers(0, 2, n).astype(float), rng.choice([0.0, 2.5], n)]
        slot, columns = union_columns(offsets, time_h, keys)
        ref_slot, ref_columns = _reference(offsets, time_h, keys)
        np.testing.assert_array_equal(columns, ref_columns)
        np.testing.assert_array_equal(slot, ref_slot)


def test_union_columns_refuse_more_columns_than_allowed():
    # two subjects at their own times: 4 distinct columns, more than the 3 allowed
    offsets = np.array([0, 2, 4])
    time_h = np.array([0.0, 8.0, 1.0, 9.0])
    assert union_columns(offsets, time_h, [np.zeros(4)], max_columns=3) == (None, None)
    slot, columns = union_columns(offsets, time_h, [np.zeros(4)], max_columns=4)
    np.testing.assert_array_equal(columns[:, 0], [0.0, 1.0, 8.0, 9.0])
    np.testing.assert_array_equal(slot, [0, 2, 1, 3])


def test_unique_rows_is_numpys_unique_over_rows():
    # the definition it replaces (np.unique(axis=0), ~100x slower): rows, order and inverse
    rng = np.random.default_rng(1)
    for shape in ((0, 3), (1, 2), (50, 1), (400, 4)):
        a = rng.choice([0.0, -0.0, 1.0, 2.5, 8.0], size=shape)
        rows, inverse = unique_rows(a)
        ref_rows, ref_inverse = np.unique(a, axis=0, return_inverse=True)
        np.testing.assert_array_equal(rows, ref_rows)
        np.testing.assert_array_equal(inverse, ref_inverse.ravel())
