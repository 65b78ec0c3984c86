"""Array helpers of the dose records (`doses`): records grouped by child and sorted by time,
the union of the children's dose times, read-only arrays shared rather than copied."""

import numpy as np
import pandas as pd

from .._arrays import unique_rows
from .._checks import readonly


def by_subject(
    n_subjects: int, subject: np.ndarray, time_h: np.ndarray
) -> tuple[np.ndarray | slice, np.ndarray]:
    """The order that sorts records by subject, then time (ties keep their order), and the offsets.

    subject : ndarray of int, shape (n_records,), 0-based < n_subjects; time_h : shape (n_records,).
    Returns order, shape (n_records,) (slice(None) when the records are in order already: an
    index all the same), and offsets, shape (n_subjects + 1,): subject i's records are
    order[offsets[i]:offsets[i + 1]].
    """
    return order_by(subject, time_h), np.r_[0, np.cumsum(np.bincount(subject, minlength=n_subjects))]


def order_by(group: np.ndarray, time_h: np.ndarray) -> np.ndarray | slice:
    """The order that sorts records by group (any integers), then time, ties in their order.

    group, time_h : shape (n_records,). slice(None) when they are in that order already
    (a Regimen's doses, most tables): no sort, and indexing with it copies nothing.
    """
    same = group[1:] == group[:-1]
    if np.all((group[1:] > group[:-1]) | (same & (time_h[1:] >= time_h[:-1]))):
        return slice(None)
    return np.lexsort((time_h, group))


def union_columns(offsets: np.ndarray, time_h: np.ndarray, keys, max_columns: int | None = None):
    """Shared columns for per-subject records: one per distinct (time, rank, *keys).

    offsets : ndarray of int, shape (n_subjects + 1,), records sorted by subject, then time
    time_h : ndarray, shape (n_records,)
    keys : sequence of ndarray, shape (n_records,), further fields a column shares

    rank is a record's place among its subject's records at the same time
    (0, 1, ...), so that a subject's records at one time get columns in their
    order and never share one.

    Returns
    -------
    slot : ndarray of int, shape (n_records,), each record's column; None when every subject
        has the same records (times and keys, c of them): record j of each subject is column j
    columns : ndarray, shape (n_columns, 2 + len(keys)): time, rank, keys, sorted by time then
        rank; (None, None) when there would be more than max_columns.
    """
    n = time_h.size
    regular = _regular_columns(offsets, time_h, keys)
    if regular is not None:  # a study's one schedule for all: no hashing, sorting or search
        return None, regular
    times = np.unique(pd.unique(time_h))  # a hash table first: no sort of every record
    if max_columns is not None and times.size > max_columns:
        return None, None  # found cheaply: more distinct times than columns allowed
    starts = np.zeros(n, dtype=bool)
    starts[offsets[:-1][offsets[:-1] < n]] = True
    starts[1:] |= time_h[1:] != time_h[:-1]
    rank: np.ndarray
    if starts.all():  # no subject has two records at one time
        rank = np.zeros(n)
    else:
        first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        rank = np.arange(n) - first
    fields = (time_h, rank, *keys)
    # a field equal on every record splits no column: only the others are compared (as floats)
    varies = [i for i, f in enumerate(fields) if i == 0 or (f.size and np.any(f != f[0]))]
    if len(varies) == 1:  # the times alone (one dose at a time, alike)
        distinct, slot = times[:, None], np.searchsorted(times, time_h)  # few times: fast
    else:
        distinct, slot = unique_rows(np.column_stack([np.asarray(fields[i], dtype=float) for i in varies]))
    # sorted by time, then rank, then keys
    columns = np.empty((distinct.shape[0], len(fields)))
    for i, f in enumerate(fields):
        columns[:, i] = distinct[:, varies.index(i)] if i in varies else (f[0] if f.size else 0.0)
    if max_columns is not None and columns.shape[0] > max_columns:
        return None, None
    return slot, columns


def _regular_columns(offsets: np.ndarray, time_h: np.ndarray, keys) -> np.ndarray | None:
    """`union_columns`' columns when every subject's records repeat the first subject's (the
    same count, times and keys, record by record), else None: one pass of comparisons."""
    n_subjects = offsets.size - 1
    count = time_h.size // n_subjects if n_subjects else 0
    if count == 0 or offsets[1] != count or np.any(np.diff(offsets) != count):
        return None
    fields = (time_h, *keys)
    for f in fields:
        if f.size and not np.all(f.reshape(n_subjects, count) == f[:count]):
            return None
    first = time_h[:count]
    start = np.r_[True, first[1:] != first[:-1]]  # the first subject's records are in time order
    rank = np.arange(count) - np.maximum.accumulate(np.where(start, np.arange(count), 0))
    return np.column_stack([first, rank, *(np.asarray(k[:count], dtype=float) for k in keys)])


def union_amounts(offsets: np.ndarray, slot: np.ndarray | None, columns, amounts) -> np.ndarray:
    """The (n_subjects, n_columns) amounts of `union_columns`' columns (records in the CSR
    layout of `offsets`), zero where a subject has no record in a column; slot None (every
    subject the same records): each subject's amounts, a row."""
    n_subjects = offsets.size - 1
    if slot is None:
        return np.array(amounts, dtype=float).reshape(n_subjects, columns.shape[0])
    out = np.zeros((n_subjects, columns.shape[0]))
    out[np.repeat(np.arange(n_subjects), np.diff(offsets)), slot] = amounts  # one per (subject, column)
    return out


def frozen(values, dtype) -> np.ndarray:
    """`values` as a read-only 1-D array of `dtype`: itself where it already is one that nothing
    can change (read-only, over read-only memory it or its base owns), else a read-only copy."""
    base = values.base if isinstance(values, np.ndarray) else None
    if (
        isinstance(values, np.ndarray)
        and values.ndim == 1
        and values.dtype == np.dtype(dtype)
        and not values.flags.writeable
        and (
            base is None or (isinstance(base, np.ndarray) and base.base is None and not base.flags.writeable)
        )
    ):
        return values
    return readonly(values, dtype=dtype)
