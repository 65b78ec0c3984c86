"""pkmodel.dosing.doses: the shared columns of per-child records; pkmodel._arrays.unique_rows."""

import numpy as np

from pkmodel._arrays import unique_rows
from pkmodel.dosing.doses import union_amounts, union_columns


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
        _check_against_numpy(offsets, time_h, keys)


def _check_against_numpy(offsets, time_h, keys):
    """union_columns and union_amounts against np.unique's columns and a record-by-record fill."""
    slot, columns = union_columns(offsets, time_h, keys)
    ref_slot, ref_columns = _reference(offsets, time_h, keys)
    np.testing.assert_array_equal(columns, ref_columns)
    n_subjects = offsets.size - 1
    if slot is None:  # every subject the same records: record j of each is column j
        slot = np.tile(np.arange(columns.shape[0]), n_subjects)
    np.testing.assert_array_equal(slot, ref_slot)
    amounts = np.arange(1.0, time_h.size + 1)
    expected = np.zeros((n_subjects, ref_columns.shape[0]))
    for record, (s, column) in enumerate(zip(np.repeat(np.arange(n_subjects), np.diff(offsets)), ref_slot)):
        expected[s, column] = amounts[record]
    np.testing.assert_array_equal(union_amounts(offsets, slot, columns, amounts), expected)
    return slot


def test_union_columns_of_one_schedule_shared_by_all_are_numpys_too():
    # the fast path (every subject the same times and keys, record by record: a study's one
    # schedule) must give np.unique's columns, ties at one time included; one record differing
    # in time or in a key sends the table down the general path, with the same answer
    rng = np.random.default_rng(2)
    for trial in range(200):
        c, n_subjects = int(rng.integers(1, 7)), int(rng.integers(1, 12))
        row = np.sort(rng.choice([0.0, 8.0, 16.0, 0.5], c))
        keys_row = [rng.integers(0, 2, c).astype(float), rng.choice([0.0, 2.5], c)]
        time_h = np.tile(row, n_subjects)
        keys = [np.tile(k, n_subjects) for k in keys_row]
        if trial % 2:  # one record changed: no longer one schedule
            which = rng.integers(0, time_h.size)
            if trial % 4 == 1:
                keys[0][which] = 1.0 - keys[0][which]
            else:
                time_h[which] = 30.0
                time_h = np.concatenate([np.sort(t) for t in time_h.reshape(n_subjects, c)])
        offsets = np.arange(n_subjects + 1) * c
        _check_against_numpy(offsets, time_h, keys)


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
